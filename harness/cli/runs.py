"""``harness run``, ``list``, ``plugins`` and ``show``: running a system on a task and looking at
what a run recorded. Registered as the built-in plugin ``runs``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tabulate import tabulate

from harness import hookimpl
from harness.cli.results import cmd_show_sample
from harness.config import RUN_DEFAULTS, Config, concurrency
from harness.engine.assemble import (
    configured_task,
    make_task,
    new_run,
    nothing_selected,
    select_samples,
    task_name,
)
from harness.engine.resume import resume_run
from harness.engine.scheduler import Run, execute_blocking
from harness.errors import ExitCode, UsageError
from harness.plugins import KINDS
from harness.results.summary import summarize_records
from harness.store import RUN_FILE, RunStore
from harness.types import Record


def add_selection(parser: argparse.ArgumentParser) -> None:
    """Node ids, -k, -m, --limit and --task-opt: how samples are chosen (pytest's habits)."""
    parser.add_argument("node_ids", nargs="*", metavar="NODE_ID", help="samples to select, e.g. humaneval::HumanEval/0")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="keyword expression over ids and tags, as pytest -k")
    parser.add_argument("-m", dest="marker", metavar="EXPR", help="marker expression over tags, as pytest -m")
    parser.add_argument("--limit", type=int, metavar="N", help="run at most the first N selected samples")
    parser.add_argument("--task-opt", action="append", metavar="K=V", help="task option (repeatable)")


def interrupted(run: Run) -> ExitCode:
    """The exit code of a run that Ctrl-C or SIGTERM stopped. Nothing more is printed: the run's
    end (its status, where its records are, how to resume it) was reported as it closed."""
    return ExitCode.INTERRUPTED


@hookimpl
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    run = subparsers.add_parser("run", help="run a system on a task and record every sample")
    add_common(run, plugin_options=True)
    add_selection(run)
    run.add_argument("--system", help=f"agent system (default: {RUN_DEFAULTS['system']})")
    run.add_argument("--task", help="task (default: the task named by the node ids)")
    run.add_argument("--backend", metavar="SPEC", help="model backend: llamacpp:smollm2 (default), openai:MODEL, or a [models.NAME]")
    run.add_argument("--role", action="append", metavar="ROLE=SPEC", help="give one model role of the system its own backend")
    run.add_argument("--sandbox", metavar="NAME", help="sandbox tier: docker (default) or local (unsafe, host)")
    run.add_argument("--repeats", type=int, metavar="N", help=f"attempts per sample, for pass@k (default {RUN_DEFAULTS['repeats']}); with --resume, a larger N grows the run")
    run.add_argument("--max-concurrency", type=concurrency, metavar="N|auto", help=f"samples in flight (default {RUN_DEFAULTS['max_concurrency']}); auto: the backends' replicas x max_connections, plus the sandbox's pool for code tasks")
    run.add_argument("--max-cost", type=float, metavar="USD", help="stop scheduling once the run has spent this much (a positive amount)")
    run.add_argument("--max-infra-errors", type=int, metavar="N", help="stop scheduling after N infrastructure errors (a dead endpoint); resumable")
    run.add_argument("--seed", type=int, help="base seed; repeat r uses seed + r")
    run.add_argument("--lf", action="store_true", help="only the samples that did not pass in the latest run of the same system/task/backend")
    run.add_argument("--run-id", metavar="ID", help="name of the run folder (default: time-system-task-random)")
    run.add_argument("--resume", metavar="RUN_ID", help="finish an interrupted run: only its missing records are run, with the options it started with")
    run.add_argument("--system-opt", action="append", metavar="K=V", help="system option (repeatable)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line of stdout")
    run.set_defaults(handler=cmd_run)

    lst = subparsers.add_parser("list", help="print the node ids a selection picks (collect only)")
    add_common(lst, results_dir=False)
    add_selection(lst)
    lst.add_argument("--task", help="task (default: the task named by the node ids)")
    lst.set_defaults(handler=cmd_list)

    listing = subparsers.add_parser("plugins", help="every plugin with what it registers")
    add_common(listing, results_dir=False)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_plugins)

    show = subparsers.add_parser("show", help="a run's spec and its samples")
    add_common(show)
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--failed", action="store_true", help="only samples that did not pass")
    show.add_argument("--sample", metavar="ID", help="print this sample's records and full transcripts (node id or sample id)")
    show.add_argument("--repeat", type=int, metavar="N", help="with --sample: only this repeat")
    show.set_defaults(handler=cmd_show)


def cmd_run(config: Config) -> int:
    if not config.getoption("resume"):
        members = config.plugins.get("tasks", task_name(config)).members
        if members:
            return _run_suite(config, members)
    run = resume_run(config) if config.getoption("resume") else new_run(config)
    summary = execute_blocking(run)
    if summary is None:
        return interrupted(run)
    if config.getoption("json"):
        print(json.dumps(summary, default=str))
    else:
        print(run.store.path)
    return ExitCode.FAILED if summary["counts"]["infra_error"] else ExitCode.OK


