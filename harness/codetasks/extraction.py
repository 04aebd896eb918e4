"""Getting the code out of a model's reply, shared by every code task.

`extract_code(reply, entry_point, prompt, needed)` returns the code to append to the task's
prompt and the list of decisions taken, which the task records with the sample:

1. ``<think>…</think>`` sections are removed (an unclosed one is dropped to the end).
2. The code is found: the text between ``[BEGIN]`` and ``[DONE]`` (the MBPP paper's
   delimiters); else the Python (or untagged) fenced blocks, found by CommonMark's rules
   (harness.codetasks.fences: backticks or tildes, a closing fence at least as long as the opening one,
   an unclosed fence running to the end, fences in lists and quotes, a fence opened at the end
   of a line of prose). A reply that starts with code and only closes a fence has that code as
   its first block. When a block defines the entry point, the blocks that parse are joined in
   order (helpers often sit in a block of their own, and Python keeps the last definition), else
   the last defining block is taken; with none, the last block that reads as a function's body
   (it returns or yields), else the longest. Without a fence: the whole reply when it parses,
   else the runs of lines that parse, prose between them dropped, joined when they parse
   together. Interpreter-session lines (``>>> f(1)`` and the output after them) in code that
   does not parse are turned back into code.
3. When the code defines the entry point, only what it needs is kept (harness.codetasks.pruning): the
   statements that bind or build the state of the names the tests use, transitively; driver
   code (example calls, prints of results, asserts, the model's tests, input-reading code,
   ``if __name__ == "__main__":`` blocks) is dropped.
4. When it does not (the model wrote only the body): code that already continues the prompt
   (indented, and ``prompt + code`` parses) is kept verbatim; otherwise it is re-indented under
   the prompt's signature, so that ``prompt + code`` is the completed function.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import warnings
from collections.abc import Iterable

from harness.codetasks.fences import FencedBlock, fenced_blocks
from harness.codetasks.pruning import (
    bound_names,
    is_main_guard,
    needed_statements,
    source_segment,
)

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_DELIMITED = re.compile(r"\[BEGIN\](.*?)(?:\[DONE\]|\Z)", re.DOTALL)
#: Info-string languages read as Python (``pycon``: an interpreter session).
_PYTHON_TAGS = {"", "python", "python3", "py", "py3", "pycon"}
#: Lines that may start a run of code in an unfenced reply.
_CODE_START = re.compile(r"^\s*(?:async\s+def|def|class|import|from\s+\S+\s+import|@)\b|^[ \t]+\S")
#: An interpreter session's prompts: ``>>>`` starts a statement, ``...`` continues it.
_SESSION_PROMPT = re.compile(r"^(?:>>>|\.\.\.)(?: |$)")


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _strip_think(reply: str, decisions: list[str]) -> str:
    stripped = _THINK.sub("", reply)
    if stripped != reply:
        decisions.append("removed <think> section(s)")
    return stripped


@functools.lru_cache(maxsize=256)
def parse_python(code: str) -> ast.Module | None:
    """The module's AST, or None when it does not parse (its warnings, such as invalid escape
    sequences in old code, are not shown). Cached: extraction parses the same code several
    times; callers must not change the tree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(code)
        except (SyntaxError, ValueError):
            return None


# --- reading code ------------------------------------------------------------------------------


def _is_comment_or_blank(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _dedent(code: str) -> str:
    """``code`` without the indentation its code lines share; a comment line with less
    indentation (``# Solution`` at column 0 above an indented body) goes to column 0."""
    lines = code.split("\n")
    prefix = os.path.commonprefix([line[: len(line) - len(line.lstrip())] for line in lines if not _is_comment_or_blank(line)])
    return "\n".join(line[len(prefix) :] if line.startswith(prefix) else line.lstrip() for line in lines)


def _as_function(body: str) -> str:
    return "def _body():\n" + "\n".join("    " + line for line in _dedent(body).split("\n"))


def _parses(code: str) -> bool:
    """True if ``code`` parses as a module, or as a function body (a reply of only the body)."""
    return parse_python(code) is not None or parse_python(_as_function(code)) is not None


def _reads_as_body(code: str) -> bool:
    """True if ``code`` parses as a function body that returns or yields (outside nested scopes)."""
    tree = parse_python(_as_function(code))
    if tree is None:
        return False
    pending, scopes = list(tree.body[0].body), (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)):
            return True
        pending += [child for child in ast.iter_child_nodes(node) if not isinstance(child, scopes)]
    return False


