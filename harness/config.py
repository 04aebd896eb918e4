"""Configuration: harness.toml, then the environment, then the command line (later wins).

harness.toml (found in the working directory, or given with ``--config``)::

    [models.gpt4o]                       # used as --backend gpt4o
    base_url = "https://api.example.com/v1"   # or a list of replicas
    api_key_env = "EXAMPLE_API_KEY"      # the key itself is never written anywhere
    model = "gpt-4o"
    input_price = 2.5                    # USD per million input tokens
    output_price = 10.0                  # USD per million output tokens
    hour_price = 2.0                     # USD per server-hour (local fleets, rented endpoints),
                                         # charged per replica for the time a run uses them
    max_connections = 16                 # requests in flight per replica
    timeout = 120                        # seconds per try
    attempts = 5                         # tries before a request is an infra_error
    backoff = 0.5                        # seconds before the 2nd try, doubling after
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.plugins import Plugins

MODEL_KEYS = {"base_url", "api_key_env", "model", "input_price", "output_price", "max_connections", "timeout", "attempts", "backoff", "backend", "hour_price"}


@dataclass
class ModelConfig:
    name: str
    model: str
    base_urls: list[str]
    api_key_env: str | None = None
    input_price: float = 0.0  # USD per million tokens
    output_price: float = 0.0
    max_connections: int = 32  # requests in flight per replica
    timeout: float = 600.0  # seconds, per try
    attempts: int = 5  # tries of one request before it is an infra_error
    backoff: float = 0.5  # seconds before the 2nd try; doubles for each later one
    backend: str = "openai"  # the scheme of the backend class that serves this table entry
    hour_price: float | None = None  # USD per server-hour, per replica; None: not billed by time

    def describe(self) -> dict[str, Any]:
        """Everything but secrets, for run.json."""
        return {
            "name": self.name,
            "model": self.model,
            "base_urls": self.base_urls,
            "api_key_env": self.api_key_env,
            "input_price": self.input_price,
            "output_price": self.output_price,
            "max_connections": self.max_connections,
            "timeout": self.timeout,
            "attempts": self.attempts,
            "backoff": self.backoff,
            "backend": self.backend,
            "hour_price": self.hour_price,
        }


def _model_from_table(name: str, table: dict[str, Any], source: str) -> ModelConfig:
    unknown = set(table) - MODEL_KEYS
    if unknown:
        raise ConfigError(f"{source}: [models.{name}] has unknown key(s) {sorted(unknown)}; allowed: {sorted(MODEL_KEYS)}")
    urls = table.get("base_url")
    if isinstance(urls, str):
        urls = [urls]
    if not urls or not all(isinstance(u, str) for u in urls):
        raise ConfigError(f'{source}: [models.{name}] needs base_url = "http://host:port/v1" (or a list of them)')
    try:
        model = ModelConfig(
            name=name,
            model=str(table.get("model", name)),
            base_urls=[u.rstrip("/") for u in urls],
            api_key_env=table.get("api_key_env"),
            input_price=float(table.get("input_price", 0.0)),
            output_price=float(table.get("output_price", 0.0)),
            max_connections=int(table.get("max_connections", 32)),
            timeout=float(table.get("timeout", 600.0)),
            attempts=int(table.get("attempts", 5)),
            backoff=float(table.get("backoff", 0.5)),
            backend=str(table.get("backend", "openai")),
            hour_price=None if table.get("hour_price") is None else float(table["hour_price"]),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: [models.{name}]: {exc}") from exc
    if model.hour_price is not None and not model.hour_price >= 0:
        raise ConfigError(f"{source}: [models.{name}] hour_price = {model.hour_price}: give USD per server-hour, 0 or more")
    return model


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line L, column C)"
        raise ConfigError(f"{path}: malformed TOML: {exc}. Fix that line, or move the file away.") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def load_models(path: Path) -> dict[str, ModelConfig]:
    data = load_toml(path)
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ConfigError(f"{path}: 'models' must be a table of [models.NAME] sections")
    return {name: _model_from_table(name, table, str(path)) for name, table in models.items()}


class OptionParser:
    """What `harness_addoption` receives: options that every sample-running command accepts."""

    def __init__(self) -> None:
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def addoption(self, *names: str, **kwargs: Any) -> None:
        self.options.append((names, kwargs))

    def apply(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("plugin options")
        for names, kwargs in self.options:
            group.add_argument(*names, **kwargs)


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, str]:
    """['a=1', 'b=x'] -> {'a': '1', 'b': 'x'}, with a clear error for a missing '='."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


@dataclass
class Config:
    options: argparse.Namespace
    plugins: Plugins
    models: dict[str, ModelConfig] = field(default_factory=dict)
    config_path: Path | None = None

    def getoption(self, name: str, default: Any = None) -> Any:
        value = getattr(self.options, name.lstrip("-").replace("-", "_"), None)
        return default if value is None else value

    @property
    def results_dir(self) -> Path:
        return Path(self.getoption("results_dir", os.environ.get("HARNESS_RESULTS_DIR", "results")))


def find_config_file(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--config {explicit}: no such file")
        return path
    env = os.environ.get("HARNESS_CONFIG")
    if env:
        return Path(env)
    here = Path("harness.toml")
    return here if here.is_file() else None
