"""The openai SDK at the edge: clients, request arguments, responses, and what an error means.

``openai`` is imported on first use, not when the plugin loads: every ``harness`` command loads
this plugin, and the SDK takes about half a second to import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness import Completion, CompletionRequest, Message, ToolCall, Usage

#: HTTP statuses worth another try besides 5xx: request timeout, conflict, rate limit.
RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class Failure:
    """What a failed call means for the retry loop."""

    transient: bool
    reason: str
    status: int | None = None
    retry_after: float | None = None  # seconds, when the server said so


def make_client(base_url: str, api_key: str, timeout: float) -> Any:
    """An AsyncOpenAI client that never retries by itself (the backend does)."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)


def request_kwargs(request: CompletionRequest, model: str) -> dict[str, Any]:
    """``chat.completions.create`` arguments; optional fields only when the request sets them."""
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": [m.to_openai() for m in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    optional = {
        "stop": request.stop,
        "seed": request.seed,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "response_format": request.response_format,
    }
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    if request.n != 1:
        kwargs["n"] = request.n
    return kwargs


def to_completion(response: Any, request: CompletionRequest) -> Completion:
    """A Completion from a ChatCompletion (cost, latency and endpoint are the caller's to set)."""
    choices = [_message(choice.message) for choice in response.choices]
    if not choices:
        raise ValueError("the response has no choices")
    usage = response.usage
    if usage is not None and usage.prompt_tokens is not None:
        counted = Usage(usage.prompt_tokens, usage.completion_tokens or 0)
    else:
        counted = estimate_usage(request, choices)
    return Completion(
        message=choices[0],
        usage=counted,
        model=response.model or "",
        finish_reason=response.choices[0].finish_reason,
        choices=choices,
    )


def _message(message: Any) -> Message:
    calls = [
        ToolCall(call.id, call.function.name, call.function.arguments)
        for call in message.tool_calls or []
        if getattr(call, "function", None) is not None
    ]
    return Message(role="assistant", content=message.content, tool_calls=calls or None)


def estimate_usage(request: CompletionRequest, choices: list[Message]) -> Usage:
    """About four characters a token, for servers that report no usage."""

    def tokens(messages: list[Message]) -> int:
        return math.ceil(sum(len(m.content or "") for m in messages) / 4)

    return Usage(tokens(request.messages), tokens(choices), estimated=True)


def classify(exc: BaseException) -> Failure | None:
    """What an exception from the SDK means; None when it is not the SDK's (a bug: let it rise)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return Failure(True, "the request timed out")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return Failure(True, f"cannot connect ({cause})")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return Failure(
            status in RETRY_STATUSES or status >= 500,
            f"HTTP {status}: {exc.message}",
            status,
            _retry_after(exc.response.headers.get("retry-after")),
        )
    if isinstance(exc, openai.OpenAIError):
        return Failure(False, f"unusable response: {exc}")
    return None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare enough to fall back on our own backoff
