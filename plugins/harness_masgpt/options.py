"""``--system-opt`` for ``masgpt``: parsed, checked, and described for run.json."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness import ConfigError
from harness_masgpt.prompt import DESIGNER_PROMPT

DESIGN_MODES = ("cached", "fresh", "only")
FALLBACK_MODES = ("builtin", "none")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mas-harness" / "masgpt-programs"


@dataclass(frozen=True)
class Settings:
    """What one run of ``masgpt`` does. Token counts are per request unless named per sample;
    costs are USD; times are seconds."""

    design: str = "cached"  # cached: reuse a stored program; fresh: design again; only: design, do not run
    prompt_file: Path | None = None  # the designer's system prompt (default: ours, prompt.DESIGNER_PROMPT)
    program: Path | None = None  # run this program on every query, no designer
    fallback: str = "builtin"  # no code block in the design: run prompt.FALLBACK_PROGRAM, or fail
    max_tokens: int = 4096  # the designer's reply (MAS-GPT: 4096)
    temperature: float = 0.0  # the designer's (MAS-GPT: 0)
    agent_max_tokens: int = 2048  # one call_llm reply (MAS-GPT's helper: 2048)
    timeout: float = 600.0  # the whole program, model calls included (MAS-GPT: 600)
    max_calls: int = 64  # agent model calls per sample
    max_sample_tokens: int | None = None  # agent tokens (input + output) per sample
    max_sample_cost: float | None = None  # agent cost per sample
    cache_dir: Path = field(default_factory=default_cache_dir)
    prompt: str = field(default=DESIGNER_PROMPT, compare=False)  # the prompt's text, read once

    @property
    def prompt_sha256(self) -> str:
        return hashlib.sha256(self.prompt.encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "prompt"}
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()} | {"prompt_sha256": self.prompt_sha256}


def _choice(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"use one of {', '.join(allowed)}")
        return value

    return parse


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not value.strip().isdigit() or int(value) < minimum:
            raise ValueError(f"give a whole number >= {minimum}")
        return int(value)

    return parse


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise ValueError("give a number > 0")
    return number


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise ValueError("give a number >= 0, e.g. 0.2")
    return number


def _readable_file(value: str) -> Path:
    path = Path(value).expanduser().absolute()
    if not path.is_file():
        raise ValueError(f"{path} is not a readable file")
    return path


#: Options that name a file or folder.
PATH_OPTIONS = frozenset({"prompt_file", "program", "cache_dir"})

PARSERS: dict[str, Callable[[str], Any]] = {
    "design": _choice(DESIGN_MODES),
    "prompt_file": _readable_file,
    "program": _readable_file,
    "fallback": _choice(FALLBACK_MODES),
    "max_tokens": _whole(1),
    "temperature": _non_negative,
    "agent_max_tokens": _whole(1),
    "timeout": _positive,
    "max_calls": _whole(1),
    "max_sample_tokens": _whole(1),
    "max_sample_cost": _positive,
    "cache_dir": lambda value: Path(value).expanduser().absolute(),
}
assert set(PARSERS) == {f.name for f in fields(Settings)} - {"prompt"}


def _read_text(path: Path, key: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"system masgpt: --system-opt {key}={path}: cannot read it ({exc})") from exc
    if not text.strip():
        raise ConfigError(f"system masgpt: --system-opt {key}={path} is empty")
    return text


def parse_settings(options: dict[str, str]) -> Settings:
    """Settings from ``--system-opt`` pairs; ConfigError names the bad option and the fix."""
    unknown = set(options) - set(PARSERS)
    if unknown:
        raise ConfigError(f"system masgpt: unknown --system-opt {sorted(unknown)}; known: {', '.join(sorted(PARSERS))}")
    values: dict[str, Any] = {}
    for key, raw in options.items():
        try:
            values[key] = PARSERS[key](raw)
        except ValueError as exc:
            raise ConfigError(f"system masgpt: --system-opt {key}={raw!r}: {exc}") from exc
    if values.get("program") is not None and values.get("design") == "only":
        raise ConfigError("system masgpt: --system-opt program=FILE runs a given program, there is nothing to design; drop design=only")
    if values.get("prompt_file") is not None:
        values["prompt"] = _read_text(values["prompt_file"], "prompt_file")
    return Settings(**values)
