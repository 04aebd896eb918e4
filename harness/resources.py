"""What a run holds open: the model backends of its roles and its sandbox.

`Resources.resolve` turns options into (not yet started) objects and checks them before any
work; ``async with resources.opened(log_dir):`` starts the sandbox and every backend and always
closes them again, on success, error, Ctrl-C or SIGTERM alike. Runs, scoring and plugin
commands such as ``harness sop`` all go through it.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.backend import Backend
from harness.config import RUN_DEFAULTS, Config, parse_pairs
from harness.errors import ConfigError, UsageError
from harness.sandbox import Sandbox
from harness.system import System
from harness.task import Task
from harness.types import TokenPrice

DEFAULT_BACKEND = "llamacpp:smollm2"
DEFAULT_SANDBOX = "docker"


def resolve_backend(spec: str, config: Config) -> Backend:
    """``scheme:rest`` -> that scheme's backend; a bare NAME -> the models table's entry.

    Raises UsageError naming the known schemes and models when ``spec`` matches neither."""
    registry = config.plugins.registry["backends"]
    scheme, sep, _ = spec.partition(":")
    if sep and scheme in registry:
        return registry[scheme].cls.from_spec(spec, config)
    if spec in config.models:
        return config.plugins.get("backends", config.models[spec].backend).from_spec(spec, config)
    schemes = ", ".join(f"{s}:…" for s in sorted(registry)) or "none"
    names = ", ".join(sorted(config.models)) or "none (no [models.NAME] in harness.toml)"
    raise UsageError(f"unknown backend {spec!r}. Known schemes: {schemes}. Models in harness.toml: {names}.")


def resolve_backends(
    default_spec: str | None,
    role_pairs: list[str] | None,
    config: Config,
    roles: dict[str, str],
    presets: Mapping[str, str] | None = None,
) -> dict[str, Backend]:
    """Role -> backend for the model ``roles`` of a run (role -> who calls it: ``system direct``,
    ``task tau2-mock``). A role's spec is its ``--role ROLE=SPEC``, else its preset (the spec
    the system's options chose for it, `System.role_backends`), else the default backend's;
    roles sharing a spec share one backend instance (one server). No roles: no backend.

    Raises ConfigError for --backend/--role where nothing calls a model, or an unknown role."""
    if not roles:
        if default_spec or role_pairs:
            raise ConfigError("nothing in this run calls a model: drop --backend/--role")
        return {}
    given = parse_pairs(role_pairs, "--role")
    unknown = set(given) - set(roles) - {"default"}
    if unknown:
        known = ", ".join(f"{role} ({owner})" for role, owner in roles.items())
        raise ConfigError(f"no role(s) {sorted(unknown)} in this run; its roles: {known}")
    specs = {"default": default_spec or DEFAULT_BACKEND} | {role: spec for role, spec in (presets or {}).items() if role in roles} | given
    by_spec: dict[str, Backend] = {}
    for spec in specs.values():
        if spec not in by_spec:
            by_spec[spec] = resolve_backend(spec, config)
    return {role: by_spec[spec] for role, spec in specs.items()}


def check_prices(backends: dict[str, Backend], prices: Mapping[str, TokenPrice]) -> dict[str, TokenPrice]:
    """The roles' own prices (`System.role_prices`), once each is known not to contradict its
    backend's: a model has one price. Raises ConfigError naming both prices otherwise."""
    for role, price in prices.items():
        backend = backends.get(role) or backends.get("default")
        own = backend.token_price() if backend is not None else None
        if own is not None and own != price:
            raise ConfigError(
                f"role {role}: two prices for one model: the system's options say ${price.input}/${price.output} per million "
                f"input/output tokens, backend {backend.spec} says ${own.input}/${own.output} (its models table); give the price in one place"
            )
    return dict(prices)


def make_sandbox(name: str | None, config: Config) -> Sandbox:
    """The sandbox tier ``name`` (default docker), after its preflight: raises SandboxUnavailable
    (saying what to run) when the tier cannot work here, before any model is called."""
    cls = config.plugins.get("sandboxes", name or DEFAULT_SANDBOX)
    cls.preflight(config)
    return cls(config)


