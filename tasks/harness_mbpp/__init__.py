"""Task ``mbpp``: Mostly Basic Python Problems (Austin et al. 2021), configs ``full`` (974) and
``sanitized`` (427, hand-verified), scored by executing each problem's asserts.

Options (``--task-opt``):

- ``config=sanitized|full`` (default sanitized); ``split=test|validation|train|prompt|all``
  (default test). The paper's splits are task-id ranges: prompt 1-10, test 11-510,
  validation 511-600, train 601-974; the sanitized set inherits them.
- Data: by default the original files shipped with this plugin (``data/``, CC-BY-4.0, see
  ``data/PROVENANCE.md``; their sha256 is checked at every load), so nothing is downloaded;
  ``source=hf`` loads them through ``datasets`` (hub id ``google-research-datasets/mbpp``);
  ``path=FILE`` reads a local ``mbpp.jsonl`` (full) or ``sanitized-mbpp.json``, or a folder
  holding them.
- ``show_tests=all|first|none`` (default all): the asserts shown in the prompt, in the paper's
  format; with ``none`` the prompt names the function instead.
- ``challenge=true|false`` (default false): also run ``challenge_test_list`` (full config only).

The test program is the sanitized set's ``test_imports``, then the answer, then the full set's
``test_setup_code`` (it builds objects from classes the answer defines), then every assert.
"""

from __future__ import annotations

import ast
import builtins
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from harness import ConfigError, Sample, hookimpl
from harness.codetasks.datafiles import (
    load_hub,
    read_records,
    read_shipped,
    require_fields,
)
from harness.codetasks.extraction import parse_python
from harness.codetasks.task import CodeTask, Problem

HF_ID = "google-research-datasets/mbpp"
SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
FILES = {"full": "mbpp.jsonl", "sanitized": "sanitized-mbpp.json"}
#: The copies shipped in ``data/``: config -> sha256 of the file (data/PROVENANCE.md lists the same).
SHIPPED = {
    "full": "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
    "sanitized": "ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9",
}
DATA_DIR = Path(str(files(__name__) / "data"))
OTHER_SOURCES = "or load MBPP with --task-opt source=hf (the hub) or path=FILE (a local copy)"
#: Per config: the field holding the problem statement, and the fields a record must have.
TEXT_FIELD = {"full": "text", "sanitized": "prompt"}
REQUIRED = {"full": {"task_id", "text", "code", "test_list", "test_setup_code", "challenge_test_list"}, "sanitized": {"task_id", "prompt", "code", "test_list", "test_imports"}}
HEADER = "You are an expert Python programmer, and here is your task: {text}"
ANSWER_FORMAT = "\n\nReply with your Python code in one ```python code block."

#: Sample id -> why the dataset's own reference solution fails its tests, per config; found
#: with `harness check-task mbpp --task-opt config=… split=all` and listed in the README.
KNOWN_BROKEN: dict[str, dict[str, str]] = {"full": {}, "sanitized": {}}


def _called_names(source: str) -> list[str]:
    """Names of the functions called in ``source``, outermost first."""
    tree = parse_python(source)
    nodes = ast.walk(tree) if tree else []
    return [node.func.id for node in nodes if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]


def _used_names(source: str) -> set[str]:
    tree = parse_python(source)
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} if tree else set()


def _defined_names(source: str) -> set[str]:
    tree = parse_python(source)
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))} if tree else set()


def entry_point_of(problem: Problem) -> str:
    """The function the first assert calls: one the reference defines, else any non-builtin."""
    called = _called_names(problem["test_list"][0])
    defined = _defined_names(problem["code"])
    for name in called:
        if name in defined:
            return name
    for name in called:
        if not hasattr(builtins, name):
            return name
    raise ConfigError(f"task mbpp: cannot tell which function problem {problem['task_id']} tests from {problem['test_list'][0]!r}")


def _normalize(record: dict[str, Any], config: str) -> Problem:
    """One shape for both configs (absent fields empty), so the scorer needs no branches."""
    return {
        "task_id": int(record["task_id"]),
        "text": record[TEXT_FIELD[config]],
        "code": record["code"],
        "test_list": list(record["test_list"]),
        "test_imports": list(record.get("test_imports") or []),
        "test_setup_code": record.get("test_setup_code") or "",
        "challenge_test_list": list(record.get("challenge_test_list") or []),
    }


