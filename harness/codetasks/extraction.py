"""Getting the code out of a model's reply, shared by every code task.

`extract_code(reply, entry_point, prompt, needed)` returns the code to append to the task's
prompt and the list of decisions taken, which the task records with the sample:

1. ``<think>…</think>`` sections are removed (an unclosed one is dropped to the end).
2. The code is found: the text between ``[BEGIN]`` and ``[DONE]`` (the MBPP paper's
   delimiters); else the Python fenced blocks (```python, ```py, a bare ```, and an unclosed
   last fence, as a reply cut by max_tokens leaves it) -- joined in order when several parse,
   since helpers often sit in a block of their own and Python keeps the last definition; else,
   with no fence, the whole reply when it parses, or the run of lines that parses and defines
   the entry point (else the longest such run), prose around it dropped.
3. When the code defines the entry point, only what it needs is kept: the statements that
   bind the entry point, the names in ``needed`` (those the task's tests use) and, transitively,
   every name those statements use (imports, helpers, classes, constants), plus interpreter
   settings such as ``sys.setrecursionlimit``. Example calls, prints, asserts, the model's own
   tests and ``if __name__ == "__main__":`` blocks are dropped.
4. When it does not (the model wrote only the body): code that already continues the prompt
   (indented, and ``prompt + code`` parses) is kept verbatim; otherwise it is re-indented under
   the prompt's signature, so that ``prompt + code`` is the completed function.
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings
from collections.abc import Iterable

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_DELIMITED = re.compile(r"\[BEGIN\](.*?)(?:\[DONE\]|\Z)", re.DOTALL)
_FENCE_OPEN = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)
_FENCE_CLOSE = re.compile(r"^[ \t]*```[ \t]*$", re.MULTILINE)
_PYTHON_TAGS = {"", "python", "python3", "py", "py3"}
#: Top-level calls that configure the interpreter rather than exercise the code: kept.
_KEPT_CALLS = {"setrecursionlimit", "set_int_max_str_digits"}
#: Lines that may start a run of code in an unfenced reply.
_CODE_START = re.compile(r"^\s*(?:async\s+def|def|class|import|from\s+\S+\s+import|@)\b|^[ \t]+\S")


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _strip_think(reply: str, decisions: list[str]) -> str:
    stripped = _THINK.sub("", reply)
    if stripped != reply:
        decisions.append("removed <think> section(s)")
    return stripped


def _fenced_blocks(text: str) -> list[str]:
    """Python (or untagged) fenced blocks in order; an unclosed last fence runs to the end."""
    blocks: list[str] = []
    pos = 0
    while opening := _FENCE_OPEN.search(text, pos):
        start = opening.end() + 1
        closing = _FENCE_CLOSE.search(text, start)
        end = closing.start() if closing else len(text)
        if opening.group(1).lower() in _PYTHON_TAGS:
            blocks.append(text[start:end])
        pos = closing.end() if closing else len(text)
    return blocks


def parse_python(code: str) -> ast.Module | None:
    """The module's AST, or None when it does not parse (its warnings, such as invalid escape
    sequences in old code, are not shown)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(code)
        except (SyntaxError, ValueError):
            return None


def _parses_as_body(code: str) -> bool:
    return parse_python("def _body():\n" + textwrap.indent(textwrap.dedent(code), "    ")) is not None


def _parses(code: str) -> bool:
    """True if ``code`` parses as a module, or as a function body (a reply of only the body)."""
    return parse_python(code) is not None or _parses_as_body(code)


def _assignment_targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
        return [node.target]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [item.optional_vars for item in node.items if item.optional_vars]
    return []


def _bound_names(node: ast.AST) -> set[str]:
    """Names a top-level statement binds (descending into if/try/with/for blocks)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    names = {n.id for target in _assignment_targets(node) for n in ast.walk(target) if isinstance(n, ast.Name)}
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            names |= _bound_names(child)
        elif isinstance(child, ast.ExceptHandler):
            for stmt in child.body:
                names |= _bound_names(stmt)
    return names


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in _used_names(node.test)


def _is_kept_call(node: ast.stmt) -> bool:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in _KEPT_CALLS


def _binds(tree: ast.Module, name: str) -> bool:
    return any(name in _bound_names(node) for node in tree.body if not _is_main_guard(node))


def _defines(code: str, name: str) -> bool:
    tree = parse_python(code)
    if tree is not None:
        return _binds(tree, name)
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
    return "\n".join(lines[start : node.end_lineno])


def _keep_needed(code: str, roots: set[str], decisions: list[str]) -> str:
    """Keep the statements that bind ``roots`` and, transitively, the names they use."""
    tree = parse_python(code)
    if tree is None:
        decisions.append("code does not parse; kept as is")
        return code
    candidates = [node for node in tree.body if not _is_main_guard(node)]
    bound = {id(node): _bound_names(node) for node in candidates}
    configuring = [node for node in candidates if _is_kept_call(node)]
    needed = set(roots).union(*(_used_names(node) for node in configuring))
    kept, changed = {id(node) for node in configuring}, True
    while changed:
        changed = False
        for node in candidates:
            if id(node) not in kept and bound[id(node)] & needed:
                kept.add(id(node))
                needed |= _used_names(node)
                changed = True
    dropped = [node for node in tree.body if id(node) not in kept]
    if dropped:
        names = sorted(set().union(*(bound.get(id(n), set()) for n in dropped)))
        what = f" (unused definitions: {', '.join(names)})" if names else ""
        decisions.append(f"dropped {len(dropped)} top-level statement(s) the entry point does not need{what}")
    lines = code.split("\n")
    return "\n".join(_segment(lines, node) for node in tree.body if id(node) in kept) + "\n"


def _syntax_error_line(code: str, as_body: bool) -> int | None:
    """None if ``code`` parses (as a module, or as a function body), else the error's line."""
    source = "def _body():\n" + textwrap.indent(textwrap.dedent(code), "    ") if as_body else code
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except SyntaxError as exc:
        return max(1, (exc.lineno or 1) - as_body)
    except ValueError:
        return code.count("\n") + 1
    return None


