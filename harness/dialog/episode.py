"""The episode loop of a dialog task: agent, simulated user and environment take turns until the
user ends the conversation or a limit is reached.

One *step* is one message passed on: an agent message, a user message, or the environment's
results for one message's tool calls (tau2-bench's orchestrator counts the same way). After each
step the environment syncs (`Environment.sync`: in dual-control domains the user's device
follows the back-end's state). Limits are checked only when the next party is not the
environment, so a tool call always gets its result. Termination reasons:

- ``user_stop`` / ``transfer`` / ``out_of_scope``: the user's message held one of the task's
  stop markers (tau2: ``###STOP###``, ``###TRANSFER###``, ``###OUT-OF-SCOPE###``);
- ``max_steps``: ``limits.max_steps`` steps were taken;
- ``too_many_errors``: ``limits.max_errors`` tool calls failed (either participant's; a call
  whose arguments are not a JSON object, or that names no tool, is a failed call whose error
  message the caller sees);
- ``agent_error`` / ``user_error``: a participant sent a message with neither text nor calls.

A backend failing for good (BackendError) is not a termination: it propagates, and the runner
records the simulation as ``infra_error``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from harness.dialog.conversation import AGENT, ENVIRONMENT, USER, Conversation, Turn
from harness.types import Message, ToolCall

TERMINATIONS = ("user_stop", "transfer", "out_of_scope", "max_steps", "too_many_errors", "agent_error", "user_error")


@dataclass
class ToolResult:
    content: str
    error: bool = False


class Environment(Protocol):
    """The world both participants act on."""

    def execute(self, name: str, arguments: dict[str, Any], requestor: str) -> ToolResult:
        """Run tool ``name`` for ``requestor`` (``assistant`` or ``user``). A failing call (unknown
        tool, bad arguments, a refusal by the tool) is a ToolResult with ``error=True``."""

    def sync(self) -> None:
        """Bring derived state up to date after a step (no-op where nothing is derived)."""


@dataclass
class EpisodeLimits:
    max_steps: int = 200  # tau2-bench's default (tau2.config.DEFAULT_MAX_STEPS)
    max_errors: int = 10  # tau2-bench's default (tau2.config.DEFAULT_MAX_ERRORS)


@dataclass
class Episode:
    conversation: Conversation
    termination: str
    steps: int
    tool_errors: int


#: A participant: the conversation so far -> its next message.
Participant = Callable[[Conversation], Awaitable[Message]]


def _is_empty(message: Message) -> bool:
    return not (message.content or "").strip() and not message.tool_calls


def _with_ids(message: Message, role: str, conversation: Conversation) -> Message:
    """The message as ``role``, each tool call with an id unique in the conversation."""
    used = {c.id for t in conversation.turns for c in t.message.tool_calls or []}
    calls = []
    for index, call in enumerate(message.tool_calls or []):
        call_id = call.id
        if not call_id or call_id in used:
            call_id = f"call_{len(conversation.turns)}_{index}"
        used.add(call_id)
        calls.append(ToolCall(call_id, call.name, call.arguments))
    return Message(role, message.content, calls or None)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text.strip() else {}
    except (json.JSONDecodeError, AttributeError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def execute_call(environment: Environment, call: ToolCall, requestor: str) -> Turn:
    """The tool result turn for one call. Arguments that are not a JSON object never reach the
    environment: the result is an error naming the problem."""
    arguments = _json_object(call.arguments)
    if arguments is None:
        result = ToolResult(
            f"Error: the arguments of the call to {call.name or '(no name)'} are not a JSON object: {call.arguments[:300]!r}. "
            "Send the arguments as one JSON object mapping parameter names to values.",
            error=True,
        )
        executed = False
    else:
        result = environment.execute(call.name, arguments, requestor)
        executed = True
    message = Message("tool", result.content, tool_call_id=call.id, name=call.name)
    return Turn(message, requestor=requestor, error=result.error, executed=executed)


def stop_reason(message: Message, markers: dict[str, str]) -> str | None:
    """The termination reason of the first marker found in a text message (none for tool calls)."""
    if message.tool_calls:
        return None
    text = message.content or ""
    return next((reason for marker, reason in markers.items() if marker in text), None)


async def run_episode(
    conversation: Conversation,
    *,
    agent: Participant,
    user: Participant,
    environment: Environment,
    stop_markers: dict[str, str],
    limits: EpisodeLimits | None = None,
    on_turn: Callable[[Turn], None] = lambda turn: None,
) -> Episode:
    """Play from ``conversation`` (the task's opening: a greeting or an earlier history) until it
    terminates. ``stop_markers`` maps a marker in the user's text to a termination reason."""
    limits = limits or EpisodeLimits()
    steps = errors = 0

    def add(turn: Turn) -> None:
        conversation.append(turn)
        on_turn(turn)

    while True:
        party = conversation.next_party()
        termination: str | None = None
        if party == ENVIRONMENT:
            caller = conversation.turns[-1].message
            for call in caller.tool_calls or []:
                turn = execute_call(environment, call, caller.role)
                errors += turn.error
                add(turn)
        else:
            speaker = agent if party == AGENT else user
            message = await speaker(conversation)
            if _is_empty(message):
                return Episode(conversation, "agent_error" if party == AGENT else "user_error", steps, errors)
            message = _with_ids(message, party, conversation)
            add(Turn(message))
            if party == USER:
                termination = stop_reason(message, stop_markers)
        steps += 1
        environment.sync()
        if termination:
            return Episode(conversation, termination, steps, errors)
        if conversation.next_party() == ENVIRONMENT:
            continue
        if steps >= limits.max_steps:
            return Episode(conversation, "max_steps", steps, errors)
        if errors >= limits.max_errors:
            return Episode(conversation, "too_many_errors", steps, errors)
