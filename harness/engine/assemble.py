"""Assembling a run from options: the system, the task, its resources, the selected samples, the
run.json spec that records all of it (`harness.engine.resume` rebuilds it from run.json alone).

Options come from the command line, over harness.toml ([run], [tasks.NAME], [systems.NAME]),
over the built-in defaults; run.json records the values in effect, so ``--resume`` needs neither
the command line nor harness.toml.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config import AUTO, Config
from harness.context import Budget
from harness.engine.scheduler import Run
from harness.engine.selection import marker_hint, select, split_node_id
from harness.errors import UsageError
from harness.resources import DEFAULT_BACKEND, Resources
from harness.store import RunStore, list_runs, new_run_id
from harness.system import System
from harness.task import Task
from harness.types import Sample

#: Options that describe this invocation, not the run: never replayed by --resume. (The system's
#: and task's options are replayed from run.json's ``system.options`` and ``task.options``.)
NOT_REPLAYED = {"handler", "resume", "json", "run_id", "results_dir", "config", "plugins", "command", "system_opt", "task_opt"}


def make_system(name: str, options: dict[str, str], config: Config) -> System:
    return config.plugins.get("systems", name)(options)


def make_task(name: str, options: dict[str, str], config: Config) -> Task:
    return config.plugins.get("tasks", name)(options)


def configured_task(config: Config) -> Task:
    """The task of the command line: its [tasks.NAME] table under its ``--task-opt`` pairs."""
    name = task_name(config)
    return make_task(name, config.task_options(name, config.getoption("task_opt")), config)


def task_name(config: Config) -> str:
    """--task, else the one task that the node ids name, else [run] task; UsageError listing the
    tasks otherwise."""
    if config.given("task"):
        return config.getoption("task")
    tasks = {split_node_id(n)[0] for n in config.getoption("node_ids", [])}
    if len(tasks) == 1:
        return tasks.pop()
    if not tasks and config.getoption("task"):
        return config.getoption("task")
    known = ", ".join(config.plugins.names("tasks"))
    raise UsageError(f"which task? Give --task NAME or node ids of one task. Known tasks: {known}")


def check_positive(config: Config, *names: str) -> None:
    for name in names:
        value = config.getoption(name)
        if value is not None and value != AUTO and value < 1:
            raise UsageError(f"{config.origin(name)} {value}: give a number >= 1")


def latest_failures(config: Config, system: str, task: str, backend: str) -> tuple[str | None, set[str]]:
    """(run id, node ids that did not pass) of the latest run of the same system/task/backend."""
    for store in reversed(list_runs(config.results_dir)):
        inv = store.read_spec().get("invocation", {})
        if (inv.get("system"), inv.get("task"), inv.get("backend")) == (system, task, backend):
            failed = {r.node_id for r in store.read_records() if not r.passed}
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


def nothing_selected(task: Task, config: Config, total: int) -> str:
    """What to say when a selection picked no sample, with a hint for -m."""
    message = f"no sample selected (0 of {total}); loosen -k/-m/node ids, or check `harness list --task {task.name}`"
    marker = config.getoption("marker")
    if marker:
        before_marker = select(task.samples(), node_ids=config.getoption("node_ids", []), keyword=config.getoption("keyword"))
        message += ". " + marker_hint(marker, before_marker, getattr(task, "OPTIONS", {}))
    return message


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


def invocation(config: Config, system: System, task: Task) -> dict[str, Any]:
    """What --resume replays: the system, task and backend, and the value in effect of every
    JSON-able option (typed, from harness.toml or a default)."""
    values = {k: config.getoption(k) for k in vars(config.options) if k not in NOT_REPLAYED}
    options = {k: v for k, v in values.items() if isinstance(v, (str, int, float, bool, list, type(None)))}
    options |= {"system": system.name, "task": task.name}
    backend = (config.getoption("backend") or DEFAULT_BACKEND) if system.roles else None
    return {"system": system.name, "task": task.name, "backend": backend, "options": options}


def check_kinds(config: Config, system: System, task: Task) -> None:
    """Refuse, before anything starts, a system that cannot do the task's kind of task; the
    message names the tasks it can do and the systems that can do this task."""
    if task.kind in system.kinds:
        return
    registry = config.plugins.registry
    its_tasks = sorted(n for n, r in registry["tasks"].items() if r.cls.kind in system.kinds)
    able = sorted(n for n, r in registry["systems"].items() if task.kind in r.cls.kinds)
    raise UsageError(
        f"system {system.name!r} cannot do {task.kind} tasks such as {task.name!r}: it does {'/'.join(sorted(system.kinds))} tasks "
        f"({', '.join(its_tasks) or 'none installed'}). Systems that can do {task.name!r}: {', '.join(able) or 'none installed'}."
    )


def prepare(
    config: Config, system_options: dict[str, Any] | None = None, task_options: dict[str, Any] | None = None, system: System | None = None
) -> tuple[System, Task, Resources]:
    """The system, task and resources of a run, checked before any model call (the sandbox too).
    Their options are the given ones (a resumed run's), else harness.toml's and the command
    line's; ``system`` replaces the one the options name (check-task's reference agent of a
    dialog task). The task's own model roles (a simulated user, a judge) get backends beside the
    system's."""
    check_positive(config, "repeats", "max_concurrency", "max_infra_errors")
    Budget.from_config(config)
    if system is None:
        name = config.getoption("system")
        system = make_system(name, config.system_options(name, config.getoption("system_opt")) if system_options is None else system_options, config)
    task = configured_task(config) if task_options is None else make_task(task_name(config), task_options, config)
    check_kinds(config, system, task)
    resources = Resources.resolve(config, Resources.roles_of(system, task), system)
    return system, task, resources


