"""The embedded default backend: SmolLM2-135M-Instruct (or any GGUF) on llama.cpp's server."""

from harness import hookimpl
from harness_llamacpp.backend import LlamaCppBackend, llama_server

__all__ = ["LlamaCppBackend", "harness_add_backends", "llama_server"]


@hookimpl
def harness_add_backends() -> list[type]:
    return [LlamaCppBackend]