def _truthy(value: str, key: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ConfigError(f"task mbpp: --task-opt {key}={value!r}; use true or false")


class MBPP(CodeTask):
    name: ClassVar[str] = "mbpp"
    version: ClassVar[str] = "1"
    OPTIONS: ClassVar[dict[str, tuple[str, ...] | None]] = {
        "config": tuple(FILES),
        "split": (*SPLITS, "all"),
        "source": ("package", "hf"),
        "path": None,
        "show_tests": ("all", "first", "none"),
        "challenge": None,
    }

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self.config = options.get("config", "sanitized")
        self.split = options.get("split", "test")
        self.show_tests = options.get("show_tests", "all")
        self.challenge = _truthy(options.get("challenge", "false"), "challenge")
        if self.challenge and self.config != "full":
            raise ConfigError("task mbpp: challenge tests exist only in the full set; add config=full or drop challenge=true")
        if "source" in options and "path" in options:
            raise ConfigError("task mbpp: source= and path= both say where the data comes from; give one of them")

    # --- data ---------------------------------------------------------------------------------

    def _from_file(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        path = Path(self.options["path"]).expanduser()
        if path.is_dir():
            path = path / FILES[self.config]
        records = read_records(path, self.name)
        other = "full" if self.config == "sanitized" else "sanitized"
        if records and TEXT_FIELD[self.config] not in records[0] and TEXT_FIELD[other] in records[0]:
            raise ConfigError(f"task mbpp: {path} holds the {other} set; add --task-opt config={other} or give {FILES[self.config]}")
        return records, {"source": f"file:{path}"}

    def _shipped(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        path = DATA_DIR / FILES[self.config]
        records = read_shipped(path, SHIPPED[self.config], self.name, OTHER_SOURCES)
        return records, {"source": f"package:harness_mbpp/data/{FILES[self.config]}", "file_sha256": SHIPPED[self.config]}

    def load(self) -> tuple[dict[str, Problem], dict[str, Any]]:
        splits = list(SPLITS) if self.split == "all" else [self.split]
        if "path" in self.options:
            records, identity = self._from_file()
        elif self.options.get("source") == "hf":
            records, identity = load_hub(HF_ID, self.config, splits, self.name, "or drop source=hf to use the copy shipped with the task, or give a local copy with --task-opt path=FILE")
        else:
            records, identity = self._shipped()
        require_fields(records, REQUIRED[self.config], self.name, identity["source"])
        ranges = [SPLITS[s] for s in splits]
        problems = sorted((_normalize(r, self.config) for r in records), key=lambda p: p["task_id"])
        chosen = {str(p["task_id"]): p for p in problems if any(lo <= p["task_id"] <= hi for lo, hi in ranges)}
        return chosen, identity | {"config": self.config, "split": self.split}

    def split_of(self, task_id: int) -> str:
        return next(name for name, (lo, hi) in SPLITS.items() if lo <= task_id <= hi)

    # --- prompts --------------------------------------------------------------------------------

    def prompt_for(self, problem: Problem) -> str:
        """The paper's prompt (description, then the asserts the code must pass), asking for a
        fenced answer; with show_tests=none the function is named instead."""
        header = HEADER.format(text=problem["text"].strip())
        tests = problem["test_list"] if self.show_tests == "all" else problem["test_list"][:1]
        if self.show_tests == "none":
            return f"{header} Name the function `{self.entry_point(problem)}`.{ANSWER_FORMAT}"
        shown = "\n".join(tests)
        return f"{header} Your code should pass {'these tests' if len(tests) > 1 else 'this test'}:\n\n{shown}{ANSWER_FORMAT}"

    def make_sample(self, sample_id: str, problem: Problem) -> Sample:
        entry_point = self.entry_point(problem)
        tags = (self.split_of(problem["task_id"]), self.config, entry_point)
        return Sample(self.name, sample_id, self.prompt_for(problem), {"text": problem["text"], "entry_point": entry_point, "tests_shown": self.show_tests}, tags)

    # --- scoring --------------------------------------------------------------------------------

    def entry_point(self, problem: Problem) -> str:
        return entry_point_of(problem)

    def _tests(self, problem: Problem) -> list[str]:
        return problem["test_list"] + (problem["challenge_test_list"] if self.challenge else [])

    def needed_names(self, problem: Problem) -> set[str]:
        return set().union(*(_used_names(t) for t in [problem["test_setup_code"], *self._tests(problem)]))

    def reference(self, problem: Problem) -> str:
        return problem["code"]

    def test_program(self, problem: Problem, code: str) -> str:
        parts = [*problem["test_imports"], code, problem["test_setup_code"], *self._tests(problem)]
        return "\n".join(part for part in parts if part.strip()) + "\n"

    def known_broken(self) -> dict[str, str]:
        return {k: v for k, v in KNOWN_BROKEN[self.config].items() if k in self.problems}


@hookimpl
def harness_add_tasks() -> list[type]:
    return [MBPP]
