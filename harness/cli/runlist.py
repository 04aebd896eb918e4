"""``harness runs``: the runs of a results folder, one line each, oldest first. Registered as the
built-in plugin ``run-list``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness import hookimpl
from harness.config import Config
from harness.errors import ExitCode, UsageError
from harness.results.leaderboard import models_label
from harness.results.summary import summarize_records
from harness.store import RunStore, list_runs

COLUMNS = ["run", "system", "task", "models", "status", "samples", "pass@1", "started"]


@hookimpl
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    runs = subparsers.add_parser("runs", help="list the runs in the results folder: status, samples done, pass@1")
    add_common(runs)
    runs.add_argument("--task", help="only runs of this task")
    runs.add_argument("--system", help="only runs of this system")
    runs.add_argument("--json", action="store_true", help="one JSON object per run, one per line")
    runs.set_defaults(handler=cmd_runs)


def require_results_dir(path: Path) -> None:
    """UsageError when the results folder to read does not exist."""
    if not path.is_dir():
        raise UsageError(f"the results folder {path} does not exist; give --results-dir DIR where runs were recorded (or set HARNESS_RESULTS_DIR)")


def run_row(store: RunStore) -> dict[str, Any]:
    """One run's line: its spec (status as read, see `RunStore.read_spec`) and its records so far."""
    spec = store.read_spec()
    records = store.read_records()
    summary = summarize_records(records, repeats=spec.get("repeats") or 1)
    return {
        "run": store.run_id,
        "system": spec["system"]["name"],
        "task": spec["task"]["name"],
        "models": models_label(spec),
        "status": spec.get("status"),
        "samples_done": summary["samples_scored"],
        "samples_selected": len(spec["selection"]["selected"]),
        "pass@1": summary["metrics"].get("pass@1"),
        "started": spec.get("started_at"),
    }


def cmd_runs(config: Config) -> int:
    require_results_dir(config.results_dir)
    rows = []
    for store in list_runs(config.results_dir):
        try:
            row = run_row(store)
        except (UsageError, KeyError) as exc:
            print(f"{store.run_id}: unreadable run.json ({exc})", file=sys.stderr)
            continue
        if config.getoption("task") in (None, row["task"]) and config.getoption("system") in (None, row["system"]):
            rows.append(row)
    if config.getoption("json"):
        sys.stdout.write("".join(json.dumps(row) + "\n" for row in rows))
        return ExitCode.OK
    table = [
        [r["run"], r["system"], r["task"], r["models"], r["status"], f"{r['samples_done']}/{r['samples_selected']}", "-" if r["pass@1"] is None else f"{r['pass@1']:.3f}", r["started"]]
        for r in rows
    ]
    print(tabulate(table, headers=COLUMNS) if table else f"no run in {config.results_dir}")
    return ExitCode.OK
