"""Turning a model's almost-JSON into a value, saying which repairs it took.

Small open models wrap JSON in prose or fences, use Python literals and single quotes, leave
trailing commas, forget to quote keys, put raw newlines inside strings, or stop mid-document when
``max_tokens`` runs out. `parse_json` tries the text as it is, then applies the repairs below one
after another (each only when it changes the text) until something parses; the names of the
repairs it needed are returned so that the system can count them.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable

OPEN_TAG, CLOSE_TAG = "[CONTENT]", "[/CONTENT]"

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_COMMENT = re.compile(r'^\s*(//|#).*$|(?<=[,{\[\s])//[^\n"]*$', re.MULTILINE)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_BARE_KEY = re.compile(r'([{,]\s*)([A-Za-z_][\w ]*?)(\s*:)')
_SMART = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


class RepairError(ValueError):
    """No repair made the text parse."""


def between_tags(text: str) -> tuple[str, list[str]]:
    """The text between ``[CONTENT]`` and ``[/CONTENT]`` (a missing closing tag is tolerated)."""
    start = text.find(OPEN_TAG)
    if start < 0:
        return text, []
    body = text[start + len(OPEN_TAG) :]
    end = body.find(CLOSE_TAG)
    if end < 0:
        return body, ["missing [/CONTENT] tag"]
    return body[:end], []


def _unfence(text: str) -> str:
    """The body of the fence that holds the JSON (a fence inside a JSON string is left alone)."""
    match = _FENCE.search(text)
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if match is None or (starts and min(starts) < match.start()):
        return text
    return match.group(1)


def _outermost(text: str) -> str:
    """From the first ``{`` (or ``[``) to its matching close, or to the end when unclosed."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text
    start = min(starts)
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]


def _escape_raw_newlines(text: str) -> str:
    """Raw line breaks and tabs inside strings become ``\\n`` and ``\\t``."""
    out, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            if ch == "\n":
                ch = "\\n"
            elif ch == "\t":
                ch = "\\t"
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
        elif ch == '"':
            in_string = True
        out.append(ch)
    return "".join(out)


def _close_truncated(text: str) -> str:
    """Finish a document cut short: close the open string, drop a dangling comma or key,
    then close every open bracket."""
    stack, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    if in_string:
        text += '"'
    text = re.sub(r",\s*$", "", text.rstrip())
    if text.endswith(":"):
        text += " null"
    elif stack and stack[-1] == "}":  # inside an object, a final string after { or , is a key
        text = re.sub(r'([{,]\s*"(?:[^"\\]|\\.)*")$', r"\1: null", text)
    return text + "".join(reversed(stack))


def _python_literal(text: str) -> str:
    """Python's dict syntax (single quotes, True/False/None) read with ast and written as JSON."""
    try:
        return json.dumps(ast.literal_eval(text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


#: (name, transformation), in the order they are tried; the names are what gets counted.
REPAIRS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("code fence", _unfence),
    ("text around the JSON", _outermost),
    ("smart quotes", lambda t: t.translate(_SMART)),
    ("comments", lambda t: _COMMENT.sub("", t)),
    ("raw newlines in strings", _escape_raw_newlines),
    ("trailing commas", lambda t: _TRAILING_COMMA.sub(r"\1", t)),
    ("python literal", _python_literal),
    ("unquoted keys", lambda t: _BARE_KEY.sub(lambda m: f'{m.group(1)}"{m.group(2).strip()}"{m.group(3)}', t)),
    ("truncated document", _close_truncated),
)


def parse_json(text: str) -> tuple[object, list[str]]:
    """The value in ``text`` and the repairs that were needed; RepairError when none helped."""
    candidate = text.strip()
    applied: list[str] = []
    try:
        return json.loads(candidate), applied
    except ValueError:
        pass
    for name, repair in REPAIRS:
        repaired = repair(candidate).strip()
        if repaired == candidate:
            continue
        candidate = repaired
        applied.append(name)
        try:
            return json.loads(candidate), applied
        except ValueError:
            continue
    raise RepairError(f"not JSON even after repairs ({', '.join(applied) or 'none applied'}): {text[:120]!r}")