def _longest_parsing_end(lines: list[str], start: int) -> int | None:
    """The end of the longest run ``lines[start:end]`` that parses, or None. A syntax error at
    line L of a run moves the next try to end just before L (the error is inside the run)."""
    as_body = lines[start][:1] in (" ", "\t")
    end = len(lines)
    while end > start:
        error_line = _syntax_error_line("\n".join(lines[start:end]), as_body)
        if error_line is None:
            return end
        end = start + error_line - 1 if error_line < end - start else end - 1
    return None


def _code_runs(text: str) -> list[str]:
    """Maximal runs of lines that parse as Python, each starting at a line that looks like code."""
    lines = text.split("\n")
    runs, start = [], 0
    while start < len(lines):
        end = _longest_parsing_end(lines, start) if _CODE_START.match(lines[start]) else None
        if end is None:
            start += 1
            continue
        runs.append("\n".join(lines[start:end]).strip("\n"))
        start = end
    return runs


def _continues(prompt: str, code: str) -> bool:
    """True if ``code`` is an indented body that completes ``prompt`` as it stands."""
    first = next((line for line in code.split("\n") if line.strip()), "")
    return bool(prompt.strip()) and first[:1] in (" ", "\t") and parse_python(prompt + code) is not None


def _find_code(text: str, entry_point: str, prompt: str, decisions: list[str]) -> str:
    delimited = _DELIMITED.search(text)
    if delimited:
        decisions.append("took the code between [BEGIN] and [DONE]")
        text = delimited.group(1)
    blocks = _fenced_blocks(text)
    if blocks:
        parsing = [b for b in blocks if parse_python(b) is not None]
        defining = [i for i, b in enumerate(blocks) if _defines(b, entry_point)]
        if defining and len(parsing) > 1 and parse_python("\n".join(parsing)) is not None:
            decisions.append(f"joined the {len(parsing)} parsing fenced blocks of {len(blocks)}; entry point defined in block {defining[-1] + 1}")
            return "\n".join(parsing)
        index = defining[-1] if defining else max(range(len(blocks)), key=lambda i: len(blocks[i]))
        decisions.append(f"took fenced block {index + 1} of {len(blocks)}")
        return blocks[index]
    if _continues(prompt, text):
        return text
    if _parses(text):
        decisions.append("no fence: the whole reply parses as Python (a module or a function body)")
        return text
    runs = _code_runs(text)
    if not runs:
        decisions.append("no code found")
        return ""
    defining = [r for r in runs if _defines(r, entry_point)]
    code = defining[-1] if defining else max(runs, key=len)
    decisions.append(f"no fence: kept the run of lines that parses as Python{' and defines the entry point' if defining else ''}, prose dropped")
    return code


def _as_body(code: str, prompt: str, decisions: list[str]) -> str:
    """Make ``prompt + result`` the completed function from a reply holding only its body."""
    if _continues(prompt, code):
        decisions.append("reply continues the prompt (an indented body): used verbatim")
        return code if code.endswith("\n") else code + "\n"
    body = textwrap.dedent(code).strip("\n")
    indent = "    "
    for line in reversed(prompt.split("\n")):
        if line.strip():
            indent = line[: len(line) - len(line.lstrip())] or indent
            break
    decisions.append("reply has no definition of the entry point: used as the body under the prompt's signature")
    return textwrap.indent(body, indent) + "\n"


def extract_code(reply: str, entry_point: str, prompt: str = "", needed: Iterable[str] = ()) -> tuple[str, list[str]]:
    """(code, decisions). ``needed``: further names the task's tests use from the code."""
    decisions: list[str] = []
    text = _strip_think(_normalize(reply), decisions)
    code = _find_code(text, entry_point, prompt, decisions)
    if not code.strip():
        return "", decisions
    if _defines(code, entry_point):
        return _keep_needed(textwrap.dedent(code), {entry_point, *needed}, decisions), decisions
    if not prompt.strip():
        decisions.append("code does not define the entry point and there is no signature to attach it to: kept as is")
        return textwrap.dedent(code).strip("\n") + "\n", decisions
    return _as_body(code, prompt, decisions), decisions
