"""The simulated user as a model role: a chat model playing the customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.backend import Model
from harness.dialog.calling import take_turn
from harness.dialog.conversation import Conversation
from harness.types import Message

#: Extra tries when the model answers with neither text nor a tool call (tau2-bench's
#: ``generate`` retries an empty reply the same number of times: DEFAULT_MAX_RETRIES = 3).
EMPTY_REPLY_RETRIES = 3


@dataclass
class ModelUser:
    """Plays the user with ``model``: ``system_prompt`` holds the simulation guidelines and the
    scenario, ``tools`` the user's own tools (OpenAI function schemas) in dual-control domains.
    Called with the conversation, it returns the user's next message (role ``user``)."""

    model: Model
    system_prompt: str
    tools: list[dict[str, Any]] | None = None
    max_tokens: int = 1024
    temperature: float = 0.0
    seed: int | None = None

    async def __call__(self, conversation: Conversation) -> Message:
        reply = Message("assistant")
        for _ in range(1 + EMPTY_REPLY_RETRIES):
            reply = await take_turn(
                self.model,
                self.system_prompt,
                conversation.user_view(),
                self.tools,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                seed=self.seed,
            )
            if (reply.content or "").strip() or reply.tool_calls:
                break
        return Message("user", reply.content, reply.tool_calls)
