"""Loading a task's problems: from data shipped with its plugin (sha256-checked), from the Hugging
Face hub through ``datasets``, or from a local file.

Errors say what is missing and both ways to fix it (install/reach the hub, or give a copy with
``--task-opt path=FILE``). Nothing here downloads unless the task asked for the hub.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import json
import re
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


def read_records(path: str | Path, task: str) -> list[dict[str, Any]]:
    """The records of a .json (a list), .jsonl or .jsonl.gz file."""
    path = Path(path).expanduser()
    try:
        raw = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"task {task}: cannot read --task-opt path={path}: {exc.strerror or exc}") from exc
    return _parse(raw, path, task)


def read_shipped(path: Path, sha256: str, task: str, other_ways: str) -> list[dict[str, Any]]:
    """The records of a data file shipped inside a plugin, after checking its sha256 against the
    one recorded with it (its provenance). ConfigError for a missing or altered file, naming
    ``other_ways`` to get the data."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"task {task}: the data shipped with the task is missing ({path}: {exc.strerror or exc}); reinstall the plugin, {other_ways}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ConfigError(f"task {task}: the shipped {path} is not the recorded file (sha256 {digest[:16]}…, recorded {sha256[:16]}…); reinstall the plugin, {other_ways}")
    return _parse(data.decode("utf-8"), path, task)


def _parse(raw: str, path: Path, task: str) -> list[dict[str, Any]]:
    try:
        if raw.lstrip().startswith("["):
            records = json.loads(raw)
        else:
            records = [json.loads(line) for line in raw.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ConfigError(f"task {task}: {path} is neither a JSON list nor JSON lines ({exc}); give the dataset's original file") from exc
    if not all(isinstance(r, dict) for r in records):
        raise ConfigError(f"task {task}: {path} must hold one JSON object per problem")
    return records


def require_fields(records: list[dict[str, Any]], fields: set[str], task: str, source: str) -> None:
    for record in records:
        missing = fields - set(record)
        if missing:
            raise ConfigError(f"task {task}: a record of {source} lacks {sorted(missing)} (it has {sorted(record)}); is it the right file for this task and config?")


LOCAL_COPY = "or give a local copy of the data with --task-opt path=FILE"


def load_hub(hub_id: str, config: str | None, splits: list[str], task: str, how: str = LOCAL_COPY) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(records of ``splits`` in order, identity: source, datasets version, hub revision).
    ``how`` is the other way to get the data, for the errors."""
    try:
        import datasets
    except ImportError as exc:
        raise ConfigError(f"task {task}: loading {hub_id} needs the `datasets` package (`pip install 'mas-harness[hf]'`), {how}") from exc
    records: list[dict[str, Any]] = []
    revision = None
    for split in splits:
        try:
            loaded = datasets.load_dataset(hub_id, config, split=split)
        except Exception as exc:  # offline, unknown config, hub errors: all mean the same to the user
            raise ConfigError(
                f"task {task}: cannot load {hub_id}{f' ({config})' if config else ''} split {split} through datasets: {exc}. "
                f"Reach the hub once (it is cached afterwards; HF_HUB_OFFLINE=1 then uses the cache), {how}"
            ) from exc
        records += [dict(row) for row in loaded]
        revision = revision or _revision(loaded)
    identity = {"source": f"datasets:{hub_id}", "datasets_version": importlib.metadata.version("datasets"), "revision": revision}
    return records, identity


def _revision(dataset: Any) -> str | None:
    """The hub commit the cached files came from (it is a folder name in the cache path)."""
    for entry in getattr(dataset, "cache_files", []) or []:
        match = re.search(r"/([0-9a-f]{40})/", entry.get("filename", ""))
        if match:
            return match.group(1)
    return None
