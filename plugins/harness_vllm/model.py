"""The model a vLLM fleet serves, and its identity for run.json.

``vllm:MODEL`` takes a checkpoint folder (Hugging Face layout, with config.json), a model the
harness prepared (``smollm2``: `harness models prepare smollm2 --format hf`), or a hub id
(``org/name``, which vLLM downloads; the harness never does).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import UsageError

MODELS_DIR_ENV = "HARNESS_MODELS_DIR"
#: Written into a prepared model's folder once it is complete: what it was made from.
STAMP = ".harness-prepared.json"
#: Shipped models that `harness models prepare NAME --format hf` turns into checkpoints.
PREPARABLE = ("smollm2",)


def models_dir() -> Path:
    """Where prepared models live: ``$HARNESS_MODELS_DIR``, else ~/.cache/mas-harness/models."""
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mas-harness" / "models"


def prepared_path(name: str, fmt: str = "hf") -> Path:
    return models_dir() / f"{name}-{fmt}"


def is_prepared(path: Path) -> bool:
    return (path / STAMP).is_file()


@dataclass(frozen=True)
class ServedModel:
    name: str  # as the spec gave it; also the name the fleet serves it under
    source: str  # what vLLM is told to load: a folder or a hub id
    path: Path | None  # the local folder holding config.json, when there is one

    def config_sha256(self) -> str | None:
        if self.path is None:
            return None
        return hashlib.sha256((self.path / "config.json").read_bytes()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "model_source": self.source, "model_path": str(self.path) if self.path else None, "config_sha256": self.config_sha256()}


def resolve_model(name: str) -> ServedModel:
    """A ServedModel for the text after ``vllm:``; UsageError naming the fix when there is none."""
    if not name:
        raise UsageError("backend vllm: name the model: vllm:/path/to/checkpoint, vllm:org/name (a hub id) or vllm:smollm2")
    if name in PREPARABLE:
        path = prepared_path(name)
        if not is_prepared(path):
            raise UsageError(f"vllm:{name} needs a Hugging Face copy of the shipped model; make it once with: harness models prepare {name} --format hf")
        return ServedModel(name, str(path), path)
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not (path / "config.json").is_file():
            raise UsageError(f"vllm:{name}: {path} is not a model checkpoint folder (it has no config.json). Give the folder of a Hugging Face checkpoint.")
        resolved = path.resolve()
        return ServedModel(name, str(resolved), resolved)
    if name.count("/") != 1:
        raise UsageError(f"vllm:{name}: not a checkpoint folder, a hub id (org/name) or a prepared model ({', '.join(PREPARABLE)})")
    return ServedModel(name, name, hub_snapshot(name))


def hub_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of a hub model (its ``main`` revision), when one is cached."""
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"), "hub")
    repo = Path(cache) / ("models--" + repo_id.replace("/", "--"))
    try:
        revision = (repo / "refs" / "main").read_text().strip()
    except OSError:
        return None
    snapshot = repo / "snapshots" / revision
    return snapshot if (snapshot / "config.json").is_file() else None