def _run_suite(config: Config, members: tuple[str, ...]) -> int:
    """Run each member task of a suite in turn with the same options, one run folder each (each
    resumable on its own), then print one summary of all of them."""
    suite = task_name(config)
    if config.getoption("node_ids"):
        raise UsageError(f"task {suite!r} is a suite of {', '.join(members)}: select with -k/-m, or give node ids with --task MEMBER")
    for name in members:  # every member's options are checked before anything starts
        make_task(name, config.task_options(name, config.getoption("task_opt")), config)
    run_id = config.getoption("run_id")
    summaries = []
    for name in members:
        config.options.task = name
        if run_id:
            config.options.run_id = f"{run_id}-{name}"
        run = new_run(config)
        summary = execute_blocking(run)
        if summary is None:
            done = ", ".join(s["run_id"] for s in summaries)
            print(f"interrupted in {name}" + (f" (done: {done})" if done else ""), file=sys.stderr)
            return interrupted(run)
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
    return ExitCode.FAILED if any(s["counts"]["infra_error"] for s in summaries) else ExitCode.OK


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def cmd_list(config: Config) -> int:
    task = configured_task(config)
    samples, total, _ = select_samples(task, config, config.getoption("node_ids", []))
    for sample in samples:
        print(sample.node_id)
    print(f"{len(samples)} selected / {total} total")
    if not samples:
        print(nothing_selected(task, config, total), file=sys.stderr)
    return ExitCode.OK


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
        return ExitCode.OK
    table = [
        [r["plugin"], ", ".join(r["kinds"]) or "hooks", "; ".join(f"{k}: {', '.join(v)}" for k, v in r["registered"].items()), r["distribution"] or r["module"], r["version"] or ""]
        for r in rows
    ]
    print(tabulate(table, headers=["plugin", "kinds", "registers", "distribution", "version"]))
    for kind in KINDS:
        print(f"{kind}: {', '.join(config.plugins.names(kind)) or '-'}")
    return ExitCode.OK


def why(record: Record, width: int = 70) -> str:
    """Why a record did not pass, in one line: the error, else the scorer's reason, else the last
    line of the scorer's output ("" for a pass)."""
    if record.passed:
        return ""
    lines = [line for line in (record.output or "").splitlines() if line.strip()]
    text = record.error or (record.details or {}).get("reason") or (lines[-1] if lines else record.status)
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_show(config: Config) -> int:
    if config.getoption("sample"):
        return cmd_show_sample(config)
    name = config.getoption("run_id")
    if not (config.results_dir / name / RUN_FILE).is_file():  # not a run: another plugin's record?
        shown = config.plugins.hook.harness_show(config=config, name=name)
        if shown is not None:
            return int(shown)
    store = RunStore.open(config.results_dir, name)
    spec = store.read_spec()
    records = store.read_records()
    backends = spec.get("resolved", {}).get("backends", {})
    print(f"run {spec['run_id']}  status {spec.get('status')}  started {spec.get('started_at')}  ended {spec.get('ended_at') or '-'}")
    print(f"system {spec['system']['name']} {spec['system'].get('options') or ''}")
    search = spec["system"].get("search")
    if search:
        print(f"  made by {search.get('method')} search {search.get('id')}: {len(search.get('rounds') or [])} rounds, round {search.get('round')} chosen; search cost ${search.get('cost') or 0:.4f}")
    print(f"task {spec['task']['name']} {spec['task'].get('options') or ''}  dataset {spec['task']['dataset'].get('sha256', '')[:12]}")
    for role, backend in backends.items():
        print(f"backend[{role}] {backend.get('spec')}  {backend.get('base_urls', '')}")
    print(f"sandbox {spec.get('resolved', {}).get('sandbox', {}).get('tier')}  selected {len(spec['selection']['selected'])}  repeats {spec.get('repeats')}")
    if spec.get("stop_reason"):
        print(f"stopped: {spec['stop_reason']}")
    summary = summarize_records(records, repeats=spec.get("repeats") or 1)
    shown = [r for r in records if not r.passed] if config.getoption("failed") else records
    rows = [[r.node_id, r.repeat, r.status, r.llm_calls, r.input_tokens + r.output_tokens, f"{r.cost:.4f}", f"{r.latency:.2f}", why(r)] for r in shown]
    print()
    print(tabulate(rows, headers=["sample", "repeat", "status", "calls", "tokens", "cost", "seconds", "why not passed"]))
    expected = len(spec["selection"]["selected"]) * (spec.get("repeats") or 1)
    print()
    print(tabulate([[status, n] for status, n in summary["counts"].items()] + [["all records", f"{len(records)} of {expected}"]], headers=["status", "records"]))
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in summary["metrics"].items() if v is not None)
    print(f"{metrics or 'no metric'}; tokens {summary['tokens']['input'] + summary['tokens']['output']:,}; cost ${summary['cost']:.4f}")
    return ExitCode.OK