@dataclass
class Resources:
    """The backends by role and the sandbox of one run (or one command)."""

    backends: dict[str, Backend]
    sandbox: Sandbox
    prices: dict[str, TokenPrice] = field(default_factory=dict)  # role -> its own price (System.role_prices)

    @classmethod
    def resolve(cls, config: Config, roles: dict[str, str], system: System | None = None) -> Resources:
        """From ``--backend``, ``--role`` and ``--sandbox`` for the model ``roles`` (role -> who
        calls it, for messages), with the backends and prices that ``system``'s options give its
        roles (`System.role_backends`, `System.role_prices`); nothing is started yet."""
        sandbox = make_sandbox(config.getoption("sandbox"), config)
        presets = system.role_backends if system is not None else None
        backends = resolve_backends(config.getoption("backend"), config.getoption("role"), config, roles, presets)
        return cls(backends, sandbox, check_prices(backends, system.role_prices if system is not None else {}))

    @staticmethod
    def roles_of(system: System, task: Task | None = None) -> dict[str, str]:
        """Role -> who calls it, for a system (and the task's own roles: a simulated user, a judge)."""
        roles = {role: f"system {system.name}" for role in system.roles}
        return roles | ({role: f"task {task.name}" for role in task.roles} if task is not None else {})

    @property
    def distinct_backends(self) -> list[Backend]:
        return list(dict.fromkeys(self.backends.values()))

    def auto_concurrency(self, code: bool) -> tuple[int, str]:
        """What ``--max-concurrency auto`` stands for, once the resources have started: the sum
        of the distinct backends' `Backend.capacity` (their replicas' ``max_connections``), plus,
        for a code task (``code``) or a run without a model, the sandbox's `Sandbox.capacity`
        (its pool). A part whose capacity is unknown counts as the default --max-concurrency.
        Returns (samples in flight >= 1, how it was reckoned, for the terminal)."""
        default = int(RUN_DEFAULTS["max_concurrency"])
        parts: list[tuple[str, int | None]] = [(f"backend {b.spec}", b.capacity()) for b in self.distinct_backends]
        if code or not parts:
            parts.append((f"sandbox {self.sandbox.name}", self.sandbox.capacity()))
        counted = [(name, default if capacity is None else capacity, capacity is None) for name, capacity in parts]
        total = max(1, sum(capacity for _, capacity, _ in counted))
        terms = " + ".join(f"{name} {capacity}" + (" (capacity unknown: the default)" if unknown else "") for name, capacity, unknown in counted)
        return total, f"{total} = {terms}"

    def serving(self) -> dict[str, dict[str, Any]]:
        """Backend spec -> its server time and cost (`Backend.serving`), for the backends that
        run or rent servers; what summary.json keeps as ``serving``."""
        return {backend.spec: entry for backend in self.distinct_backends if (entry := backend.serving()) is not None}

    @asynccontextmanager
    async def opened(self, log_dir: Path) -> AsyncIterator[Resources]:
        """Start the sandbox, then every backend (a managed server logs under ``log_dir/logs``);
        close all of them on the way out, whatever happened. A failing close is printed and
        does not stop the others from closing."""
        try:
            await self.sandbox.start()
            for backend in self.distinct_backends:
                await backend.start(log_dir)
            yield self
        finally:
            for closing in [*(backend.close for backend in self.distinct_backends), self.sandbox.close]:
                try:
                    await asyncio.shield(closing())
                except Exception:  # closing must go on for the others
                    traceback.print_exc()


def add_serving(earlier: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``serving`` of a resumed run: per backend spec, the seconds and costs of the earlier
    invocations plus this one's (a cost is None once any part of it was unpriced); the price
    shown is the latest."""
    total = {spec: dict(entry) for spec, entry in earlier.items()}
    for spec, entry in now.items():
        before = total.get(spec)
        if before is None:
            total[spec] = dict(entry)
            continue
        costs = (before.get("cost"), entry.get("cost"))
        total[spec] = {
            "server_seconds": round((before.get("server_seconds") or 0.0) + entry["server_seconds"], 3),
            "hour_price": entry.get("hour_price"),
            "cost": None if None in costs else round(sum(costs), 8),
        }
    return total
