"""The built-in plugin ``subruns``: `harness.subruns.run_samples` (a run that a plugin's command
starts on resources it holds open) answered with the engine that ``harness run`` uses.

Such a run is an ordinary run folder: run.json records how it was made (``selection.started_by``
says ``harness.subruns``), and its invocation names the system, task, samples, backends by role
and sandbox, so that ``harness run --resume RUN_ID --results-dir FOLDER`` can finish it too.
"""

from __future__ import annotations

import time
from typing import Any

from harness import hookimpl
from harness.config import AUTO, Config
from harness.context import Budget
from harness.engine.assemble import (
    check_kinds,
    make_spec,
    make_system,
    make_task,
    unlocked_on_error,
)
from harness.engine.resume import take_lock
from harness.engine.scheduler import Run, execute
from harness.errors import UsageError
from harness.resources import Resources
from harness.store import RUN_FILE, RunStore
from harness.subruns import SampleRun
from harness.system import System
from harness.task import Task
from harness.types import Sample

#: What run.json's ``selection.started_by`` says of these runs.
STARTED_BY = "harness.subruns"


@hookimpl
def harness_run_samples(config: Config, resources: Resources, request: SampleRun) -> Any:
    return run_samples(config, resources, request)


async def run_samples(config: Config, resources: Resources, request: SampleRun) -> dict[str, Any]:
    """See `harness.subruns.run_samples`."""
    if request.repeats < 1 or (request.max_concurrency != AUTO and request.max_concurrency < 1):
        raise UsageError(f"run {request.run_id}: repeats and max_concurrency must be >= 1 (got {request.repeats}, {request.max_concurrency})")
    system = make_system(request.system, dict(request.system_options), config)
    task = make_task(request.task, dict(request.task_options), config)
    check_kinds(config, system, task)
    held = held_resources(resources, system, task)
    if (request.results_dir / request.run_id / RUN_FILE).is_file():
        run = _continued(config, held, request, system, task)
        if run is None:
            return RunStore.open(request.results_dir, request.run_id).read_summary() or {}
    else:
        run = _created(config, held, request, system, task)
    return await execute(run)


def held_resources(resources: Resources, system: System, task: Task) -> Resources:
    """The caller's backends that the run's roles use (by role, plus ``default``) and its sandbox.
    UsageError when a role has neither its own backend nor a default one."""
    roles = Resources.roles_of(system, task)
    backends = {role: backend for role, backend in resources.backends.items() if role == "default" or role in roles}
    missing = sorted(role for role in roles if role not in backends)
    if missing and "default" not in backends:
        raise UsageError(f"system {system.name} on task {task.name} calls the model role(s) {missing}, and the resources given have no backend for them (nor a default one)")
    return Resources(backends, resources.sandbox)


def _chosen(task: Task, node_ids: tuple[str, ...], run_id: str) -> list[Sample]:
    by_node = {sample.node_id: sample for sample in task.samples()}
    unknown = [node for node in node_ids if node not in by_node]
    if unknown:
        raise UsageError(f"run {run_id}: task {task.name} (options {task.options}) has no sample(s) {unknown[:5]}")
    if not node_ids:
        raise UsageError(f"run {run_id}: no sample chosen; give the node ids to run")
    return [by_node[node] for node in dict.fromkeys(node_ids)]


def _invocation(request: SampleRun, held: Resources) -> dict[str, Any]:
    """What --resume replays: the samples, the backends by role and the sandbox of the run."""
    default = held.backends.get("default")
    roles = [f"{role}={backend.spec}" for role, backend in held.backends.items() if role != "default"]
    options = {
        "system": request.system,
        "task": request.task,
        "node_ids": list(request.node_ids),
        "repeats": request.repeats,
        "seed": request.seed,
        "max_concurrency": request.max_concurrency,
        "backend": default.spec if default is not None else None,
        "role": roles,
        "sandbox": held.sandbox.name,
    }
    return {"system": request.system, "task": request.task, "backend": options["backend"], "options": options}


def _run(config: Config, store: RunStore, spec: dict[str, Any], system: System, task: Task, held: Resources, samples: list[Sample], request: SampleRun) -> Run:
    return Run(
        store=store,
        spec=spec,
        plugins=config.plugins,
        system=system,
        task=task,
        resources=held,
        samples=samples,
        repeats=request.repeats,
        max_concurrency=request.max_concurrency,
        seed=request.seed,
        budget=request.budget if request.budget is not None else Budget(),
        held_resources=True,
    )


def _created(config: Config, held: Resources, request: SampleRun, system: System, task: Task) -> Run:
    samples = _chosen(task, request.node_ids, request.run_id)
    store = RunStore.create(request.results_dir, request.run_id)
    with unlocked_on_error(store):
        selection = {"node_ids": list(request.node_ids), "total": len(task.samples()), "started_by": STARTED_BY}
        spec = make_spec(store.run_id, _invocation(request, held), system, task, samples, selection, config)
        spec |= {"repeats": request.repeats, "seed": request.seed, "max_concurrency": request.max_concurrency, "max_cost": None, "max_infra_errors": None}
        store.write_spec(spec)
        return _run(config, store, spec, system, task, held, samples, request)


def _differences(spec: dict[str, Any], request: SampleRun, system: System, task: Task) -> list[str]:
    recorded = {
        "system": spec["system"]["name"],
        "system options": spec["system"].get("options") or {},
        "task": spec["task"]["name"],
        "task options": spec["task"].get("options") or {},
        "samples": spec["selection"]["selected"],
        "repeats": spec.get("repeats") or 1,
    }
    asked = {
        "system": system.name,
        "system options": system.options,
        "task": task.name,
        "task options": task.options,
        "samples": list(dict.fromkeys(request.node_ids)),
        "repeats": request.repeats,
    }
    return [f"{key} {asked[key]} (the run has {recorded[key]})" for key in recorded if recorded[key] != asked[key]]


def _continued(config: Config, held: Resources, request: SampleRun, system: System, task: Task) -> Run | None:
    """The Run that finishes an existing run folder, or None when it is finished already."""
    store = RunStore.open(request.results_dir, request.run_id)
    spec = store.read_spec()
    differences = _differences(spec, request, system, task)
    if differences:
        raise UsageError(f"run {request.run_id} in {request.results_dir} was made with other options: {'; '.join(differences)}. Give another run id, or move that folder away")
    recorded = spec["task"]["dataset"].get("sha256")
    if recorded and task.dataset_identity().get("sha256") != recorded:
        raise UsageError(f"run {request.run_id}: the task's data changed since the run started (sha256 differs); move the run folder away to score it again")
    take_lock(store)
    with unlocked_on_error(store):
        samples = _chosen(task, request.node_ids, request.run_id)
        store.drop_torn_tail()
        run = _run(config, store, spec, system, task, held, samples, request)
        if spec.get("status") == "finished" and not run.pending():
            store.lock.release()
            return None
        spec["status"] = "running"
        spec.setdefault("resumed_at", []).append(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        run.earlier_wall_seconds = (store.read_summary() or {}).get("wall_seconds", 0.0)
        return run
