"""Writing a models file: ``[models.NAME]`` tables in TOML, which harness.config reads back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def toml_value(value: Any) -> str:
    """A TOML literal for the scalars and lists a models table holds. JSON's string escapes are
    valid TOML basic-string escapes, so strings are written with json.dumps."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r} in a models table")


def render(models: dict[str, dict[str, Any]], header: str = "") -> str:
    lines = [f"# {line}" for line in header.splitlines()]
    for name, table in models.items():
        lines += ["", f"[models.{json.dumps(name)}]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items() if value is not None]
    return "\n".join(lines).lstrip("\n") + "\n"


def write_models_file(path: Path, models: dict[str, dict[str, Any]], header: str = "") -> None:
    """Write atomically: a run reading the file never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(render(models, header))
    partial.replace(path)
