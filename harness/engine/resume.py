"""``harness run --resume RUN_ID``: a run rebuilt from its run.json alone, by the one process
allowed to write it (`harness.runlock`).

Options typed with ``--resume`` that would change what the run measures are refused, each named
with the run's value; a larger ``--repeats`` grows the run, and the options in
`APPLIED_ON_RESUME` apply to the rest of it. Both are said on stderr and recorded in run.json
(``resume_changes``).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from harness.config import RUN_DEFAULTS, Config, parse_pairs
from harness.engine.assemble import (
    NOT_REPLAYED,
    make_run,
    make_system,
    make_task,
    prepare,
    unlocked_on_error,
)
from harness.engine.scheduler import Run
from harness.errors import UsageError
from harness.store import RunStore

#: Options --resume applies to the rest of a run: how it runs, not what it measures.
APPLIED_ON_RESUME = ("max_concurrency", "max_cost", "max_infra_errors")


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _option_conflicts(config: Config, kind: str, recorded_name: str, recorded: dict[str, Any]) -> list[str]:
    """``--task-opt``/``--system-opt`` pairs typed on resume that would change the recorded
    options (compared after the class has normalised them, e.g. a path made absolute)."""
    flag = f"--{kind}-opt"
    typed = parse_pairs(config.getoption(f"{kind}_opt"), flag)
    make = make_task if kind == "task" else make_system
    candidate = make(recorded_name, recorded | typed, config).options
    return [
        f"{flag} {key}={typed[key]} " + (f"(the run has {key}={recorded[key]})" if key in recorded else f"(the run leaves {key} unset)")
        for key in typed
        if candidate.get(key) != recorded.get(key)
    ]


def resume_changes(config: Config, spec: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Options typed with --resume that the run can take: option -> (recorded, new). UsageError
    naming every typed option that would change what the run measures."""
    recorded = spec.get("invocation", {}).get("options", {})
    names = {"system": spec["system"]["name"], "task": spec["task"]["name"]}
    used = names | {"backend": spec.get("invocation", {}).get("backend"), "sandbox": spec.get("resolved", {}).get("sandbox", {}).get("tier")}
    conflicts: list[str] = []
    changes: dict[str, tuple[Any, Any]] = {}
    for key in sorted(vars(config.options)):
        if key in NOT_REPLAYED or not config.given(key):
            continue
        value = getattr(config.options, key)
        before = recorded[key] if recorded.get(key) is not None else used.get(key, RUN_DEFAULTS.get(key))
        if value == before:
            continue
        if key in APPLIED_ON_RESUME or (key == "repeats" and value > (before or 1)):
            changes[key] = (before, value)
        elif key == "node_ids":
            conflicts.append(f"node ids {_shown(value)} (the run's selection is fixed: {len(spec['selection']['selected'])} samples)")
        elif key == "repeats":
            conflicts.append(f"--repeats {value} (the run has {before}; a run's repeats can grow, not shrink)")
        else:
            flag = "-k" if key == "keyword" else "-m" if key == "marker" else "--" + key.replace("_", "-")
            conflicts.append(f"{flag} {_shown(value)} (the run has {_shown(before) if before is not None else 'none'})")
    for kind in ("task", "system"):
        if config.given(f"{kind}_opt"):
            conflicts += _option_conflicts(config, kind, names[kind], spec[kind].get("options") or {})
    if conflicts:
        raise UsageError(
            f"harness run --resume {spec['run_id']}: {'; '.join(conflicts)}. A resumed run keeps the options it started with: "
            f"drop these to finish it, or start a new run. (--resume takes a larger --repeats, and {', '.join('--' + k.replace('_', '-') for k in APPLIED_ON_RESUME)}.)"
        )
    return changes


def _record_changes(spec: dict[str, Any], changes: dict[str, tuple[Any, Any]], when: str) -> str:
    """Apply ``changes`` to run.json's spec; returns what to tell the user."""
    for key, (_, new) in changes.items():
        spec["invocation"]["options"][key] = new
        if key in spec:
            spec[key] = new
    spec.setdefault("resume_changes", []).append({"at": when} | {key: {"from": old, "to": new} for key, (old, new) in changes.items()})
    said = [f"--{key.replace('_', '-')} {old} -> {new}" for key, (old, new) in changes.items()]
    if "repeats" in changes:
        said.append(f"the run grows to {changes['repeats'][1]} repeats per sample")
    return f"run {spec['run_id']}: resuming with {'; '.join(said)}"


def take_lock(store: RunStore) -> None:
    store.lock.acquire()
    gone = store.lock.taken_over
    if gone:
        print(f"run {store.run_id}: its last writer (pid {gone.get('pid')} on {gone.get('host')}) is gone; this process takes the run over", file=sys.stderr)


def resume_run(config: Config) -> Run:
    """The Run of an interrupted run, rebuilt from its run.json alone (harness.toml's [run] is
    not consulted), with the options `resume_changes` allows. Refused while another process
    writes the run."""
    store = RunStore.open(config.results_dir, config.getoption("resume"))
    take_lock(store)
    with unlocked_on_error(store):
        return _resume(config, store)


def _resume(config: Config, store: RunStore) -> Run:
    spec = store.read_spec()
    changes = resume_changes(config, spec)
    config.settings.run = {}
    for key, value in spec.get("invocation", {}).get("options", {}).items():
        setattr(config.options, key, value)
    for key, (_, new) in changes.items():
        setattr(config.options, key, new)
    config.options.system, config.options.task = spec["system"]["name"], spec["task"]["name"]
    system, task, resources = prepare(config, spec["system"].get("options") or {}, spec["task"].get("options") or {})
    recorded = spec["task"]["dataset"].get("sha256")
    if recorded and task.dataset_identity().get("sha256") != recorded:
        raise UsageError(f"run {store.run_id}: the task's data changed since the run started (sha256 differs); start a new run instead of resuming")
    by_node = {s.node_id: s for s in task.samples()}
    missing = [n for n in spec["selection"]["selected"] if n not in by_node]
    if missing:
        raise UsageError(f"run {store.run_id}: samples {missing[:5]} no longer exist in task {task.name!r}")
    store.drop_torn_tail()
    spec["status"] = "running"
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    spec.setdefault("resumed_at", []).append(now)
    if changes:
        print(_record_changes(spec, changes, now), file=sys.stderr)
    samples = [by_node[n] for n in spec["selection"]["selected"]]
    run = make_run(config, store, spec, system, task, resources, samples)
    earlier = store.read_summary() or {}
    run.earlier_wall_seconds = earlier.get("wall_seconds", 0.0)
    run.earlier_serving = earlier.get("serving") or {}
    # --max-cost covers the whole run, every role's spending (a dialog task's simulated user too)
    run.budget.spent = sum(sum(m.get("cost", 0.0) for m in r.roles.values()) for r in store.read_records())
    return run
