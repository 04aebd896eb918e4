"""``--system-opt`` of the orchestrator (or its ``[systems.orchestrator]`` table), checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import ConfigError
from harness_orchestrator.preferences import WEIGHT_KEYS, Preferences, parse_preferences
from harness_orchestrator.roster import Expert, parse_roster

OPTIONS = (
    "experts", "route", "max_turns", "max_tokens", "expert_max_tokens", "temperature",
    "anonymise", "run_timeout", "prefer", *WEIGHT_KEYS,
)  # fmt: skip
ORCHESTRATE = "orchestrate"
ALWAYS = "always:"
SWITCH = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Settings:
    experts: tuple[Expert, ...]
    preferences: Preferences
    route: str = ORCHESTRATE  # or "always:NAME"
    max_turns: int = 20
    max_tokens: int = 1024  # the orchestrator's, per call
    expert_max_tokens: int = 2048
    temperature: float = 0.0
    anonymise: bool = True  # the orchestrator sees expert-1..N, not the roster's names
    run_timeout: float = 10.0  # seconds per run_python program

    @property
    def routed(self) -> Expert | None:
        """The one expert every problem goes to (``route=always:NAME``), else None."""
        if not self.route.startswith(ALWAYS):
            return None
        name = self.route[len(ALWAYS) :]
        return next(e for e in self.experts if e.name == name)

    def alias(self, expert: Expert) -> str:
        """What the orchestrator calls ``expert``: ``expert-<position>``, or its name."""
        return f"expert-{self.experts.index(expert) + 1}" if self.anonymise else expert.name

    def describe(self) -> dict[str, Any]:
        return {
            "experts": [e.describe() | {"shown_as": self.alias(e)} for e in self.experts],
            "route": self.route,
            "max_turns": self.max_turns,
            "max_tokens": self.max_tokens,
            "expert_max_tokens": self.expert_max_tokens,
            "temperature": self.temperature,
            "anonymise": self.anonymise,
            "run_timeout": self.run_timeout,
            "preferences": self.preferences.describe(),
        }


def _positive(options: dict[str, Any], key: str, kind: type, default: float) -> Any:
    raw = options.get(key, default)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"system orchestrator: --system-opt {key}={raw!r} is not a {'whole ' if kind is int else ''}number") from None
    if not value > 0:
        raise ConfigError(f"system orchestrator: --system-opt {key}={raw!r}: give a number above 0")
    return value


def parse_settings(options: dict[str, Any]) -> Settings:
    """Raises ConfigError naming an unknown option (with the known ones) or a bad value."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"system orchestrator: unknown --system-opt {unknown}; known: {', '.join(OPTIONS)}")
    experts = parse_roster(options.get("experts"))
    route = str(options.get("route", ORCHESTRATE))
    if route != ORCHESTRATE:
        names = [e.name for e in experts]
        if not route.startswith(ALWAYS) or route[len(ALWAYS) :] not in names:
            raise ConfigError(
                f"system orchestrator: --system-opt route={route!r}; give route=orchestrate or route=always:NAME "
                f"with NAME one of the experts ({', '.join(names) or 'none given: add experts='})"
            )
    anonymise = SWITCH.get(str(options.get("anonymise", "true")).lower())
    if anonymise is None:
        raise ConfigError(f"system orchestrator: --system-opt anonymise={options['anonymise']!r}; give true or false")
    try:
        temperature = float(options.get("temperature", 0.0))
    except (TypeError, ValueError):
        raise ConfigError(f"system orchestrator: --system-opt temperature={options['temperature']!r} is not a number") from None
    return Settings(
        experts=experts,
        preferences=parse_preferences(options),
        route=route,
        max_turns=_positive(options, "max_turns", int, 20),
        max_tokens=_positive(options, "max_tokens", int, 1024),
        expert_max_tokens=_positive(options, "expert_max_tokens", int, 2048),
        temperature=temperature,
        anonymise=anonymise,
        run_timeout=_positive(options, "run_timeout", float, 10.0),
    )