def _defines(code: str, name: str) -> bool:
    """True if ``code`` binds ``name`` at its top level (outside ``__main__`` blocks); for code
    that does not parse, if it has a ``def name(`` line."""
    tree = parse_python(code)
    if tree is not None:
        return any(name in bound_names(node) for node in tree.body if not is_main_guard(node))
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _without_session_prompts(code: str) -> str:
    """``code`` with interpreter-session lines turned back into code: the ``>>>``/``...``
    prompts removed, the output printed after them dropped (up to a blank line)."""
    kept, in_session = [], False
    for line in code.split("\n"):
        if _SESSION_PROMPT.match(line):
            kept.append(line[4:])
            in_session = True
        elif not line.strip():
            kept.append(line)
            in_session = False
        elif not in_session:
            kept.append(line)
    return "\n".join(kept)


def _cleaned(code: str, decisions: list[str]) -> str:
    """``code``, or the code of an interpreter session it holds when only that parses."""
    if parse_python(code) is None and any(_SESSION_PROMPT.match(line) for line in code.split("\n")):
        cleaned = _without_session_prompts(code)
        if parse_python(cleaned) is not None:
            decisions.append("turned interpreter-session lines (>>>, ...) back into code, their output dropped")
            return cleaned
    return code


# --- finding the code --------------------------------------------------------------------------


def _starts_with_code(text: str) -> bool:
    """True if ``text`` parses (as a module or a function body) and is more than a bare name or
    constant (a word of prose such as ``Solution`` parses too)."""
    module = parse_python(text)
    tree = module or parse_python(_as_function(text))
    if tree is None:
        return False
    statements = tree.body if module else tree.body[0].body
    return any(not (isinstance(s, ast.Expr) and isinstance(s.value, (ast.Name, ast.Constant))) for s in statements)


def _python_blocks(text: str, decisions: list[str]) -> list[str]:
    """The code of the Python (or untagged) fenced blocks of ``text``, in order (harness.codetasks.fences)."""
    blocks = fenced_blocks(text)
    if _starts_before_a_closing_fence(text, blocks):
        decisions.append("the reply starts with code closed by a fence: took it as the first block")
        blocks = fenced_blocks(blocks[0].fence + "\n" + text)
    return [_block_code(block, decisions) for block in blocks if block.language in _PYTHON_TAGS]


def _starts_before_a_closing_fence(text: str, blocks: list[FencedBlock]) -> bool:
    """True if ``text`` starts with code and its first fence, a bare one, closes that code: what
    CommonMark would have the fence open is not code (prose, or nothing)."""
    if not blocks or blocks[0].info.strip():
        return False
    before = "\n".join(text.split("\n")[: blocks[0].line])
    return _starts_with_code(before) and not _starts_with_code(blocks[0].code)


def _block_code(block: FencedBlock, decisions: list[str]) -> str:
    """A block's code. One that does not parse is cut at a closing fence glued to the end of a
    line of code, or has its interpreter-session lines turned into code."""
    if _parses(block.code):
        return block.code
    cut = _cut_at_glued_fence(block.code, block.fence)
    if cut is not None and _parses(cut):
        decisions.append("cut a block at its closing fence, glued to the end of a line of code")
        return cut
    return _cleaned(block.code, decisions)


def _cut_at_glued_fence(code: str, fence: str) -> str | None:
    """``code`` up to the first line ending in a closing fence (the fence's character, at least as
    many times) right after code, as in ``return x`` followed by the fence; None without one."""
    char = re.escape(fence[0])
    glued = re.compile(rf"^(.*[^{char}\s])[ \t]*{char}{{{len(fence)},}}[ \t]*$")
    lines = code.split("\n")
    for index, line in enumerate(lines):
        if match := glued.match(line):
            return "\n".join([*lines[:index], match.group(1)]) + "\n"
    return None


def _choose_block(blocks: list[str], entry_point: str, decisions: list[str]) -> str:
    """The code of the fenced blocks: joined when one defines the entry point and they parse
    together, else one block (module docstring, step 2)."""
    parsing = [b for b in blocks if parse_python(b) is not None]
    defining = [i for i, b in enumerate(blocks) if _defines(b, entry_point)]
    if defining and len(parsing) > 1 and parse_python("\n".join(parsing)) is not None:
        where = ", ".join(str(i + 1) for i in defining)
        decisions.append(f"joined the {len(parsing)} parsing fenced blocks of {len(blocks)}; entry point bound in block(s) {where}")
        return "\n".join(parsing)
    if defining:
        index, why = defining[-1], "it defines the entry point"
    elif bodies := [i for i, b in enumerate(blocks) if _reads_as_body(b)]:
        index, why = bodies[-1], "it reads as the function's body"
    else:
        index, why = max(range(len(blocks)), key=lambda i: len(blocks[i])), "the longest"
    decisions.append(f"took fenced block {index + 1} of {len(blocks)} ({why})")
    return blocks[index]


