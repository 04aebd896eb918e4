"""``harness optimize``: an AFlow search on a task's validation problems; ``harness show ID`` of a
search.

    harness optimize --system aflow --task humaneval --role optimizer=SPEC --role executor=SPEC \\
        [--max-rounds 20] [--sample 4] [--validation-rounds 5] [--check-convergence] [--limit N]
    harness optimize --resume ID [--max-rounds N] [--max-cost USD] [--max-concurrency N]

The task's validation side is searched (``--task-opt holdout=validation``, the default here);
the search folder is ``<results>/optimize/<ID>``. Exit status: 0 when the search ended
(finished, converged, or its budget spent), 1 when infrastructure errors stopped it, 2 usage
error, 130 interrupted (each of the last three resumable with ``--resume ID``).
"""

from __future__ import annotations

import asyncio
import json
import platform
import signal
import sys
import time
from typing import Any

from tabulate import tabulate

from harness import Config, ExitCode, Resources, UsageError, __version__, parse_pairs
from harness.config import AUTO, concurrency
from harness.resources import DEFAULT_BACKEND, make_sandbox, resolve_backend
from harness.store import new_run_id
from harness_aflow.folder import SearchFolder
from harness_aflow.optimize import SYSTEM, Search, SearchSettings
from harness_aflow.settings import parse_settings
from harness_aflow.summary import search_summary
from harness_aflow.system import AFlow

ROLES = ("optimizer", "executor")
#: Options `--resume` may change: how far and how fast the search goes, not what it measures.
APPLIED_ON_RESUME = ("max_rounds", "max_cost", "max_concurrency")
#: Options of a new search; typed with --resume they are refused (the search keeps its own).
FIXED_ON_RESUME = (
    "node_ids", "task", "task_opt", "system", "system_opt", "limit", "backend", "role", "sandbox", "sample", "validation_rounds",
    "check_convergence", "max_attempts", "optimizer_max_tokens", "optimizer_temperature", "seed", "id",
)  # fmt: skip


