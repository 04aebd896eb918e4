"""Extraction on a table of realistic model replies."""

import textwrap

import pytest

from harness.codetasks.extraction import extract_code

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


# --- a table of realistic replies: (reply, entry point, prompt, needed names, call, expected) ---

MBPP_REPLIES = {
    "paper delimiters": ("[BEGIN]\ndef square(x):\n    return x * x\n[DONE]\nsome trailing text", "square(4)", 16),
    "unclosed fence (cut by max_tokens)": ("Here:\n```python\ndef square(x):\n    return x * x\n", "square(3)", 9),
    "helper in its own block": (
        "First a helper:\n```python\ndef _sq(x):\n    return x * x\n```\nThen the function:\n```python\ndef square(x):\n    return _sq(x)\n```",
        "square(5)",
        25,
    ),
    "revised answer in a later block": (
        "```python\ndef square(x):\n    return x + x\n```\nOops, fixed:\n```python\ndef square(x):\n    return x * x\n```",
        "square(3)",
        9,
    ),
    "own tests with pytest and unittest dropped": (
        (
            "```python\nimport pytest\nimport unittest\n\ndef square(x):\n    return x * x\n\n"
            "def test_square():\n    assert square(2) == 4\n\nclass T(unittest.TestCase):\n    def test(self):\n        self.assertEqual(square(3), 9)\n\n"
            "if __name__ == '__main__':\n    unittest.main()\n```"
        ),
        "square(6)",
        36,
    ),
    "input-driven main dropped": ("```python\ndef square(x):\n    return x * x\n\nn = int(input())\nprint(square(n))\n```", "square(7)", 49),
    "recursion limit kept with its import": (
        "```python\nimport sys\nsys.setrecursionlimit(5000)\n\ndef square(x):\n    return x if x == 0 else square(x - 1) + 2 * x - 1\n```",
        "(__import__('sys').getrecursionlimit(), square(2000))",
        (5000, 4000000),
    ),
    "CRLF line endings": ("```python\r\nimport math\r\ndef square(x):\r\n\treturn int(math.pow(x, 2))\r\n```", "square(3)", 9),
    "lambda assignment": ("```python\nsquare = lambda x: x ** 2\n```", "square(8)", 64),
    "constants the function uses": ("```python\nPOWER = 2\nUNUSED = open\n\ndef square(x):\n    return x ** POWER\n```", "square(9)", 81),
    "unfenced with prose and a usage example": (
        "Sure, here's a simple solution.\n\ndef square(x):\n    return x * x\n\nFor example, square(3) returns 9.",
        "square(11)",
        121,
    ),
    "think with a draft, then a chatty answer": (
        "<think>\nLet me draft:\n```python\ndef square(x): return 0\n```\nno...\n</think>\n\nThe answer is:\n\n```py\ndef square(x):\n    return x * x\n```\nHope this helps!",
        "square(12)",
        144,
    ),
    "markdown block indented in a list": ("1. Code:\n\n   ```python\n   def square(x):\n       return x * x\n   ```\n", "square(2)", 4),
}


@pytest.mark.parametrize("name", MBPP_REPLIES)
def test_mbpp_style_replies(name):
    reply, call, expected = MBPP_REPLIES[name]
    code, decisions = extract_code(reply, "square")
    assert decisions
    namespace = {}
    exec(code, namespace)
    assert eval(call, namespace) == expected, code


def test_helpers_only_dropped_when_unused():
    reply = "```python\nimport pytest\nimport math\n\ndef root(x):\n    return math.sqrt(x)\n\ndef test_root():\n    assert root(4) == 2\n```"
    code, decisions = extract_code(reply, "root")
    assert "pytest" not in code and "test_root" not in code and "import math" in code
    assert any("unused definitions: pytest, test_root" in d for d in decisions)


def test_names_the_tests_need_are_kept():
    """MBPP's test_setup_code builds trees from a class the answer defines."""
    reply = "```python\nclass Node:\n    def __init__(self, v):\n        self.v = v\n\ndef value(n):\n    return n.v\n```"
    code, _ = extract_code(reply, "value")
    assert "class Node" not in code
    code, _ = extract_code(reply, "value", needed={"Node"})
    namespace = {}
    exec(code, namespace)
    assert namespace["value"](namespace["Node"](3)) == 3


def test_indented_body_with_trailing_helper_is_a_continuation():
    """human-eval style completion: the body, then a top-level helper it calls."""
    reply = "    return _twice(a) + b - a\n\n\ndef _twice(x):\n    return 2 * x\n"
    code, decisions = extract_code(reply, "add", PROMPT)
    assert code == reply and any("verbatim" in d for d in decisions)
    assert run(PROMPT, code) == 5


def test_whole_prompt_repeated_with_imports():
    reply = "```python\nfrom typing import List\n\n\ndef add(a: int, b: int) -> int:\n    \"\"\"Add two numbers.\"\"\"\n    return sum([a, b])\n```"
    code, _ = extract_code(reply, "add", PROMPT)
    assert code.startswith("def add(a: int, b: int)") and run(PROMPT, code) == 5


def test_syntax_error_is_kept_for_the_tests_to_report():
    code, decisions = extract_code("```python\ndef add(a, b):\n    return a +\n```", "add", PROMPT)
    assert "return a +" in code and "code does not parse; kept as is" in decisions


def test_long_prose_is_fast():
    """Many indented prose lines must not make the line-run search quadratic in parses."""
    import time

    reply = "\n".join(f"  - point {i}: it (is" for i in range(400)) + "\ndef add(a, b):\n    return a + b\n"
    started = time.monotonic()
    code, _ = extract_code(reply, "add", PROMPT)
    assert time.monotonic() - started < 5 and run(PROMPT, code) == 5
