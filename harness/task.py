"""The Task base class: a benchmark, its samples and its scoring."""

from __future__ import annotations

import abc
import hashlib
import json
from typing import TYPE_CHECKING, Any, ClassVar

from harness.types import Answer, Outcome, Sample

if TYPE_CHECKING:
    from harness.context import SampleContext


class Task(abc.ABC):
    """Subclasses set ``name``, ``kind`` and ``version`` and implement `samples` and `score`.
    ``options`` are the run's ``--task-opt K=V`` pairs over harness.toml's ``[tasks.NAME]`` table
    (values as text); validate them in ``__init__``, cheaply (no data loading: it also checks
    harness.toml on every command). Store file paths absolute in ``self.options``: run.json
    records them, and ``--resume`` may run from another folder. A task of kind ``dialog`` is a
    `harness.dialog.DialogTask`: it plays the episode itself."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "code"
    version: ClassVar[str] = "1"
    #: Model roles the task itself calls (a simulated user, a judge); ``--role ROLE=SPEC`` may
    #: give each its own backend. Their cost is recorded per role, not as the system's.
    roles: ClassVar[tuple[str, ...]] = ()
    #: A suite names other tasks (``tau2`` -> the three tau2 domains): ``harness run --task
    #: SUITE`` runs each member in turn, one run folder each, and prints one summary at the end.
    members: ClassVar[tuple[str, ...]] = ()
    #: Options that harness.toml may give as tables (``[tasks.NAME.KEY]``); any other sub-table is refused.
    option_tables: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: dict[str, str]) -> None:
        self.options = dict(options)

    @abc.abstractmethod
    def samples(self) -> list[Sample]:
        """Every sample of the task as configured, in a stable order (ids unique)."""

    @abc.abstractmethod
    async def score(self, sample: Sample, answer: Answer, ctx: SampleContext) -> Outcome:
        """The verdict on ``answer``; a failing answer is an Outcome, never an exception.
        Raise SandboxError/BackendError only when the infrastructure failed."""

    def dataset_identity(self) -> dict[str, Any]:
        """Source, version, config, split, count, sha256 of the problems: for run.json."""
        return {"count": len(self.samples()), "sha256": problems_sha256(self.samples())}


def problems_sha256(samples: list[Sample]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of the samples' inputs, by id."""
    canonical = json.dumps(
        [{"id": s.id, "prompt": s.prompt, "input": s.input} for s in samples],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
