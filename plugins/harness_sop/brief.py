"""What the company is asked to build: a benchmark function (HumanEval, MBPP) or a small project.

For a benchmark sample the deliverable is one file, ``solution.py``, defining the task's entry
point with the task's signature. HumanEval gives both (``sample.input``: ``entry_point``,
``prompt``) and its prompt is the start of the module, exactly as the scorer assembles it; for
MBPP-like tasks with no ``entry_point`` the name comes from the asserts the prompt shows.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from harness import Sample
from harness_sop.examples import (
    Example,
    entry_point_from_asserts,
    from_asserts,
    from_docstring,
)

SOLUTION_FILE = "solution.py"


def _signature(preamble: str, entry_point: str) -> str:
    """``def name(args) -> returns`` from the prompt's code, when it parses."""
    try:
        tree = ast.parse(preamble)
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            return f"def {node.name}({ast.unparse(node.args)}){returns}"
    return ""


@dataclass(frozen=True)
class Brief:
    requirement: str  # what the user asked for, as the task states it
    entry_point: str | None = None  # None: a free-form project (company mode)
    signature: str = ""
    preamble: str = ""  # code the solution module starts with (HumanEval's prompt)
    examples: tuple[Example, ...] = ()

    @property
    def benchmark(self) -> bool:
        return self.entry_point is not None

    def contract(self) -> str:
        """The deliverable, stated for every role's prompt."""
        if not self.benchmark:
            return "Deliver a small Python project with tests."
        shape = f"`{self.signature}`" if self.signature else f"`{self.entry_point}` called exactly as in the examples"
        return f"Deliver one file, {SOLUTION_FILE}, that defines the function {shape}."

    @classmethod
    def from_sample(cls, sample: Sample) -> Brief:
        preamble = sample.input.get("prompt", "") if "entry_point" in sample.input else ""
        entry_point = sample.input.get("entry_point") or entry_point_from_asserts(sample.prompt)
        if entry_point is None:
            return cls(sample.prompt)
        examples = from_docstring(preamble, entry_point) if preamble else from_asserts(sample.prompt)
        return cls(sample.prompt, entry_point, _signature(preamble, entry_point), preamble, tuple(examples))

    @classmethod
    def from_idea(cls, idea: str) -> Brief:
        return cls(idea)
