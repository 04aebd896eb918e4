"""The examples a task statement shows, turned into checks QA can run.

HumanEval docstrings show ``>>> f(x)`` followed by the expected value, or lines such as
``f(x) == y`` / ``f(x) ➞ y`` / ``f(x) returns y``; MBPP prompts show ``assert f(x) == y``. These are
part of the public statement (never the task's hidden tests), so running them is fair game.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

_ARROW = re.compile(r"^(?P<call>.+?\))\s*(?:==>|==|➞|->|=>|\bshould return\b|\breturns?\b)\s*(?P<expected>.+?)\.?$")


@dataclass(frozen=True)
class Example:
    call: str  # a Python expression calling the function
    expected: str  # a Python expression (the value the statement promises)


def _checkable(text: str, allowed: set[str]) -> bool:
    """True when ``text`` is an expression that names nothing but builtins and ``allowed``
    (prose such as ``fib(n) returns the n-th number`` or ``19 - 5 - 6 = 8`` is not)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return all(hasattr(builtins, n) or n in allowed for n in names)


def _calls(expression: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\s*\(", expression) is not None


def from_docstring(prompt: str, entry_point: str) -> list[Example]:
    """``>>> call`` + expected-output line, and ``call <arrow> expected`` lines."""
    lines = [line.strip() for line in prompt.splitlines()]
    found: list[Example] = []
    for i, line in enumerate(lines):
        if line.startswith(">>>"):
            call = line[3:].strip()
            expected = lines[i + 1] if i + 1 < len(lines) else ""
            if expected.startswith(">>>") or not expected:
                continue
        elif match := _ARROW.match(line.lstrip("#*- ")):
            call, expected = match.group("call"), match.group("expected")
        else:
            continue
        expected = expected.rstrip(",")
        if _calls(call, entry_point) and _checkable(call, {entry_point}) and _checkable(expected, set()):
            found.append(Example(call, expected))
    return list(dict.fromkeys(found))


def _assert_lines(prompt: str) -> list[ast.Assert]:
    asserts = []
    for line in prompt.splitlines():
        if line.strip().startswith("assert "):
            try:
                node = ast.parse(line.strip()).body[0]
            except SyntaxError:
                continue
            asserts.append(node)
    return asserts


def from_asserts(prompt: str) -> list[Example]:
    """``assert call == expected`` lines (MBPP); other asserts become ``call`` checked for truth."""
    found = []
    for node in _assert_lines(prompt):
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            found.append(Example(ast.unparse(test.left), ast.unparse(test.comparators[0])))
        else:
            found.append(Example(ast.unparse(test), "True"))
    return found


def entry_point_from_asserts(prompt: str) -> str | None:
    """The first function the prompt's asserts call that is not a builtin."""
    for node in _assert_lines(prompt):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and not hasattr(builtins, sub.func.id):
                return sub.func.id
    return None


_EXPECT = '''
def _expect(call, expected):
    got = eval(call, globals())
    want = eval(expected, globals())
    close = isinstance(got, float) and isinstance(want, (int, float)) and abs(got - want) <= 1e-6 * max(1.0, abs(want))
    if not (got == want or close):
        raise AssertionError(f"{call} returned {got!r}; the task statement expects {expected}")
'''


def examples_suite(examples: list[Example]) -> str:
    """A test module with one ``test_example_N`` per example."""
    tests = [f"def test_example_{i}():\n    _expect({e.call!r}, {e.expected!r})\n" for i, e in enumerate(examples, 1)]
    return _EXPECT + "\n\n" + "\n\n".join(tests)
