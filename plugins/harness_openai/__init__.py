"""Served OpenAI-compatible endpoints: ``openai:MODEL`` or a ``[models.NAME]`` table (replicas,
retries, prices)."""

from harness import hookimpl
from harness_openai.backend import OpenAIBackend
from harness_openai.retry import RetryPolicy

__all__ = ["OpenAIBackend", "RetryPolicy", "harness_add_backends"]


@hookimpl
def harness_add_backends() -> list[type]:
    return [OpenAIBackend]
