"""Extraction on a table of realistic model replies."""

import textwrap

import pytest

from harness.extract import extract_code

PROMPT = 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add two numbers."""\n'


def run(prompt, code, call="add(2, 3)"):
    namespace = {}
    exec(prompt + ("\n" if not code.startswith((" ", "\t")) else "") + code, namespace)
    return eval(call, namespace)


CASES = {
    "chatty fenced": "Sure! Here is the function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt adds the numbers.",
    "fence without tag": "```\ndef add(a, b):\n    return a + b\n```",
    "py tag": "```py\ndef add(a, b):\n    return a + b\n```",
    "unfenced with prose": "Here you go:\ndef add(a, b):\n    return a + b\nThis returns the sum.",
    "think then answer": "<think>maybe ```python\ndef add(a, b): return 0\n```</think>\n```python\ndef add(a, b):\n    return a + b\n```",
    "several blocks, the defining one wins": "Usage:\n```python\nprint(add(1, 2))\n```\nCode:\n```python\ndef add(a, b):\n    return a + b\n```",
    "example calls dropped": "```python\ndef add(a, b):\n    return a + b\n\nprint(add(1, 2))\nassert add(1, 1) == 2\n```",
    "helper and import kept": "```python\nimport operator\n\ndef _plus(x, y):\n    return operator.add(x, y)\n\ndef add(a, b):\n    return _plus(a, b)\n```",
    "body only, indented": "    return a + b\n",
    "body only, fenced at column 0": "```python\nreturn a + b\n```",
    "unclosed think": "```python\ndef add(a, b):\n    return a + b\n```\n<think>I wonder if",
}


@pytest.mark.parametrize("name", CASES)
def test_extracted_code_runs(name):
    code, decisions = extract_code(CASES[name], "add", PROMPT)
    assert decisions, "every extraction records what it decided"
    assert run(PROMPT, code) == 5


def test_decisions_are_recorded():
    _, decisions = extract_code(CASES["think then answer"], "add", PROMPT)
    assert "removed <think> section(s)" in decisions
    _, decisions = extract_code(CASES["body only, indented"], "add", PROMPT)
    assert any("continues the prompt" in d for d in decisions)
    _, decisions = extract_code(CASES["body only, fenced at column 0"], "add", PROMPT)
    assert any("body under the prompt's signature" in d for d in decisions)
    _, decisions = extract_code(CASES["example calls dropped"], "add", PROMPT)
    assert any("dropped 2 top-level statement" in d for d in decisions)


def test_nothing_usable():
    code, decisions = extract_code("I cannot help with that.", "add", PROMPT)
    assert code == "" and decisions[-1] == "no code found"


def test_other_language_blocks_are_ignored():
    reply = textwrap.dedent("""\
        ```bash
        pip install thing
        ```
        ```python
        def add(a, b):
            return a + b
        ```""")
    code, _ = extract_code(reply, "add", PROMPT)
    assert "pip install" not in code and run(PROMPT, code) == 5
