"""A tau2 domain environment behind `harness.dialog.Environment`, and tau2 messages as turns."""

from __future__ import annotations

import json
from typing import Any

from harness import Message, ToolCall
from harness.dialog import Conversation, ToolResult, Turn
from harness_tau2.package import require_tau2


class Tau2Environment:
    """One fresh environment of a tau2 domain (its own copy of the database). Calls go through
    the package's ``Environment.get_response``, which runs the tool for its requestor (the
    agent's tools, or the user's device tools in telecom), turns an exception into an error
    message and syncs the user's device with the back-end."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def execute(self, name: str, arguments: dict[str, Any], requestor: str) -> ToolResult:
        require_tau2()
        from tau2.data_model.message import ToolCall as Tau2ToolCall

        result = self.env.get_response(Tau2ToolCall(id="", name=name, arguments=arguments, requestor=requestor))
        return ToolResult(result.content or "", bool(result.error))

    def sync(self) -> None:
        self.env.sync_tools()


def turn_from_tau2(message: Any) -> Turn:
    """A turn from a tau2 message of a task's initial history (Assistant/User/ToolMessage)."""
    if message.role == "tool":
        reply = Message("tool", message.content, tool_call_id=message.id)
        return Turn(reply, requestor=message.requestor, error=bool(message.error))
    calls = [ToolCall(c.id, c.name, json.dumps(c.arguments)) for c in message.tool_calls or []]
    return Turn(Message(message.role, message.content, calls or None))


def opening(history: list[Any] | None, greeting: str) -> Conversation:
    """The conversation a simulation starts from: the task's message history when it has one,
    otherwise the agent's greeting."""
    if history:
        return Conversation([turn_from_tau2(m) for m in history])
    return Conversation([Turn(Message("assistant", greeting))])
