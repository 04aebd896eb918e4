"""Configuration: built-in defaults, then harness.toml, then the environment, then the command
line (later wins).

harness.toml (found in the working directory, or given with ``--config``) has five kinds of
table; any other table or key is refused with a message naming it and the known ones::

    [run]                                # defaults of `harness run`'s options (dest names)
    repeats = 3                          # as --repeats 3; the command line still wins
    sandbox = "local"

    [tasks.mbpp]                         # default --task-opt of task mbpp
    config = "full"

    [systems.sop]                        # default --system-opt of system sop
    max_fix_rounds = 2

    [sandbox]                            # the docker sandbox's engines (default: DOCKER_HOST)
    engines = ["unix:///var/run/docker.sock", "ssh://user@host",
               {url = "tcp://host:2376", containers = 16, tls_ca = "ca.pem", tls_cert = "cert.pem", tls_key = "key.pem"}]

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
import copy
import difflib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.plugins import Plugins

#: The tables harness.toml may hold, as a user writes them.
TABLES = {"run": "[run]", "tasks": "[tasks.NAME]", "systems": "[systems.NAME]", "models": "[models.NAME]", "sandbox": "[sandbox]"}
#: Keys of [sandbox]; each engine entry is checked by the sandbox plugin (harness_sandbox.engine.parse_engine).
SANDBOX_KEYS = {"engines"}
#: Built-in defaults of the run options (the command line and [run] override them).
RUN_DEFAULTS: dict[str, Any] = {"system": "direct", "repeats": 1, "max_concurrency": 4}
#: Options of `harness run` that describe one invocation, not a default: not allowed in [run].
NOT_DEFAULTS = {"help", "node_ids", "keyword", "marker", "limit", "lf", "resume", "run_id", "json", "config", "plugins", "task_opt", "system_opt"}
#: The --max-concurrency value that sizes the run to its resources (`Resources.auto_concurrency`).
AUTO = "auto"
#: harness.toml's one top-level key: models files (as `harness serve` writes) whose tables join its own.
MODELS_FILES = "models_files"
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


def concurrency(text: str) -> int | str:
    """--max-concurrency's type: a whole number >= 1 (checked later), or ``auto``: as many samples
    in flight as the run's backends and sandbox can serve (resolved once they have started)."""
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a whole number nor {AUTO!r}") from None


def closest(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the choice most like ``word``, or "" when none is close."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line L, column C)"
        raise ConfigError(f"{path}: malformed TOML: {exc}. Fix that line, or move the file away.") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


@dataclass
class FileSettings:
    """What harness.toml holds, its tables checked for shape (names and keys are checked
    against the plugins by `Config.check_settings`)."""

    path: Path | None = None
    models: dict[str, ModelConfig] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    systems: dict[str, dict[str, Any]] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    sandbox: dict[str, Any] = field(default_factory=dict)


def _sandbox_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    table = data.get("sandbox", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'sandbox' must be a table: [sandbox] with engines = [\"URL\", …]")
    unknown = sorted(set(table) - SANDBOX_KEYS)
    if unknown:
        raise ConfigError(f"{path}: [sandbox] has unknown key(s) {unknown}; allowed: {sorted(SANDBOX_KEYS)}")
    if not isinstance(table.get("engines", []), list):
        raise ConfigError(f'{path}: [sandbox] engines must be a list, e.g. engines = ["unix:///var/run/docker.sock", "ssh://user@host"]')
    return table


def _named_tables(data: dict[str, Any], table: str, path: Path) -> dict[str, dict[str, Any]]:
    value = data.get(table, {})
    bad = [name for name, body in value.items() if not isinstance(body, dict)] if isinstance(value, dict) else [table]
    if bad:
        raise ConfigError(f"{path}: '{table}' must be a table of [{table}.NAME] sections; {', '.join(map(repr, bad))} is not one")
    return value


def load_settings(path: Path) -> FileSettings:
    """Read and shape-check harness.toml, with the models files its ``models_files = [...]`` lists
    (paths relative to it; their [models.NAME] tables join its own, see `merge_models`).
    ConfigError names an unknown table and the known ones."""
    data = load_toml(path)
    listed = data.pop(MODELS_FILES, [])
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        hint = closest(unknown[0], [*TABLES, MODELS_FILES])
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(f'[{name}]' for name in unknown)}{hint or '.'} harness.toml has the tables "
            f"{', '.join(TABLES.values())} and the key {MODELS_FILES} = [\"FILE\", …]"
        )
    run = data.get("run", {})
    if not isinstance(run, dict):
        raise ConfigError(f"{path}: 'run' must be a table: [run] with option = value lines")
    models = _named_tables(data, "models", path)
    settings = FileSettings(
        path=path,
        models={name: _model_from_table(name, table, str(path)) for name, table in models.items()},
        tasks=_named_tables(data, "tasks", path),
        systems=_named_tables(data, "systems", path),
        run=run,
        sandbox=_sandbox_table(data, path),
    )
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise ConfigError(f'{path}: {MODELS_FILES} must be a list of paths, e.g. {MODELS_FILES} = ["served-a.toml", "served-b.toml"]')
    for item in listed:
        models_file = path.parent / item
        if not models_file.is_file():
            raise ConfigError(f"{path}: {MODELS_FILES} lists {item!r}, but {models_file} is no file; fix the path (relative to {path.parent})")
        other = load_settings(models_file)
        if other.run or other.tasks or other.systems or other.sandbox:
            raise ConfigError(f"{models_file} (listed in {path} {MODELS_FILES}): a models file holds only [models.NAME] tables")
        merge_models(settings.models, other.models, models_file)
    return settings


