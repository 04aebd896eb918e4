"""Tool calls written as text, in the Hermes convention, for servers that return no structured
``tool_calls`` (llama.cpp without a tool-call chat format, vLLM without a tool-call parser).

A call is a JSON object ``{"name": …, "arguments": {…}}`` between ``<tool_call>`` and
``</tool_call>``; the tools are listed as JSON schemas between ``<tools>`` and ``</tools>`` in
the system prompt, and a result comes back between ``<tool_response>`` and
``</tool_response>`` (the convention of NousResearch's Hermes models, also used by Qwen's chat
templates). `parse_tool_calls` reads replies; `text_messages` and `tools_prompt` write the
conversation for such a model.
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness.types import Message, ToolCall

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_NAME = re.compile(r'"name"\s*:\s*"([^"]*)"')
_SEPARATORS = " \t\r\n,"


def parse_tool_calls(text: str) -> tuple[str, list[ToolCall]]:
    """Split a reply into (text outside the blocks, stripped; the calls, in order).

    A block may hold several JSON objects; the closing tag may be missing (a reply cut off by
    max_tokens), and a JSON string may contain the tags. ``arguments`` (or ``parameters``) is
    kept as JSON text: an object is re-serialized, a string is kept as written. A block that is
    not valid JSON (a model's typo, a cut-off object) still yields a call, with the name found
    in it (or "") and the block's raw text as arguments, so that the caller can answer it with a
    tool error instead of losing it. Call ids are left empty for the caller to assign."""
    calls: list[ToolCall] = []
    prose: list[str] = []
    pos = 0
    while (start := text.find(OPEN, pos)) >= 0:
        prose.append(text[pos:start])
        found, pos = _block(text, start + len(OPEN))
        calls.extend(found)
    prose.append(text[pos:])
    return "".join(prose).strip(), calls


def _block(text: str, pos: int) -> tuple[list[ToolCall], int]:
    """The calls of the block whose body starts at ``pos``, and where the text after it starts."""
    decoder = json.JSONDecoder()
    found: list[ToolCall] = []
    while True:
        while pos < len(text) and text[pos] in _SEPARATORS:
            pos += 1
        if text.startswith(CLOSE, pos):
            return found, pos + len(CLOSE)
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        if not isinstance(value, dict):
            break
        found.append(_call_from(value))
        pos = end
    close = text.find(CLOSE, pos)  # unreadable: the rest of the block is one malformed call
    remainder = text[pos:] if close < 0 else text[pos:close]
    match = _NAME.search(remainder)
    found.append(ToolCall("", match.group(1) if match else "", remainder.strip()))
    return found, len(text) if close < 0 else close + len(CLOSE)


def _call_from(value: dict[str, Any]) -> ToolCall:
    name = value.get("name")
    arguments = value.get("arguments", value.get("parameters", {}))
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return ToolCall("", name if isinstance(name, str) else "", text)


def format_tool_call(call: ToolCall) -> str:
    """One call as a ``<tool_call>`` block (arguments inlined when they are JSON)."""
    try:
        arguments: Any = json.loads(call.arguments)
    except (json.JSONDecodeError, TypeError):
        arguments = call.arguments
    return f"{OPEN}\n{json.dumps({'name': call.name, 'arguments': arguments}, ensure_ascii=False)}\n{CLOSE}"


def tools_prompt(tools: list[dict[str, Any]]) -> str:
    """The part of a system prompt that offers ``tools`` (OpenAI function schemas) to a model
    that writes its calls as text."""
    listing = "\n".join(json.dumps(tool.get("function", tool), ensure_ascii=False) for tool in tools)
    return (
        "You may call functions. Their JSON schemas:\n"
        f"<tools>\n{listing}\n</tools>\n"
        "To call a function, answer with a block of this form and nothing after it:\n"
        f'{OPEN}\n{{"name": "<function name>", "arguments": {{<the arguments as a JSON object>}}}}\n{CLOSE}\n'
        "Each result is sent back to you inside <tool_response></tool_response>."
    )


def text_messages(messages: list[Message]) -> list[Message]:
    """``messages`` with tool calls and results written as text: an assistant message's calls
    become ``<tool_call>`` blocks after its content, a ``tool`` message becomes a ``user``
    message holding a ``<tool_response>`` block (chat templates without tool support keep only
    role and content)."""
    out: list[Message] = []
    for message in messages:
        if message.role == "tool":
            out.append(Message("user", f"<tool_response>\n{message.content or ''}\n</tool_response>"))
        elif message.tool_calls:
            parts = [message.content] if message.content else []
            parts += [format_tool_call(call) for call in message.tool_calls]
            out.append(Message(message.role, "\n".join(parts)))
        else:
            out.append(Message(message.role, message.content or ""))
    return out