def _syntax_error_line(code: str, as_body: bool) -> int | None:
    """None if ``code`` parses (as a module, or as a function body), else the error's line."""
    source = _as_function(code) if as_body else code
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


def _unfenced_code(text: str, entry_point: str, decisions: list[str]) -> str:
    """The code of a reply without fences: the runs of lines that parse, prose dropped."""
    runs = _code_runs(text)
    if not runs:
        decisions.append("no code found")
        return ""
    modules = [r for r in runs if parse_python(r) is not None]
    if len(modules) > 1 and any(_defines(r, entry_point) for r in modules) and parse_python("\n\n".join(modules)) is not None:
        decisions.append(f"no fence: joined the {len(modules)} runs of lines that parse as Python, prose between them dropped")
        return "\n\n".join(modules)
    defining = [r for r in runs if _defines(r, entry_point)]
    code = defining[-1] if defining else max(runs, key=len)
    decisions.append(f"no fence: kept the run of lines that parses as Python{' and defines the entry point' if defining else ''}, prose dropped")
    return code


def _continues(prompt: str, code: str) -> bool:
    """True if ``code`` is an indented body that completes ``prompt`` as it stands (comment
    lines at column 0 above it are allowed, as Python ignores them)."""
    first = next((line for line in code.split("\n") if not _is_comment_or_blank(line)), "")
    return bool(prompt.strip()) and first[:1] in (" ", "\t") and parse_python(prompt + code) is not None


def _find_code(text: str, entry_point: str, prompt: str, decisions: list[str]) -> str:
    """The code of a reply (module docstring, step 2); "" when there is none."""
    delimited = _DELIMITED.search(text)
    if delimited:
        decisions.append("took the code between [BEGIN] and [DONE]")
        text = delimited.group(1)
    blocks = _python_blocks(text, decisions)
    if blocks:
        return _choose_block(blocks, entry_point, decisions)
    if _continues(prompt, text):
        return text
    text = _cleaned(text, decisions)
    if _parses(text):
        decisions.append("no fence: the whole reply parses as Python (a module or a function body)")
        return text
    return _unfenced_code(text, entry_point, decisions)


# --- keeping what the solution needs -----------------------------------------------------------


def _keep_needed(code: str, entry_point: str, roots: set[str], decisions: list[str]) -> str:
    """The statements of ``code`` the solution needs (harness.codetasks.pruning), in order."""
    tree = parse_python(code)
    if tree is None:
        decisions.append("code does not parse; kept as is")
        return code
    kept = needed_statements(code, tree, entry_point, roots)
    dropped = [node for node, keep in zip(tree.body, kept) if not keep]
    if not dropped:
        return code.rstrip("\n") + "\n"
    names = sorted(set().union(*(bound_names(n) for n in dropped if not is_main_guard(n))))
    what = f" (unused definitions: {', '.join(names)})" if names else ""
    decisions.append(f"dropped {len(dropped)} top-level statement(s) the entry point does not need{what}")
    lines = code.split("\n")
    return "\n".join(source_segment(lines, node) for node, keep in zip(tree.body, kept) if keep) + "\n"


def _as_body(code: str, prompt: str, decisions: list[str]) -> str:
    """Make ``prompt + result`` the completed function from a reply holding only its body."""
    if _continues(prompt, code):
        decisions.append("reply continues the prompt (an indented body): used verbatim")
        return code if code.endswith("\n") else code + "\n"
    body = _dedent(code).strip("\n")
    indent = "    "
    for line in reversed(prompt.split("\n")):
        if line.strip():
            indent = line[: len(line) - len(line.lstrip())] or indent
            break
    decisions.append("reply has no definition of the entry point: used as the body under the prompt's signature")
    return "\n".join(indent + line if line.strip() else line for line in body.split("\n")) + "\n"


def extract_code(reply: str, entry_point: str, prompt: str = "", needed: Iterable[str] = ()) -> tuple[str, list[str]]:
    """(code, decisions). ``needed``: further names the task's tests use from the code."""
    decisions: list[str] = []
    text = _strip_think(_normalize(reply), decisions)
    code = _find_code(text, entry_point, prompt, decisions)
    if not code.strip():
        return "", decisions
    if _defines(code, entry_point):
        return _keep_needed(_dedent(code), entry_point, {entry_point, *needed}, decisions), decisions
    if not prompt.strip():
        decisions.append("code does not define the entry point and there is no signature to attach it to: kept as is")
        return _dedent(code).strip("\n") + "\n", decisions
    return _as_body(code, prompt, decisions), decisions
