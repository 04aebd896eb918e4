"""What a system (and a task's scorer) may use while working on one sample."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.backend import Backend, Model, RoleMeter
from harness.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from harness.config import Config
from harness.sandbox import Sandbox
from harness.types import TokenPrice

#: The transcript event of `SampleContext.phase`.
PHASE_EVENT = "phase"


@dataclass
class Budget:
    """The run's cost budget in USD (None: unlimited), shared by every sample."""

    limit: float | None = None
    spent: float = 0.0

    @classmethod
    def from_config(cls, config: Config) -> Budget:
        """The ``--max-cost`` budget (from the command line or harness.toml's [run]). ConfigError
        unless it is a positive, finite amount of USD: a budget of 0 or less would stop the run
        before its first sample."""
        limit = config.getoption("max_cost")
        if limit is not None and not (math.isfinite(limit) and limit > 0):
            raise ConfigError(f"{config.origin('max_cost')} {limit:g}: a budget must be a positive amount of USD, e.g. --max-cost 2.5; leave it out for no limit")
        return cls(limit=limit)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent >= self.limit


@dataclass
class SampleContext:
    backends: dict[str, Backend]  # role -> backend; "default" is always there
    sandbox: Sandbox
    budget: Budget
    repeat: int = 0
    seed: int | None = None
    on_call: Callable[[dict[str, Any]], None] = lambda call: None
    on_event: Callable[[dict[str, Any]], None] = lambda event: None  # each `trace`d event
    meters: dict[str, RoleMeter] = field(default_factory=dict)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    prices: dict[str, TokenPrice] = field(default_factory=dict)  # role -> its own price (System.role_prices)

    def _backend(self, role: str) -> Backend:
        backend = self.backends.get(role) or self.backends.get("default")
        if backend is None:
            raise UsageError(f"no backend for role {role!r}")
        return backend

    def llm(self, role: str = "default") -> Model:
        """The model for ``role`` (its own backend if ``--role ROLE=SPEC`` gave one), charged at
        the role's own price where the system set one, else at the backend's."""
        meter = self.meters.setdefault(role, RoleMeter())
        return Model(self._backend(role), role, meter, self.transcript, self._charge, self.prices.get(role))

    def price(self, role: str = "default") -> TokenPrice | None:
        """What ``role``'s tokens cost: its own price, else its backend's; None when unpriced."""
        return self.prices.get(role) or self._backend(role).token_price()

    def trace(self, event: str, **data: Any) -> None:
        """Add a non-model event to the transcript (a document handed over, a tool call, a test
        run) and pass it to ``on_event``."""
        entry = {"event": event, **data}
        self.transcript.append(entry)
        self.on_event(entry)

    def phase(self, name: str) -> None:
        """Say which phase of the sample the system is in now (``"round 2: Engineer"``): a
        ``phase`` event of the transcript, which a run passes to the `harness_sample_phase` hook
        so that progress displays show where a long sample is."""
        self.trace(PHASE_EVENT, name=name)

    def _charge(self, call: dict[str, Any]) -> None:
        self.budget.spent += call.get("cost") or 0.0
        self.on_call(call)
