"""What the user wants from the orchestrator: correct answers, low cost, low latency, weighed.

``--system-opt prefer=accuracy|cost|latency`` picks a preset; ``w_acc=``, ``w_cost=``, ``w_lat=``
give the weights themselves (any numbers >= 0, not all 0; a weight left out is 0). They are
normalized to sum to 1, rendered into the orchestrator's system prompt and recorded in run.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import ConfigError

#: prefer=NAME -> weights (accuracy, cost, latency) before normalization: correctness always
#: counts; ``cost`` and ``latency`` weigh their concern as much as it.
PRESETS = {"accuracy": (1.0, 0.0, 0.0), "cost": (1.0, 1.0, 0.0), "latency": (1.0, 0.0, 1.0)}
WEIGHT_KEYS = ("w_acc", "w_cost", "w_lat")
DEFAULT = "accuracy"


@dataclass(frozen=True)
class Preferences:
    accuracy: float
    cost: float
    latency: float
    preset: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"prefer": self.preset, "w_acc": self.accuracy, "w_cost": self.cost, "w_lat": self.latency}

    def render(self) -> str:
        """The part of the orchestrator's system prompt that states the preferences."""
        stated = f"The user's priorities: a correct result counts {self.accuracy:.0%}, a low cost {self.cost:.0%}, a short wait {self.latency:.0%}."
        if not self.cost and not self.latency:
            return f"{stated} Cost and time do not matter here: use whichever expert is most likely to get it right."
        return (
            f"{stated} Weigh what each step adds to the chance of a correct result against what it costs and how long "
            "it takes (the experts' prices and latencies are listed with the call_expert tool); working yourself "
            "costs least."
        )


def _weight(options: dict[str, Any], key: str) -> float:
    try:
        value = float(options.get(key, 0))
    except (TypeError, ValueError):
        raise ConfigError(f"system orchestrator: --system-opt {key}={options[key]!r} is not a number") from None
    if not value >= 0:
        raise ConfigError(f"system orchestrator: --system-opt {key}={value}: give a weight of 0 or more")
    return value


def parse_preferences(options: dict[str, Any]) -> Preferences:
    """From ``prefer`` or the weights (not both); the default is ``prefer=accuracy``."""
    weighted = [key for key in WEIGHT_KEYS if key in options]
    if "prefer" in options and weighted:
        raise ConfigError(f"system orchestrator: give prefer= or the weights {', '.join(weighted)}, not both")
    if weighted:
        raw, preset = tuple(_weight(options, key) for key in WEIGHT_KEYS), None
    else:
        preset = str(options.get("prefer", DEFAULT))
        if preset not in PRESETS:
            raise ConfigError(f"system orchestrator: --system-opt prefer={preset!r}; choose {', '.join(PRESETS)} (or give w_acc=, w_cost=, w_lat=)")
        raw = PRESETS[preset]
    total = sum(raw)
    if total <= 0:
        raise ConfigError("system orchestrator: the weights w_acc, w_cost, w_lat are all 0; give at least one above 0")
    accuracy, cost, latency = (round(w / total, 4) for w in raw)
    return Preferences(accuracy, cost, latency, preset)
