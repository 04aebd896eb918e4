"""``--system-opt`` for ``sop``: parsed, checked, and described for run.json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from harness import ConfigError

#: The company's roles, in the order of the SOP (also the model roles of ``--role ROLE=SPEC``).
ROLE_ORDER: tuple[str, ...] = ("product_manager", "architect", "project_manager", "engineer", "qa_engineer")


@dataclass(frozen=True)
class Settings:
    roles: tuple[str, ...] = ROLE_ORDER
    feedback: bool = True  # QA's failures go back to the Engineer
    max_fix_rounds: int = 3
    max_rounds: int = 20
    max_tokens: int = 768
    temperature: float = 0.0

    def describe(self) -> dict[str, Any]:
        return asdict(self) | {"roles": list(self.roles)}


def _roles(value: str) -> tuple[str, ...]:
    chosen = {r.strip() for r in value.split(",") if r.strip()}
    unknown = chosen - set(ROLE_ORDER)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}; choose from {','.join(ROLE_ORDER)}")
    if "engineer" not in chosen:
        raise ValueError("the team needs the engineer, e.g. roles=engineer,qa_engineer")
    return tuple(r for r in ROLE_ORDER if r in chosen)


def _switch(value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("on", "off", "true", "false", "1", "0"):
        raise ValueError("use on or off")
    return lowered in ("on", "true", "1")


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not value.strip().isdigit() or int(value) < minimum:
            raise ValueError(f"give a whole number >= {minimum}")
        return int(value)

    return parse


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:  # also rejects nan
        raise ValueError("give a number >= 0, e.g. 0.2")
    return number


PARSERS: dict[str, Callable[[str], Any]] = {
    "roles": _roles,
    "feedback": _switch,
    "max_fix_rounds": _at_least(0),
    "max_rounds": _at_least(1),
    "max_tokens": _at_least(1),
    "temperature": _non_negative_float,
}
assert set(PARSERS) == {f.name for f in fields(Settings)}


def parse_settings(options: dict[str, str]) -> Settings:
    """Settings from ``--system-opt`` pairs; ConfigError names the bad option and the fix."""
    unknown = set(options) - set(PARSERS)
    if unknown:
        raise ConfigError(f"system sop: unknown --system-opt {sorted(unknown)}; known: {', '.join(sorted(PARSERS))}")
    values: dict[str, Any] = {}
    for key, raw in options.items():
        try:
            values[key] = PARSERS[key](raw)
        except ValueError as exc:
            raise ConfigError(f"system sop: --system-opt {key}={raw!r}: {exc}") from exc
    return Settings(**values)