def _whole(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{text!r}: give a whole number >= 1")
    return int(text)


def add_command(subparsers: Any, add_common: Any) -> None:
    parser = subparsers.add_parser("optimize", help="AFlow: search for a better workflow on a task's validation problems")
    add_common(parser, plugin_options=True)
    parser.add_argument("node_ids", nargs="*", metavar="NODE_ID", help="validation problems to search on (default: all of the validation side)")
    parser.add_argument("--system", help=f"the system whose workflow is searched (only {SYSTEM})")
    parser.add_argument("--task", help="a code task: humaneval, mbpp …")
    parser.add_argument("--task-opt", action="append", metavar="K=V", help="task option (default here: holdout=validation)")
    parser.add_argument("--system-opt", action="append", metavar="K=V", help="option of the aflow system while scoring (max_tokens, timeout, max_calls …)")
    parser.add_argument("--limit", type=int, metavar="N", help="search on the first N validation problems only")
    parser.add_argument("--backend", metavar="SPEC", help=f"model of both roles unless --role gives one (default {DEFAULT_BACKEND})")
    parser.add_argument("--role", action="append", metavar="ROLE=SPEC", help="optimizer=SPEC (writes workflows), executor=SPEC (runs them)")
    parser.add_argument("--sandbox", metavar="NAME", help="where workflows run: docker (default) or local (unsafe)")
    parser.add_argument("--max-rounds", type=_whole, metavar="N", help="rounds in all, the initial workflow's included (default 20)")
    parser.add_argument("--sample", type=_whole, metavar="N", help="parents are drawn among the N best rounds (default 4)")
    parser.add_argument("--validation-rounds", type=_whole, metavar="N", help="validation passes per workflow (default 5)")
    parser.add_argument("--check-convergence", action="store_true", help="stop once the mean of the top 3 rounds holds still for 5 rounds")
    parser.add_argument("--max-attempts", type=_whole, metavar="N", help="optimizer replies per round before the round is given up (default 3)")
    parser.add_argument("--optimizer-max-tokens", type=_whole, metavar="N", help="length of an optimizer reply (default 4096)")
    parser.add_argument("--optimizer-temperature", type=float, metavar="T", help="the optimizer's temperature (default 0.7)")
    parser.add_argument("--seed", type=int, metavar="N", help="seed of the parent draws and failure samples (default 0)")
    parser.add_argument("--max-cost", type=float, metavar="USD", help="stop once the search (optimizer and executor) has spent this much")
    parser.add_argument("--max-concurrency", type=concurrency, metavar="N|auto", help="validation problems in flight (default 4; auto: what the executor and sandbox can serve)")
    parser.add_argument("--id", metavar="ID", help="name of the search folder (default: time-aflow-task-random)")
    parser.add_argument("--resume", metavar="ID", help="continue an interrupted search: only its missing work is done")
    parser.add_argument("--json", action="store_true", help="print summary.json as one JSON object on the last line of stdout")
    parser.set_defaults(handler=cmd_optimize)


# --- a new search ----------------------------------------------------------------------------


def _settings(config: Config) -> SearchSettings:
    defaults = SearchSettings()
    values = {name: config.getoption(name) for name in defaults.describe()}
    settings = SearchSettings(**{name: value for name, value in values.items() if value is not None})
    if settings.max_cost is not None and not settings.max_cost > 0:
        raise UsageError(f"--max-cost {settings.max_cost:g}: give a positive amount of USD, or leave it out for no limit")
    if not settings.optimizer_temperature >= 0:
        raise UsageError(f"--optimizer-temperature {settings.optimizer_temperature:g}: give a number >= 0")
    if settings.max_concurrency != AUTO and settings.max_concurrency < 1:
        raise UsageError(f"--max-concurrency {settings.max_concurrency}: give a number >= 1")
    return settings


def _task_options(config: Config, task: str) -> dict[str, Any]:
    options = config.task_options(task, config.getoption("task_opt"))
    holdout = options.setdefault("holdout", "validation")
    if holdout != "validation":
        raise UsageError(
            f"--task-opt holdout={holdout}: a search tunes on the validation side (holdout=validation) and the workflow it finds is "
            f"scored on the test side afterwards (harness run --system aflow --task-opt holdout=test); drop holdout= or give holdout=validation"
        )
    return options


def _chosen_nodes(config: Config, task_name: str, task_options: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(node ids to search on, the task's dataset identity)."""
    task = config.plugins.get("tasks", task_name)(task_options)
    if task.kind not in AFlow.kinds:
        raise UsageError(f"system {SYSTEM} does {'/'.join(sorted(AFlow.kinds))} tasks; task {task_name!r} is a {task.kind} task")
    samples = [sample.node_id for sample in task.samples()]
    wanted = config.getoption("node_ids") or []
    unknown = [node for node in wanted if node not in samples]
    if unknown:
        raise UsageError(f"{', '.join(unknown[:5])}: not among the {len(samples)} problems of {task_name} with {task_options} (a test-side problem is never searched on)")
    chosen = [node for node in samples if not wanted or node in wanted]
    limit = config.getoption("limit")
    if limit is not None:
        if limit < 1:
            raise UsageError(f"--limit {limit}: give a number >= 1")
        chosen = chosen[:limit]
    if not chosen:
        raise UsageError(f"no validation problem selected of task {task_name}")
    return chosen, task.dataset_identity()


def _role_specs(config: Config) -> dict[str, str]:
    pairs = parse_pairs(config.getoption("role"), "--role")
    unknown = sorted(set(pairs) - set(ROLES))
    if unknown:
        raise UsageError(f"--role {unknown[0]}=…: a search has the roles {', '.join(ROLES)}")
    default = config.getoption("backend") or DEFAULT_BACKEND
    return {role: pairs.get(role, default) for role in ROLES}


def new_spec(config: Config) -> dict[str, Any]:
    """optimization.json of a new search, every option checked before anything starts."""
    system = config.getoption("system") if config.given("system") else SYSTEM  # not [run] system=: that is harness run's
    if system != SYSTEM:
        raise UsageError(f"--system {system}: only {SYSTEM} has a workflow to search for")
    task = config.getoption("task")
    if not task:
        tasks = {node.partition("::")[0] for node in config.getoption("node_ids") or []}
        if len(tasks) != 1:
            raise UsageError("which task? Give --task NAME (a code task: humaneval, mbpp …)")
        task = tasks.pop()
    task_options = _task_options(config, task)
    system_options = config.system_options(SYSTEM, config.getoption("system_opt"))
    if "workflow" in system_options:
        raise UsageError("--system-opt workflow=…: the search makes the workflows; give it to `harness run --system aflow` instead")
    parse_settings(system_options)
    node_ids, dataset = _chosen_nodes(config, task, task_options)
    settings = _settings(config)
    return {
        "id": None,
        "status": "running",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ended_at": None,
        "stop_reason": None,
        "method": "AFlow",
        "system": SYSTEM,
        "system_options": system_options,
        "task": task,
        "task_options": task_options,
        "node_ids": node_ids,
        "dataset": dataset,
        "backends": _role_specs(config),
        "sandbox": config.getoption("sandbox") or "docker",
        "settings": settings.describe(),
        "versions": {"harness": __version__, "python": sys.version.split()[0], "platform": platform.platform()},
        "command": ["harness", *sys.argv[1:]],
    }


# --- resuming --------------------------------------------------------------------------------


def resumed_spec(config: Config, folder: SearchFolder) -> dict[str, Any]:
    typed = [name for name in FIXED_ON_RESUME if config.given(name)]
    if typed:
        flags = ", ".join("node ids" if name == "node_ids" else "--" + name.replace("_", "-") for name in typed)
        raise UsageError(f"harness optimize --resume {folder.id}: {flags} cannot change; a search keeps the options it started with (--resume takes --max-rounds, --max-cost and --max-concurrency)")
    spec = folder.read_spec()
    task = config.plugins.get("tasks", spec["task"])(dict(spec["task_options"]))
    if spec["dataset"].get("sha256") and task.dataset_identity().get("sha256") != spec["dataset"]["sha256"]:
        raise UsageError(f"search {folder.id}: the task's data changed since the search started (sha256 differs); start a new search")
    for name in APPLIED_ON_RESUME:
        if config.given(name):
            spec.setdefault("resume_changes", []).append({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), name: {"from": spec["settings"].get(name), "to": config.getoption(name)}})
            spec["settings"][name] = config.getoption(name)
    max_cost = spec["settings"].get("max_cost")
    if max_cost is not None and not max_cost > 0:
        raise UsageError(f"--max-cost {max_cost:g}: give a positive amount of USD")
    spec["status"] = "running"
    spec["stop_reason"] = None
    spec.setdefault("resumed_at", []).append(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return spec


# --- running ---------------------------------------------------------------------------------


def search_resources(config: Config, spec: dict[str, Any]) -> Resources:
    """The optimizer's and executor's backends (one instance per distinct spec; the executor's
    is also the default) and the sandbox; nothing is started yet."""
    by_spec: dict[str, Any] = {}
    for spec_text in spec["backends"].values():
        if spec_text not in by_spec:
            by_spec[spec_text] = resolve_backend(spec_text, config)
    backends = {role: by_spec[spec["backends"][role]] for role in ROLES}
    return Resources({"default": backends["executor"], **backends}, make_sandbox(spec["sandbox"], config))


async def _search(config: Config, folder: SearchFolder, spec: dict[str, Any], resources: Resources) -> tuple[str, str]:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        async with resources.opened(folder.path):
            search = Search(config, folder, spec, resources)
            outcome = await search.run()
            return outcome.status, outcome.reason
    finally:
        if main is not None:
            loop.remove_signal_handler(signal.SIGTERM)


def cmd_optimize(config: Config) -> int:
    resume = config.getoption("resume")
    if resume:
        folder = SearchFolder.find(config.results_dir, resume)
        folder.take_lock()
        try:
            spec = resumed_spec(config, folder)
            resources = search_resources(config, spec)
        except BaseException:
            folder.lock.release()
            raise
        folder.drop_torn_tail()
    else:
        spec = new_spec(config)
        resources = search_resources(config, spec)
        folder = SearchFolder.create(config.results_dir, config.getoption("id") or new_run_id(SYSTEM, spec["task"]))
        spec["id"] = folder.id
    status, reason, code = "crashed", "", ExitCode.FAILED
    try:
        folder.write_spec(spec)
        status, reason = asyncio.run(_search(config, folder, spec, resources))
        code = ExitCode.FAILED if status == "stopped" else ExitCode.OK
    except (KeyboardInterrupt, asyncio.CancelledError):
        status, reason, code = "interrupted", f"Ctrl-C or SIGTERM; continue it with `harness optimize --resume {folder.id}`", ExitCode.INTERRUPTED
    except Exception as exc:
        status, reason = "crashed", f"{type(exc).__name__}: {exc}; continue it with `harness optimize --resume {folder.id}`"
        raise
    finally:
        spec.update(status=status, stop_reason=reason, ended_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        folder.write_spec(spec)
        summary = search_summary(folder, spec, folder.state())
        folder.write_summary(summary)
        folder.append("end", status=status, reason=reason)
        folder.lock.release()
    print_outcome(summary, folder, spec, as_json=bool(config.getoption("json")))
    return code


def print_outcome(summary: dict[str, Any], folder: SearchFolder, spec: dict[str, Any], as_json: bool) -> None:
    best = summary["best_round"]
    print(f"search {folder.id} {summary['status']}: {summary['stop_reason']}", file=sys.stderr)
    if best is not None:
        row = next(r for r in summary["rounds"] if r["round"] == best)
        print(
            f"best round {best}: validation score {row['mean']:.3f} ± {row['std']:.3f} over {len(row['scores'])} pass(es); "
            f"score it on the test side: harness run --system aflow --system-opt workflow={folder.path.resolve()}:{best} --task {spec['task']} --task-opt holdout=test",
            file=sys.stderr,
        )
    print(json.dumps(summary, default=str) if as_json else str(folder.path))


# --- harness show ID -------------------------------------------------------------------------


def show_search(config: Config, name: str) -> int | None:
    """``harness show ID`` for a search: its rounds with scores, costs (optimizer and executor
    apart) and times. None when ``name`` is no search."""
    try:
        folder = SearchFolder.find(config.results_dir, name)
    except UsageError:
        return None
    spec = folder.read_spec()
    summary = search_summary(folder, spec, folder.state())
    print(f"search {folder.id}  status {spec.get('status')}  started {spec.get('started_at')}  ended {spec.get('ended_at') or '-'}")
    if spec.get("stop_reason"):
        print(f"why: {spec['stop_reason']}")
    print(f"task {spec['task']} {spec['task_options']}  {len(spec['node_ids'])} validation problems  dataset {spec['dataset'].get('sha256', '')[:12]}")
    print(f"optimizer {spec['backends']['optimizer']}  executor {spec['backends']['executor']}  sandbox {spec['sandbox']}  settings {spec['settings']}")
    rows = [
        [
            r["round"], r["parent"] if r["parent"] is not None else "-", " ".join(f"{s:.3f}" for s in r["scores"]) or "-",
            "" if r["mean"] is None else f"{r['mean']:.3f} ± {r['std']:.3f}", r["optimizer_attempts"], f"{r['optimizer']['cost']:.4f}",
            f"{r['executor']['cost']:.4f}", r["optimizer"]["input_tokens"] + r["optimizer"]["output_tokens"],
            r["executor"]["input_tokens"] + r["executor"]["output_tokens"], f"{r['seconds']:.1f}", _short(r["modification"] or r["no_workflow"] or ""),
        ]
        for r in summary["rounds"]
    ]  # fmt: skip
    print()
    print(tabulate(rows, headers=["round", "parent", "scores", "mean ± sd", "replies", "optimizer $", "executor $", "optimizer tok", "executor tok", "seconds", "modification"], disable_numparse=True))
    print()
    best = summary["best_round"]
    print(
        f"best round {best if best is not None else '-'}; cost ${summary['cost']:.4f} (optimizer ${summary['optimizer_cost']:.4f}, executor ${summary['executor_cost']:.4f}, "
        f"servers ${summary['server_cost']:.4f}{'' if summary['priced'] else ', some unpriced'}); {summary['wall_seconds']:.1f} s; folder {folder.path}"
    )
    return ExitCode.OK


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
