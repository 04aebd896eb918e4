"""Reading the orchestrator's tool calls: arguments checked, problems turned into the error
message the orchestrator is shown as the call's result."""

from __future__ import annotations

import json
from typing import Any

from harness import Message, ToolCall


def with_ids(message: Message, turn: int) -> Message:
    """``message`` with every tool call carrying an id unique within the turn (text-written
    calls come without one)."""
    calls, used = [], set()
    for index, call in enumerate(message.tool_calls or []):
        call_id = call.id if call.id and call.id not in used else f"call_{turn}_{index}"
        used.add(call_id)
        calls.append(ToolCall(call_id, call.name, call.arguments))
    return Message("assistant", message.content, calls or None)


def arguments(call: ToolCall, required: dict[str, str]) -> dict[str, Any] | str:
    """The call's arguments when they are a JSON object holding each ``required`` parameter as
    text (name -> what it is, for the message); otherwise the error to show the caller."""
    try:
        value = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return f"Error: the arguments of {call.name} are not valid JSON ({exc.msg} at character {exc.pos}): {call.arguments[:200]!r}. Send them as one JSON object."
    if not isinstance(value, dict):
        return f"Error: the arguments of {call.name} must be a JSON object, not {type(value).__name__}: {call.arguments[:200]!r}."
    missing = [name for name in required if not isinstance(value.get(name), str)]
    if missing:
        wanted = ", ".join(f'"{name}": <{what}>' for name, what in required.items())
        return f"Error: {call.name} needs the text parameter(s) {', '.join(missing)}: call it with {{{wanted}}}."
    return value


def unknown_tool(call: ToolCall, known: list[str]) -> str:
    name = call.name or "(no name: the call could not be read)"
    detail = f" Its text: {call.arguments[:200]!r}." if not call.name else ""
    return f"Error: there is no tool {name}.{detail} The tools are: {', '.join(known)}."