def merge_models(into: dict[str, ModelConfig], models: dict[str, ModelConfig], source: Path) -> None:
    """Add the ``models`` read from ``source`` to ``into``: a name that is new is added; a name
    already there is the same model served elsewhere, so its replicas (base_url) join the entry's
    list, and every other key must agree. ConfigError names the key that differs."""
    for name, model in models.items():
        known = into.get(name)
        if known is None:
            into[name] = copy.deepcopy(model)
            continue
        theirs, ours = model.describe(), known.describe()
        differing = [key for key in ours if key not in ("name", "base_urls") and ours[key] != theirs[key]]
        if differing:
            key = differing[0]
            raise ConfigError(
                f"{source}: [models.{name}] {key} = {theirs[key]!r}, but the same model read before has {key} = {ours[key]!r}. "
                f"Replicas of one model must agree on everything but base_url; make them agree, or give one fleet another name."
            )
        known.base_urls += [url for url in model.base_urls if url not in known.base_urls]


def merge_settings(parts: list[FileSettings]) -> FileSettings:
    """Several harness.toml files (``--config`` given more than once), in order: their models
    combine (`merge_models`); for [run], [sandbox], [tasks.NAME] and [systems.NAME] a later file's key wins."""
    if not parts:
        return FileSettings()
    merged = copy.deepcopy(parts[0])
    for part in parts[1:]:
        merge_models(merged.models, part.models, part.path or Path("harness.toml"))
        merged.run |= part.run
        merged.sandbox |= part.sandbox
        for mine, theirs in ((merged.tasks, part.tasks), (merged.systems, part.systems)):
            for name, table in theirs.items():
                mine[name] = mine.get(name, {}) | table
    return merged


def load_models(path: Path) -> dict[str, ModelConfig]:
    return load_settings(path).models


