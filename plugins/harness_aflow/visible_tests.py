"""The tests a problem's statement shows: what AFlow's ``Test`` operator may run.

Only what the system is shown counts (never the task's hidden tests): ``assert`` lines of the
prompt (MBPP lists three), doctest examples (``>>> call`` then the expected value, as most
HumanEval docstrings give them), and, when neither is there, example lines of the form
``name(args) == value`` (or ``➞``, ``=>``, ``->``, ``→``, ``should return``) for the entry
point. An example becomes ``assert CALL == VALUE`` when both sides are Python expressions that
use no name but the entry point and builtins (an example written ``f(a) == true`` is prose, not
a test). HumanEval's statements yield tests for 112 of its 164 problems (HumanEval/47's example is itself wrong:
its canonical solution fails it).
"""

from __future__ import annotations

import ast
import builtins
import re

_ARROW = re.compile(r"^\s*(?P<call>[A-Za-z_]\w*\(.*\))\s*(?:==|➞|=>|->|→|should return|returns?)\s*(?P<want>.+?)\s*$")
_CLOSERS = ('"""', "'''", "```")


def _expression(text: str) -> ast.Expression | None:
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None


def _self_contained(test: str, entry_point: str) -> bool:
    """Whether ``test`` parses and uses no name but ``entry_point`` and builtins."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return False
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return all(name == entry_point or hasattr(builtins, name) for name in names)


def doctest_examples(text: str) -> list[tuple[str, str]]:
    """(source, expected) of every ``>>>`` example: continuation lines (``...``) join the
    source; the lines after it, up to a blank line, the next example or the end of the
    docstring, are the expected value."""
    lines = text.splitlines()
    examples = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        i += 1
        if not stripped.startswith(">>>"):
            continue
        source = [stripped[3:].strip()]
        while i < len(lines) and lines[i].strip().startswith("..."):
            source.append(lines[i].strip()[3:].strip())
            i += 1
        expected = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith((">>>", *_CLOSERS)):
            expected.append(lines[i].strip())
            i += 1
        examples.append(("\n".join(source), " ".join(expected)))
    return examples


def visible_tests(prompt: str, entry_point: str) -> list[str]:
    """The statement's tests as ``assert`` statements, in order, without duplicates."""
    tests = []
    for line in prompt.splitlines():
        stripped = line.strip()
        if stripped.startswith("assert ") and _expression(stripped[len("assert ") :]) is not None:
            tests.append(stripped)
    for source, expected in doctest_examples(prompt):
        test = f"assert {source} == {expected}"
        if expected and _expression(source) and _expression(expected) and _self_contained(test, entry_point):
            tests.append(test)
    if not tests:
        for line in prompt.splitlines():
            match = _ARROW.match(line)
            if match and match.group("call").startswith(f"{entry_point}("):
                test = f"assert {match.group('call')} == {match.group('want')}"
                if _expression(match.group("call")) and _expression(match.group("want")) and _self_contained(test, entry_point):
                    tests.append(test)
    return list(dict.fromkeys(tests))
