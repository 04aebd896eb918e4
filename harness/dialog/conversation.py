"""The state of one dialog episode, and what each participant sees of it.

A conversation is a list of `Turn`s between three parties: the agent (the system under test,
messages of role ``assistant``), the simulated user (role ``user``) and the environment (role
``tool``: the result of one tool call, with the ``requestor`` whose call it answers). Either
participant may call tools; each sees only its own calls and their results:

- the agent sees the user's text, its own messages and the results of its own calls;
- the user sees the agent's text messages as ``user`` messages and its own messages as
  ``assistant`` ones (the roles flipped, as a chat model playing the user expects), plus the
  results of its own calls. A message that carries tool calls is not shown to the other side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.types import Message, Sample, ToolCall

AGENT, USER, ENVIRONMENT = "assistant", "user", "environment"


@dataclass
class Turn:
    """One message of an episode. ``message.role`` is ``assistant``, ``user`` or ``tool``.

    For a tool result, ``requestor`` is the party whose call it answers (``assistant`` or
    ``user``), ``error`` says the call failed, and ``executed`` is False when the call never
    reached the environment (its arguments were not a JSON object)."""

    message: Message
    requestor: str | None = None
    error: bool = False
    executed: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message.to_openai()}
        if self.message.role == "tool":
            out |= {"requestor": self.requestor, "error": self.error, "executed": self.executed}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        raw = data["message"]
        calls = [
            ToolCall(c.get("id", ""), c["function"]["name"], c["function"]["arguments"]) for c in raw.get("tool_calls") or []
        ]
        message = Message(raw["role"], raw.get("content"), calls or None, raw.get("tool_call_id"), raw.get("name"))
        return cls(message, data.get("requestor"), bool(data.get("error")), data.get("executed", True))


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)

    def append(self, turn: Turn) -> None:
        self.turns.append(turn)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def next_party(self) -> str:
        """Who speaks next: the environment after a message with tool calls, the caller after a
        tool result, otherwise the other participant (the user after the agent and vice versa)."""
        last = self.last
        if last is None:
            return USER
        if last.message.role == "tool":
            return last.requestor or AGENT
        if last.message.tool_calls:
            return ENVIRONMENT
        return USER if last.message.role == AGENT else AGENT

    def agent_view(self) -> list[Message]:
        """The messages the agent is shown, in order, as OpenAI chat roles."""
        out: list[Message] = []
        for turn in self.turns:
            role = turn.message.role
            if role == AGENT or (role == "tool" and turn.requestor == AGENT):
                out.append(turn.message)
            elif role == USER and not turn.message.tool_calls:
                out.append(Message(USER, turn.message.content))
        return out

    def user_view(self) -> list[Message]:
        """The messages the simulated user is shown, roles flipped: the agent's text is ``user``,
        the user's own messages (with their tool calls) are ``assistant``."""
        out: list[Message] = []
        for turn in self.turns:
            message = turn.message
            if message.role == USER:
                out.append(Message(AGENT, message.content, message.tool_calls))
            elif message.role == AGENT and not message.tool_calls:
                out.append(Message(USER, message.content))
            elif message.role == "tool" and turn.requestor == USER:
                out.append(message)
        return out

    def to_list(self) -> list[dict[str, Any]]:
        return [turn.to_dict() for turn in self.turns]

    @classmethod
    def from_list(cls, data: list[dict[str, Any]]) -> Conversation:
        return cls([Turn.from_dict(item) for item in data])

    def render(self, result_chars: int = 400) -> str:
        """A readable transcript: one line per message, tool results cut to ``result_chars``."""
        lines = []
        for turn in self.turns:
            message = turn.message
            if message.role == "tool":
                content = message.content or ""
                if len(content) > result_chars:
                    content = content[:result_chars] + f"… [{len(content) - result_chars} more characters]"
                flag = " (error)" if turn.error else ""
                lines.append(f"tool -> {turn.requestor}{flag}: {content}")
                continue
            if message.content:
                lines.append(f"{message.role}: {message.content}")
            for call in message.tool_calls or []:
                lines.append(f"{message.role} calls {call.name}({call.arguments})")
        return "\n".join(lines)


@dataclass
class Dialog:
    """What a system is given to produce the agent's next message (`System.act`).

    ``instructions`` is the system prompt the benchmark gives its agent (for tau2: the package's
    agent instruction wrapping the domain policy); ``policy`` the domain policy alone;
    ``tools`` the agent's tools as OpenAI function schemas (``{"type": "function", "function":
    {"name", "description", "parameters"}}``); ``messages`` the conversation so far as the agent
    sees it (roles ``user``, ``assistant``, ``tool``; no system message)."""

    sample: Sample
    instructions: str
    tools: list[dict[str, Any]]
    messages: list[Message]
    policy: str = ""
