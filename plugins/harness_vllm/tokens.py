"""Token counts with the served model's own tokenizer, through vLLM's ``/tokenize`` endpoint: what
a response without ``usage`` is charged (flagged as estimated)."""

from __future__ import annotations

from collections.abc import Callable

from harness import CompletionRequest, Message, Usage
from harness_vllm.fleet import request_json


class ServerTokenCounter:
    """A harness_openai ``TokenCounter``: the prompt as the chat template renders it (``/tokenize``
    with ``messages``), the output as plain text (``prompt``, no special tokens). ``live_url``
    gives the root URL of a server that runs, or None (then nothing is counted)."""

    def __init__(self, live_url: Callable[[], str | None], model: str) -> None:
        self.live_url = live_url
        self.model = model

    async def __call__(self, request: CompletionRequest, choices: list[Message]) -> Usage | None:
        url = self.live_url()
        if url is None:
            return None
        try:
            prompt = await self._count(url, {"messages": [m.to_openai() for m in request.messages]})
            output = 0
            for choice in choices:
                text = (choice.content or "") + "".join(call.arguments for call in choice.tool_calls or [])
                output += await self._count(url, {"prompt": text, "add_special_tokens": False})
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return Usage(prompt, output, estimated=True)

    async def _count(self, url: str, body: dict) -> int:
        return int((await request_json(f"{url}/tokenize", {"model": self.model, **body}))["count"])
