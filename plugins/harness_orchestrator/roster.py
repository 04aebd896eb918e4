"""The experts an orchestrator may call: names, backends, capability lines, prices, latencies.

Given either as ``--system-opt experts=NAME=SPEC,SPEC`` (a backend spec or a models-table
name each, with an optional name) or as harness.toml tables::

    [systems.orchestrator.experts.big]
    backend = "gpt5"                 # a backend spec or a [models.NAME] entry
    description = "strong at reasoning and code; slow"
    input_price = 1.25               # USD per million input tokens (else the models table's)
    output_price = 10.0              # USD per million output tokens
    latency = 30                     # seconds per call, as shown to the orchestrator (else "unknown")

Each expert is the model role ``expert-NAME`` of the system: ``--role expert-NAME=SPEC`` gives it
another backend, and its calls, tokens, cost and latency are metered under that role.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness import ConfigError, TokenPrice

#: What an expert's name may hold (it becomes part of a role name).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
TABLE_KEYS = ("backend", "description", "input_price", "output_price", "latency")
ROLE_PREFIX = "expert-"


@dataclass(frozen=True)
class Expert:
    name: str
    backend: str  # backend spec or models-table name
    description: str = ""
    price: TokenPrice | None = None  # given in the roster; None: the backend's own (or unpriced)
    latency: float | None = None  # seconds per call, given in the roster; None: unknown

    @property
    def role(self) -> str:
        return ROLE_PREFIX + self.name

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "backend": self.backend,
            "description": self.description,
            "input_price": None if self.price is None else self.price.input,
            "output_price": None if self.price is None else self.price.output,
            "latency": self.latency,
        }


def _name_of(spec: str) -> str:
    """The name of an expert given by its spec alone: a models-table name as it is, otherwise the
    part after the scheme (``llamacpp:smollm2`` -> ``smollm2``), other characters made ``-``."""
    if NAME.fullmatch(spec):
        return spec
    body = spec.partition(":")[2].partition("?")[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", body).strip("-.")


def _number(table: dict[str, Any], key: str, where: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise ConfigError(f"{where}: {key} = {value!r} is not a number")
    if not number >= 0:
        raise ConfigError(f"{where}: {key} = {value!r}: give 0 or more")
    return number


def _from_table(name: str, table: Any) -> Expert:
    where = f"system orchestrator: expert {name!r}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: give a table [systems.orchestrator.experts.{name}] with backend = SPEC")
    unknown = sorted(set(table) - set(TABLE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {', '.join(TABLE_KEYS)}")
    backend = table.get("backend")
    if not isinstance(backend, str) or not backend.strip():
        raise ConfigError(f'{where}: needs backend = "SPEC" (a backend spec such as openai:gpt-4o, or a [models.NAME] name)')
    description = table.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: description must be text (one line on what the expert is good at)")
    prices = (_number(table, "input_price", where), _number(table, "output_price", where))
    if (prices[0] is None) != (prices[1] is None):
        raise ConfigError(f"{where}: give both input_price and output_price (USD per million tokens), or neither")
    price = None if prices[0] is None or prices[1] is None else TokenPrice(prices[0], prices[1])
    return Expert(name, backend.strip(), " ".join(description.split()), price, _number(table, "latency", where))


def _from_text(text: str) -> list[Expert]:
    experts = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, spec = item.partition("=")
        if not sep or ":" in name:  # a spec alone (one may hold "=": dialog:create?tools=1)
            name, spec = _name_of(item), item
        if not spec:
            raise ConfigError(f"system orchestrator: experts item {item!r} names no backend; write NAME=SPEC or SPEC")
        experts.append(Expert(name.strip(), spec.strip()))
    return experts


def parse_roster(value: Any) -> tuple[Expert, ...]:
    """The experts, in the order given, from the option's text or harness.toml's tables.

    Raises ConfigError naming the problem: a name that cannot be a role name, a name given
    twice, a table without ``backend``, an unknown key, a price or latency that is not a number."""
    if value is None or value == "":
        return ()
    if isinstance(value, dict):
        experts = [_from_table(str(name), table) for name, table in value.items()]
    elif isinstance(value, str):
        experts = _from_text(value)
    else:
        raise ConfigError("system orchestrator: experts must be NAME=SPEC,… or [systems.orchestrator.experts.NAME] tables")
    seen: set[str] = set()
    for expert in experts:
        if not NAME.fullmatch(expert.name):
            raise ConfigError(
                f"system orchestrator: expert name {expert.name!r} may hold only letters, digits, '_', '.' and '-' "
                f"(it names the role {ROLE_PREFIX}NAME); give one: experts=NAME=SPEC"
            )
        if expert.name in seen:
            raise ConfigError(f"system orchestrator: two experts are named {expert.name!r}; name them apart: experts=a=SPEC,b=SPEC")
        seen.add(expert.name)
    return tuple(experts)
