"""One turn of a tool-calling participant: a system prompt, the conversation as it sees it, its
tools -> its next message. Shared by agent systems (``direct``) and the simulated user.

When the backend states the ``tools`` feature, the tools go in the request as OpenAI tools and
structured ``tool_calls`` come back; otherwise (and whenever a reply holds ``<tool_call>`` text
instead of structured calls) the Hermes text convention of `harness.dialog.hermes` is used.
A participant offered no tools gets its reply as plain text, ``<tool_call>`` or not.
"""

from __future__ import annotations

from typing import Any

from harness.backend import Model
from harness.dialog.hermes import OPEN, parse_tool_calls, text_messages, tools_prompt
from harness.types import Message


async def take_turn(
    model: Model,
    system_prompt: str,
    messages: list[Message],
    tools: list[dict[str, Any]] | None,
    *,
    max_tokens: int,
    temperature: float = 0.0,
    seed: int | None = None,
) -> Message:
    """The participant's next message, role ``assistant``: text, tool calls, or both. Call ids
    may be empty (the episode assigns them). Raises BackendError when the backend fails for good."""
    native = bool(tools) and "tools" in model.features
    if native:
        request_messages = [Message("system", system_prompt), *(_with_text(m) for m in messages)]
        completion = await model.complete(
            request_messages, tools=tools, tool_choice="auto", max_tokens=max_tokens, temperature=temperature, seed=seed
        )
    else:
        prompt = f"{system_prompt}\n\n{tools_prompt(tools)}" if tools else system_prompt
        completion = await model.complete(
            [Message("system", prompt), *text_messages(messages)], max_tokens=max_tokens, temperature=temperature, seed=seed
        )
    reply = completion.message
    content, calls = reply.content, reply.tool_calls
    if tools and not calls and content and OPEN in content:
        content, calls = parse_tool_calls(content)
    return Message("assistant", content or None, calls or None)


def _with_text(message: Message) -> Message:
    """The message with ``""`` for a missing content: chat templates that concatenate contents
    (llama.cpp's Jinja ones) fail on a null beside tool calls, which OpenAI's API allows."""
    if message.content is not None:
        return message
    return Message(message.role, "", message.tool_calls, message.tool_call_id, message.name)