def new_run(config: Config, samples: list[Sample] | None = None, selection: dict[str, Any] | None = None, system: System | None = None) -> Run:
    """A new run folder with its run.json, and the Run that fills it. ``samples`` (with their
    ``selection`` notes) overrides the command line's selection, as `harness score` does;
    ``system`` the system the options name (check-task's reference agent of a dialog task)."""
    system, task, resources = prepare(config, system=system)
    if samples is None:
        lf_key = (system.name, task.name, invocation(config, system, task)["backend"]) if config.getoption("lf") else None
        samples, total, notes = select_samples(task, config, config.getoption("node_ids", []), lf_key=lf_key)
        answered = [s for s in samples if system.attempts(s) != 0]
        if len(answered) < len(samples):
            notes["left_out_by_system"] = len(samples) - len(answered)
            print(f"system {system.name}: has no answer for {len(samples) - len(answered)} of the {len(samples)} selected samples; they are left out", file=sys.stderr)
            samples = answered
        if not samples:
            raise UsageError(nothing_selected(task, config, total))
        if notes.get("lf_note"):
            print(f"--lf: {notes['lf_note']}; running all {len(samples)} selected samples", file=sys.stderr)
        selection = {
            "node_ids": config.getoption("node_ids", []),
            "keyword": config.getoption("keyword"),
            "marker": config.getoption("marker"),
            "limit": config.getoption("limit"),
            "lf": bool(lf_key),
            "total": total,
        } | notes
    store = RunStore.create(config.results_dir, config.getoption("run_id") or new_run_id(system.name, task.name))
    with unlocked_on_error(store):
        return _start(config, store, system, task, resources, samples, selection)


@contextmanager
def unlocked_on_error(store: RunStore) -> Iterator[None]:
    """Release the run's lock when assembling fails (execute releases it otherwise)."""
    try:
        yield
    except BaseException:
        store.lock.release()
        raise


def _start(config: Config, store: RunStore, system: System, task: Task, resources: Resources, samples: list[Sample], selection: dict[str, Any] | None) -> Run:
    spec = make_spec(store.run_id, invocation(config, system, task), system, task, samples, selection or {}, config)
    spec |= {
        "repeats": config.getoption("repeats"),
        "seed": config.getoption("seed"),
        "max_concurrency": config.getoption("max_concurrency"),
        "max_cost": config.getoption("max_cost"),
        "max_infra_errors": config.getoption("max_infra_errors"),
    }
    store.write_spec(spec)
    return make_run(config, store, spec, system, task, resources, samples)


def make_run(config: Config, store: RunStore, spec: dict[str, Any], system: System, task: Task, resources: Resources, samples: list[Sample]) -> Run:
    return Run(
        store=store,
        spec=spec,
        plugins=config.plugins,
        system=system,
        task=task,
        resources=resources,
        samples=samples,
        repeats=config.getoption("repeats"),
        max_concurrency=config.getoption("max_concurrency"),
        max_infra_errors=config.getoption("max_infra_errors"),
        seed=config.getoption("seed"),
        budget=Budget.from_config(config),
    )
