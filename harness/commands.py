"""The sub-commands of ``harness``: each takes the Config and returns the exit code."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.build import (
    DEFAULT_BACKEND,
    make_sandbox,
    make_spec,
    make_system,
    make_task,
    resolve_backends,
    select_samples,
)
from harness.config import Config, parse_pairs
from harness.context import Budget
from harness.errors import UsageError
from harness.plugins import KINDS
from harness.reports_cli import cmd_show_sample
from harness.runner import Run, execute
from harness.sandbox import Sandbox
from harness.select import split_node_id
from harness.store import RunStore, new_run_id
from harness.system import System
from harness.task import Task

EXIT_OK, EXIT_INFRA, EXIT_INTERRUPTED = 0, 1, 130
#: Options that describe this invocation, not the run: never replayed by --resume.
_NOT_REPLAYED = {"handler", "resume", "json", "run_id", "results_dir", "config", "plugins", "command"}


def _task_name(config: Config) -> str:
    name = config.getoption("task")
    if name:
        return name
    tasks = {split_node_id(n)[0] for n in config.getoption("node_ids", [])}
    if len(tasks) == 1:
        return tasks.pop()
    known = ", ".join(config.plugins.names("tasks"))
    raise UsageError(f"which task? Give --task NAME or node ids of one task. Known tasks: {known}")


def _check_positive(config: Config, *names: str) -> None:
    for name in names:
        value = config.getoption(name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} {value}: give a number >= 1")


def _invocation(config: Config, system: System) -> dict[str, Any]:
    """The options to replay on --resume (JSON-able values only)."""
    options = {k: v for k, v in vars(config.options).items() if k not in _NOT_REPLAYED and isinstance(v, (str, int, float, bool, list, type(None)))}
    backend = (config.getoption("backend") or DEFAULT_BACKEND) if system.roles else None
    return {"system": system.name, "task": _task_name(config), "backend": backend, "options": options}


def _prepare(config: Config) -> tuple[System, Task, dict, Sandbox]:
    """Everything a run needs, checked before any model call (the sandbox included)."""
    _check_positive(config, "repeats", "max_concurrency")
    system = make_system(config.getoption("system"), parse_pairs(config.getoption("system_opt"), "--system-opt"), config)
    task = make_task(_task_name(config), parse_pairs(config.getoption("task_opt"), "--task-opt"), config)
    check_kinds(config, system, task)
    sandbox = make_sandbox(config.getoption("sandbox"), config)
    type(sandbox).preflight(config)
    backends = resolve_backends(config.getoption("backend"), config.getoption("role"), config, system, task)
    return system, task, backends, sandbox


def check_kinds(config: Config, system: System, task: Task) -> None:
    """Refuse, before anything starts, a system that cannot do the task's kind of task; the
    message names the tasks it can do and the systems that can do this task."""
    if task.kind in system.kinds:
        return
    registry = config.plugins.registry
    its_tasks = sorted(n for n, r in registry["tasks"].items() if getattr(r.cls, "kind", "code") in system.kinds)
    able = sorted(n for n, r in registry["systems"].items() if task.kind in getattr(r.cls, "kinds", ()))
    raise UsageError(
        f"system {system.name!r} cannot do {task.kind} tasks such as {task.name!r}: it does {'/'.join(sorted(system.kinds))} tasks "
        f"({', '.join(its_tasks) or 'none installed'}). Systems that can do {task.name!r}: {', '.join(able) or 'none installed'}."
    )


def _new_run(config: Config) -> Run:
    system, task, backends, sandbox = _prepare(config)
    invocation = _invocation(config, system)
    lf_key = (system.name, task.name, invocation["backend"]) if config.getoption("lf") else None
    samples, total, notes = select_samples(task, config, config.getoption("node_ids", []), lf_key=lf_key)
    if not samples:
        raise UsageError(f"no sample selected (0 of {total}); loosen -k/-m/node ids, or check `harness list --task {task.name}`")
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
    return create_run(config, invocation, system, task, backends, sandbox, samples, selection)


def create_run(config: Config, invocation: dict, system: System, task: Task, backends: dict, sandbox: Sandbox, samples: list, selection: dict) -> Run:
    """A new run folder with its run.json, and the Run that fills it (used by `run` and `score`)."""
    store = RunStore.create(config.results_dir, config.getoption("run_id") or new_run_id(system.name, task.name))
    spec = make_spec(store.run_id, invocation, system, task, samples, selection, config)
    spec |= {"repeats": config.getoption("repeats", 1), "seed": config.getoption("seed"), "max_concurrency": config.getoption("max_concurrency", 4), "max_cost": config.getoption("max_cost")}
    store.write_spec(spec)
    return _make_run(config, store, spec, system, task, backends, sandbox, samples)


def _resume_run(config: Config) -> Run:
    store = RunStore.open(config.results_dir, config.getoption("resume"))
    spec = store.read_spec()
    invocation = spec.get("invocation", {})
    for key, value in invocation.get("options", {}).items():
        setattr(config.options, key, value)
    system, task, backends, sandbox = _prepare(config)
    recorded = spec["task"]["dataset"].get("sha256")
    if recorded and task.dataset_identity().get("sha256") != recorded:
        raise UsageError(f"run {store.run_id}: the task's data changed since the run started (sha256 differs); start a new run instead of resuming")
    by_node = {s.node_id: s for s in task.samples()}
    missing = [n for n in spec["selection"]["selected"] if n not in by_node]
    if missing:
        raise UsageError(f"run {store.run_id}: samples {missing[:5]} no longer exist in task {task.name!r}")
    store.drop_torn_tail()
    spec["status"] = "running"
    spec.setdefault("resumed_at", []).append(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    samples = [by_node[n] for n in spec["selection"]["selected"]]
    run = _make_run(config, store, spec, system, task, backends, sandbox, samples)
    earlier = store.read_summary() or {}
    run.earlier_wall_seconds = earlier.get("wall_seconds", 0.0)
    # --max-cost covers the whole run, every role's spending (a dialog task's simulated user too)
    run.budget.spent = sum(sum(m.get("cost", 0.0) for m in (r.get("roles") or {}).values()) for r in store.read_records())
    return run


def _make_run(config: Config, store: RunStore, spec: dict, system: System, task: Task, backends: dict, sandbox: Sandbox, samples: list) -> Run:
    return Run(
        store=store,
        spec=spec,
        plugins=config.plugins,
        system=system,
        task=task,
        backends=backends,
        sandbox=sandbox,
        samples=samples,
        repeats=config.getoption("repeats", 1),
        max_concurrency=config.getoption("max_concurrency", 4),
        seed=config.getoption("seed"),
        budget=Budget(limit=config.getoption("max_cost")),
    )


def cmd_run(config: Config) -> int:
    if not config.getoption("resume"):
        members = config.plugins.get("tasks", _task_name(config)).members
        if members:
            return _run_suite(config, members)
    run = _resume_run(config) if config.getoption("resume") else _new_run(config)
    try:
        summary = asyncio.run(execute(run))
    except KeyboardInterrupt:
        print(f"interrupted: records kept in {run.store.path}; finish with `harness run --resume {run.id}`", file=sys.stderr)
        return EXIT_INTERRUPTED
    if config.getoption("json"):
        print(json.dumps(summary, default=str))
    else:
        print(run.store.path)
    return EXIT_INFRA if summary["counts"]["infra_error"] else EXIT_OK


def _run_suite(config: Config, members: tuple[str, ...]) -> int:
    """Run each member task of a suite in turn with the same options, one run folder each (each
    resumable on its own), then print one summary of all of them."""
    suite = _task_name(config)
    if config.getoption("node_ids"):
        raise UsageError(f"task {suite!r} is a suite of {', '.join(members)}: select with -k/-m, or give node ids with --task MEMBER")
    options = parse_pairs(config.getoption("task_opt"), "--task-opt")
    for name in members:  # every member's options are checked before anything starts
        make_task(name, options, config)
    run_id = config.getoption("run_id")
    summaries = []
    for name in members:
        config.options.task = name
        if run_id:
            config.options.run_id = f"{run_id}-{name}"
        run = _new_run(config)
        try:
            summary = asyncio.run(execute(run))
        except KeyboardInterrupt:
            done = ", ".join(s["run_id"] for s in summaries)
            print(f"interrupted in {name}: finish it with `harness run --resume {run.id}`" + (f" (done: {done})" if done else ""), file=sys.stderr)
            return EXIT_INTERRUPTED
        summaries.append(summary | {"task": name})
    if config.getoption("json"):
        print(json.dumps({"suite": suite, "runs": summaries}, default=str))
    else:
        keys = sorted({k for s in summaries for k, v in s["metrics"].items() if v is not None and k != "pass@1"}, key=lambda k: (k[:5], len(k), k))
        rows = [
            [s["task"], s["run_id"], s["counts"]["passed"], s["attempts"], s["counts"]["infra_error"], *(_fmt(s["metrics"].get(k)) for k in keys), f"{s['cost']:.4f}", f"{s['wall_seconds']:.0f}"]
            for s in summaries
        ]
        print(tabulate(rows, headers=["task", "run", "passed", "attempts", "infra errors", *keys, "cost $", "wall s"]))
    return EXIT_INFRA if any(s["counts"]["infra_error"] for s in summaries) else EXIT_OK


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def cmd_list(config: Config) -> int:
    task = make_task(_task_name(config), parse_pairs(config.getoption("task_opt"), "--task-opt"), config)
    samples, total, _ = select_samples(task, config, config.getoption("node_ids", []))
    for sample in samples:
        print(sample.node_id)
    print(f"{len(samples)} selected / {total} total")
    return EXIT_OK


def cmd_plugins(config: Config) -> int:
    rows = [
        {
            "plugin": info.name,
            "module": info.module,
            "distribution": info.distribution,
            "version": info.version,
            "kinds": sorted(info.registered),
            "registered": info.registered,
        }
        for info in config.plugins.infos.values()
    ]
    if config.getoption("json"):
        print(json.dumps(rows))
        return EXIT_OK
    table = [
        [r["plugin"], ", ".join(r["kinds"]) or "hooks", "; ".join(f"{k}: {', '.join(v)}" for k, v in r["registered"].items()), r["distribution"] or r["module"], r["version"] or ""]
        for r in rows
    ]
    print(tabulate(table, headers=["plugin", "kinds", "registers", "distribution", "version"]))
    for kind in KINDS:
        print(f"{kind}: {', '.join(config.plugins.names(kind)) or '-'}")
    return EXIT_OK


def cmd_show(config: Config) -> int:
    if config.getoption("sample"):
        return cmd_show_sample(config)
    store = RunStore.open(config.results_dir, config.getoption("run_id"))
    spec = store.read_spec()
    records = store.read_records()
    backends = spec.get("resolved", {}).get("backends", {})
    print(f"run {spec['run_id']}  status {spec.get('status')}  started {spec.get('started_at')}  ended {spec.get('ended_at')}")
    print(f"system {spec['system']['name']} {spec['system'].get('options') or ''}")
    print(f"task {spec['task']['name']} {spec['task'].get('options') or ''}  dataset {spec['task']['dataset'].get('sha256', '')[:12]}")
    for role, backend in backends.items():
        print(f"backend[{role}] {backend.get('spec')}  {backend.get('base_urls', '')}")
    print(f"sandbox {spec.get('resolved', {}).get('sandbox', {}).get('tier')}  selected {len(spec['selection']['selected'])}  repeats {spec.get('repeats')}")
    if spec.get("stop_reason"):
        print(f"stopped: {spec['stop_reason']}")
    if config.getoption("failed"):
        records = [r for r in records if r["status"] != "passed"]
    rows = [[r["node_id"], r["repeat"], r["status"], r["llm_calls"], r["input_tokens"] + r["output_tokens"], f"{r['cost']:.4f}", f"{r['latency']:.2f}", (r.get("error") or "")[:60]] for r in records]
    print(tabulate(rows, headers=["sample", "repeat", "status", "calls", "tokens", "cost", "seconds", "error"]))
    summary = store.read_summary()
    if summary:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in summary["metrics"].items() if v is not None)
        print(f"{summary['counts']}  {metrics}")
    return EXIT_OK


# --- sandbox administration -------------------------------------------------------------------


def _sandbox_class(config: Config) -> type[Sandbox]:
    return make_sandbox(config.getoption("sandbox"), config).__class__


def cmd_sandbox_build(config: Config) -> int:
    print(_sandbox_class(config).build(config, offline=bool(config.getoption("offline"))))
    return EXIT_OK


def cmd_sandbox_check(config: Config) -> int:
    rows = _sandbox_class(config).check(config)
    print(tabulate([[r.check, "ok" if r.ok else "FAIL", r.detail] for r in rows], headers=["check", "result", "detail"]))
    return EXIT_OK if rows and all(r.ok for r in rows) else EXIT_INFRA


def cmd_sandbox_cleanup(config: Config) -> int:
    removed = _sandbox_class(config).cleanup(config)
    print(f"removed {removed} leftover sandbox container(s)")
    return EXIT_OK


def cmd_sandbox_exec(config: Config) -> int:
    path = Path(config.getoption("file"))
    try:
        source = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    sandbox = make_sandbox(config.getoption("sandbox"), config)
    type(sandbox).preflight(config)

    async def once() -> Any:
        await sandbox.start()
        try:
            return await sandbox.run({path.name: source}, ["python3", path.name], timeout=config.getoption("timeout"))
        finally:
            await sandbox.close()

    result = asyncio.run(once())
    fields = {
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "timed_out": result.timed_out,
        "oom": result.oom,
        "truncated": result.truncated,
        "duration": round(result.duration, 4),
        "tier": result.tier,
    }
    if config.getoption("json"):
        print(json.dumps(fields))
    else:
        for key, value in fields.items():
            print(f"{key}: {value}" if key not in ("stdout", "stderr") else f"{key}:\n{value}")
    return EXIT_OK
