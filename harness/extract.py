"""Getting the code out of a model's reply, shared by every code task.

`extract_code(reply, entry_point, prompt)` returns the code to append to the task's prompt and
a list of the decisions taken, which the task records with the sample:

1. ``<think>…</think>`` sections are removed (an unclosed one is dropped to the end).
2. Fenced blocks (```python, ```py, ``` …) are collected; the first that defines the entry point
   wins, else the longest. With no fence, the lines that parse as Python are kept (prose dropped).
3. When the code defines the entry point, it is kept with the imports, helper functions, classes
   and constants of the reply (unused top-level statements such as example calls are dropped).
4. When it does not (the model wrote only the body), the body is re-indented under the prompt's
   signature, so that ``prompt + code`` is the completed function.
"""

from __future__ import annotations

import ast
import re
import textwrap

_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_PYTHON_TAGS = {"", "python", "python3", "py", "py3"}


def _strip_think(reply: str, decisions: list[str]) -> str:
    stripped = _THINK.sub("", reply)
    if stripped != reply:
        decisions.append("removed <think> section(s)")
    return stripped


def _fenced_blocks(text: str) -> list[str]:
    return [body for tag, body in _FENCE.findall(text) if tag.lower() in _PYTHON_TAGS]


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _parses(code: str) -> bool:
    """True if ``code`` parses as a module, or as a function body (a reply of only the body)."""
    for candidate in (code, "def _body():\n" + textwrap.indent(textwrap.dedent(code), "    ")):
        try:
            ast.parse(candidate)
        except SyntaxError:
            continue
        return True
    return False


def _longest_parsing_run(text: str) -> str:
    """The longest run of consecutive lines that parses as Python (drops prose around code)."""
    lines = text.splitlines()
    best = ""
    for start in range(len(lines)):
        if not lines[start].strip():
            continue
        for end in range(len(lines), start, -1):
            chunk = "\n".join(lines[start:end])
            if len(chunk) <= len(best):
                break
            if _parses(chunk) and any(ch.isalpha() for ch in chunk):
                best = chunk
                break
    return best


def _keep_definitions(code: str, decisions: list[str]) -> str:
    """Keep imports, defs, classes and assignments; drop example calls, prints and asserts."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        decisions.append("code does not parse; kept as is")
        return code
    kept = [
        node
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign))
    ]
    if len(kept) != len(tree.body):
        decisions.append(f"dropped {len(tree.body) - len(kept)} top-level statement(s) that are not definitions or imports")
    lines = code.splitlines()
    parts = []
    for node in kept:
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
        parts.append("\n".join(lines[start : node.end_lineno]))
    return "\n".join(parts) + "\n"


def _as_body(code: str, prompt: str, decisions: list[str]) -> str:
    """Indent a bare function body so that prompt + body is a complete function."""
    body = textwrap.dedent(code).strip("\n")
    indent = "    "
    for line in reversed(prompt.splitlines()):
        if line.strip():
            indent = line[: len(line) - len(line.lstrip())] or indent
            break
    decisions.append("reply has no definition of the entry point: used as the body under the prompt's signature")
    return textwrap.indent(body, indent) + "\n"


def extract_code(reply: str, entry_point: str, prompt: str = "") -> tuple[str, list[str]]:
    decisions: list[str] = []
    text = _strip_think(reply, decisions)
    blocks = _fenced_blocks(text)
    if blocks:
        defining = [b for b in blocks if _defines(b, entry_point)]
        code = defining[0] if defining else max(blocks, key=len)
        decisions.append(f"took fenced block {blocks.index(code) + 1} of {len(blocks)}")
    elif _parses(text):
        code = text
        decisions.append("no fence: the whole reply parses as Python (a module or a function body)")
    else:
        code = _longest_parsing_run(text)
        decisions.append("no fence: kept the longest run of lines that parses as Python" if code else "no code found")
    if _defines(code, entry_point):
        return _keep_definitions(code, decisions), decisions
    if not code.strip():
        return "", decisions
    return _as_body(code, prompt, decisions), decisions
