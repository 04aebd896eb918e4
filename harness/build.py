"""Turning options into live objects: backends from specs, the system, the task, the sandbox,
the selected samples, and the run.json spec that records all of it (and lets --resume redo it)."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config import Config, parse_pairs
from harness.errors import ConfigError, UsageError
from harness.llm import Backend
from harness.sandbox import Sandbox
from harness.select import select
from harness.store import list_runs
from harness.system import System
from harness.task import Task
from harness.types import Sample

DEFAULT_BACKEND = "llamacpp:smollm2"
DEFAULT_SANDBOX = "docker"


def resolve_backend(spec: str, config: Config) -> Backend:
    """``scheme:rest`` -> that scheme's backend; a bare NAME -> the models table's entry."""
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
    default_spec: str | None, role_pairs: list[str] | None, config: Config, system: System, task: Task | None = None
) -> dict[str, Backend]:
    """Role -> backend; one instance per distinct spec (roles sharing a spec share a server).
    Roles are the system's and the task's own (a dialog task's ``user`` and ``judge``); a role
    without ``--role ROLE=SPEC`` uses the default backend. A run where neither calls a model
    (a system that replays answers made elsewhere on a code task) gets none."""
    task_roles = tuple(task.roles) if task is not None else ()
    if not system.roles and not task_roles:
        if default_spec or role_pairs:
            raise ConfigError(f"system {system.name!r} calls no model: drop --backend/--role")
        return {}
    specs = {"default": default_spec or DEFAULT_BACKEND} | parse_pairs(role_pairs, "--role")
    unknown = set(specs) - set(system.roles) - set(task_roles) - {"default"}
    if unknown:
        known = [f"{role} (system {system.name})" for role in system.roles] + [f"{role} (task {task.name})" for role in task_roles]
        raise ConfigError(f"no role(s) {sorted(unknown)} in this run; its roles: {', '.join(known)}")
    by_spec: dict[str, Backend] = {}
    for spec in specs.values():
        if spec not in by_spec:
            by_spec[spec] = resolve_backend(spec, config)
    return {role: by_spec[spec] for role, spec in specs.items()}


def make_system(name: str, options: dict[str, str], config: Config) -> System:
    return config.plugins.get("systems", name)(options)


def make_task(name: str, options: dict[str, str], config: Config) -> Task:
    return config.plugins.get("tasks", name)(options)


def make_sandbox(name: str | None, config: Config) -> Sandbox:
    cls = config.plugins.get("sandboxes", name or DEFAULT_SANDBOX)
    return cls(config)


def latest_failures(config: Config, system: str, task: str, backend: str) -> tuple[str | None, set[str]]:
    """(run id, node ids that did not pass) of the latest run of the same system/task/backend."""
    for store in reversed(list_runs(config.results_dir)):
        inv = store.read_spec().get("invocation", {})
        if (inv.get("system"), inv.get("task"), inv.get("backend")) == (system, task, backend):
            failed = {r["node_id"] for r in store.read_records() if r["status"] != "passed"}
            return store.run_id, failed
    return None, set()


def select_samples(task: Task, config: Config, node_ids: list[str], *, lf_key: tuple[str, str, str] | None = None) -> tuple[list[Sample], int, dict[str, Any]]:
    """Apply node ids, -k, -m, the collection hook, --lf and --limit. Returns (selected, total, notes)."""
    everything = task.samples()
    chosen = select(everything, node_ids=node_ids, keyword=config.getoption("keyword"), marker=config.getoption("marker"))
    config.plugins.hook.harness_collection_modifyitems(config=config, samples=chosen)
    notes: dict[str, Any] = {}
    if lf_key is not None:
        run_id, failed = latest_failures(config, *lf_key)
        notes["lf_from"] = run_id
        narrowed = [s for s in chosen if s.node_id in failed]
        if narrowed:
            chosen = narrowed
        else:  # pytest's default (--lfnf=all): nothing failed last time, so run everything selected
            notes["lf_note"] = "no previous run" if run_id is None else f"no failures in run {run_id}"
    limit = config.getoption("limit")
    if limit is not None:
        if limit < 0:
            raise UsageError(f"--limit {limit}: give a number >= 0")
        chosen = chosen[:limit]
    return chosen, len(everything), notes


def git_state(path: Path) -> dict[str, Any] | None:
    try:
        commit = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain"], capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def make_spec(run_id: str, invocation: dict[str, Any], system: System, task: Task, samples: list[Sample], selection: dict[str, Any], config: Config) -> dict[str, Any]:
    """run.json: everything needed to reproduce the run. Backends and the sandbox are added under
    ``resolved`` once they have started (their endpoints and image ids are known then)."""
    return {
        "run_id": run_id,
        "status": "running",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ended_at": None,
        "invocation": invocation,
        "system": system.describe(),
        "task": {"name": task.name, "version": task.version, "kind": task.kind, "options": task.options, "dataset": task.dataset_identity()},
        "selection": selection | {"selected": [s.node_id for s in samples]},
        "versions": {
            "harness": __version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "plugins": config.plugins.versions(),
        },
        "git": {"cwd": git_state(Path.cwd()), "harness": git_state(Path(__file__).resolve().parent.parent)},
        "command": sys.argv,
    }