def option_text(value: Any) -> Any:
    """A harness.toml option value as ``--task-opt``/``--system-opt`` would give it: scalars as
    text (booleans as true/false), a list joined with commas. A sub-table, which the command
    line cannot give, stays a dict with TOML's own types."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(option_text(item)) for item in value)
    if isinstance(value, dict):
        return copy.deepcopy(value)
    return str(value)


def coerce_option(action: argparse.Action, value: Any, where: str) -> Any:
    """A [run] value converted as argparse would convert it on the command line."""
    flag = action.option_strings[-1] if action.option_strings else action.dest
    if action.nargs == 0:  # store_true and friends
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {action.dest} is a switch ({flag}); write true or false")
        return action.const if value else action.default
    many = isinstance(action, argparse._AppendAction) or action.nargs in ("*", "+")
    items = (value if isinstance(value, list) else [value]) if many else [value]
    converted = []
    for item in items:
        if isinstance(item, (dict, list, bool)):
            raise ConfigError(f"{where}: {action.dest} = {value!r}: give a value as for {flag}" + (" (or a list of them)" if many else ""))
        try:
            item = action.type(str(item)) if callable(action.type) else str(item)
        except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
            raise ConfigError(f"{where}: {action.dest} = {value!r}: not a valid {flag} ({exc})") from exc
        if action.choices is not None and item not in action.choices:
            raise ConfigError(f"{where}: {action.dest} = {value!r}: choose from {', '.join(map(str, action.choices))}")
        converted.append(item)
    return converted if many else converted[0]


class OptionParser:
    """What `harness_addoption` receives: options that every sample-running command accepts.
    Their defaults are kept here (the parser's own default is None), so that harness.toml's
    [run] can override them and a value typed on the command line is told from a default."""

    def __init__(self) -> None:
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.defaults: dict[str, Any] = {}

    def addoption(self, *names: str, **kwargs: Any) -> None:
        self.options.append((names, kwargs))

    def apply(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("plugin options")
        for names, kwargs in self.options:
            action = group.add_argument(*names, **kwargs)
            self.defaults[action.dest] = action.default
            action.default = None


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, str]:
    """['a=1', 'b=x'] -> {'a': '1', 'b': 'x'}, with a clear error for a missing '='."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _dest(name: str) -> str:
    return name.lstrip("-").replace("-", "_")


@dataclass
class Config:
    """The options of one command: its parsed command line, over harness.toml's [run], over the
    defaults of plugin options and `RUN_DEFAULTS`; plus the models, task and system tables."""

    options: argparse.Namespace
    plugins: Plugins
    models: dict[str, ModelConfig] = field(default_factory=dict)
    config_path: Path | None = None
    settings: FileSettings = field(default_factory=FileSettings)
    option_defaults: dict[str, Any] = field(default_factory=dict)

    def getoption(self, name: str, default: Any = None) -> Any:
        dest = _dest(name)
        for value in (getattr(self.options, dest, None), self.settings.run.get(dest), self.option_defaults.get(dest), RUN_DEFAULTS.get(dest)):
            if value is not None:
                return value
        return default

    def given(self, name: str) -> bool:
        """Whether the option was typed on the command line (not a default, not harness.toml)."""
        value = getattr(self.options, _dest(name), None)
        return not (value is None or value is False or value == [])

    def origin(self, name: str) -> str:
        """Where the option's value comes from, for messages: ``--max-cost`` or ``harness.toml [run] max_cost``."""
        dest = _dest(name)
        if not self.given(dest) and dest in self.settings.run:
            return f"{self.settings.path or 'harness.toml'} [run] {dest} ="
        return "--" + dest.replace("_", "-")

    def task_options(self, name: str, pairs: list[str] | None = None) -> dict[str, Any]:
        """Task ``name``'s options: its [tasks.NAME] table, then ``--task-opt`` pairs (later wins)."""
        return {k: option_text(v) for k, v in self.settings.tasks.get(name, {}).items()} | parse_pairs(pairs, "--task-opt")

    def system_options(self, name: str, pairs: list[str] | None = None) -> dict[str, Any]:
        """System ``name``'s options: its [systems.NAME] table, then ``--system-opt`` pairs."""
        return {k: option_text(v) for k, v in self.settings.systems.get(name, {}).items()} | parse_pairs(pairs, "--system-opt")

    @property
    def results_dir(self) -> Path:
        """--results-dir, else $HARNESS_RESULTS_DIR, else [run] results_dir, else results/."""
        typed = getattr(self.options, "results_dir", None)
        return Path(typed or os.environ.get("HARNESS_RESULTS_DIR") or self.settings.run.get("results_dir") or "results")

    def check_settings(self, run_actions: dict[str, argparse.Action]) -> None:
        """Check harness.toml against what is installed: [tasks.NAME] and [systems.NAME] name a
        registered task/system whose constructor accepts the table (it validates its own keys;
        a sub-table only where the class lists it in ``option_tables``), and [run] holds options
        of `harness run` (``run_actions``: dest -> argparse action), converted as argparse would.
        ConfigError names the table, the key and the known ones."""
        from harness.plugins import SINGULAR

        where = self.settings.path or Path("harness.toml")
        for kind, tables in (("tasks", self.settings.tasks), ("systems", self.settings.systems)):
            for name, table in tables.items():
                registry = self.plugins.registry[kind]
                if name not in registry:
                    raise ConfigError(
                        f"{where}: [{kind}.{name}]: no {SINGULAR[kind]} {name!r} is installed{closest(name, registry) or '.'} Known {kind}: {', '.join(sorted(registry)) or 'none'}"
                    )
                cls = registry[name].cls
                nested = sorted(k for k, v in table.items() if isinstance(v, dict) and k not in getattr(cls, "option_tables", ()))
                if nested:
                    raise ConfigError(f"{where}: [{kind}.{name}.{nested[0]}]: {SINGULAR[kind]} {name!r} takes no table option {nested[0]!r}; write {nested[0]} = VALUE under [{kind}.{name}]")
                try:
                    cls({k: option_text(v) for k, v in table.items()})
                except ConfigError as exc:
                    raise ConfigError(f"{where}: [{kind}.{name}]: {exc}") from exc
        allowed = {dest: action for dest, action in run_actions.items() if dest not in NOT_DEFAULTS}
        for key, value in self.settings.run.items():
            if key not in allowed:
                why = " (it belongs to one invocation, not to the defaults)." if key in run_actions else closest(key, allowed) or "."
                raise ConfigError(f"{where}: [run] has unknown key {key!r}{why} Known keys: {', '.join(sorted(allowed))}")
            self.settings.run[key] = coerce_option(allowed[key], value, f"{where}: [run]")


def find_config_files(explicit: list[str] | None) -> list[Path]:
    """The harness.toml files to read: every ``--config FILE`` in order, else $HARNESS_CONFIG,
    else ./harness.toml when there is one."""
    if explicit:
        missing = [name for name in explicit if not Path(name).is_file()]
        if missing:
            raise ConfigError(f"--config {missing[0]}: no such file")
        return [Path(name) for name in explicit]
    env = os.environ.get("HARNESS_CONFIG")
    if env:
        return [Path(env)]
    here = Path("harness.toml")
    return [here] if here.is_file() else []
