"""Reading the optimizer's reply: ``<modification>``, ``<graph>`` and ``<prompt>`` sections.

A section may wrap its code in a fence (```python … ```); the last section may lack its closing
tag (a reply cut by max_tokens keeps what it has only when the code still compiles). A reply is
refused, with the reason the optimizer is then told, when the modification or the graph is
missing or empty, or when graph.py or prompt.py is not valid Python. Whether the graph *runs*
is for the validation to find out: a workflow that fails to load is scored, not refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SECTIONS = ("modification", "graph", "prompt")
_FENCED = re.compile(r"^\s*```[A-Za-z0-9_+-]*[^\n]*\n(.*?)\n?```\s*$", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


class Unusable(ValueError):
    """The reply cannot be used; the message says why (and is shown to the optimizer)."""


@dataclass(frozen=True)
class Proposal:
    modification: str
    graph: str
    prompt: str


def _section(text: str, name: str) -> str | None:
    """The text inside <name>…</name> (the last such section); an unclosed last one runs to
    the end of the reply. None when the tag is absent."""
    closed = re.findall(rf"<{name}>(.*?)</{name}>", text, re.DOTALL | re.IGNORECASE)
    if closed:
        return closed[-1]
    opened = re.search(rf"<{name}>(.*)\Z", text, re.DOTALL | re.IGNORECASE)
    if opened is None:
        return None
    later = [re.search(rf"<{other}>", opened.group(1), re.IGNORECASE) for other in SECTIONS if other != name]
    cut = min((m.start() for m in later if m is not None), default=len(opened.group(1)))
    return opened.group(1)[:cut]


def _code(text: str) -> str:
    """A section's code: inside its fence when it has one, the text otherwise; one final newline."""
    match = _FENCED.match(text)
    body = match.group(1) if match else text.strip("\n")
    return body.rstrip() + "\n" if body.strip() else ""


def _compile_error(code: str, name: str) -> str | None:
    try:
        compile(code, name, "exec")
    except SyntaxError as exc:
        return f"{name} is not valid Python: line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # a NUL byte
        return f"{name} is not valid Python: {exc}"
    return None


def parse_reply(reply: str) -> Proposal:
    """The proposal in an optimizer's reply; Unusable saying what is wrong."""
    text = _THINK.sub("", reply or "")
    found = {name: _section(text, name) for name in SECTIONS}
    missing = [f"<{name}>" for name in ("modification", "graph") if not (found[name] or "").strip()]
    if missing:
        raise Unusable(f"the reply has no {' and no '.join(missing)} section (or it is empty)")
    modification = " ".join(found["modification"].split())
    graph = _code(found["graph"])
    prompt = _code(found["prompt"] or "")
    for code, name in ((graph, "graph.py"), (prompt, "prompt.py")):
        error = _compile_error(code, name)
        if error:
            raise Unusable(error)
    return Proposal(modification, graph, prompt)
