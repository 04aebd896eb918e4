"""The reading side of the command line: ``leaderboard``, ``report``, ``compare`` and
``show RUN_ID --sample ID``. Each command takes the Config and returns the exit code.
Registered as the built-in plugin ``results``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness import hookimpl
from harness.cli.runlist import require_results_dir
from harness.config import Config
from harness.errors import ExitCode, UsageError
from harness.results.compare import compare_runs, format_comparison
from harness.results.leaderboard import (
    build_rows,
    export,
    format_for,
    load_run,
    load_runs,
)
from harness.results.transcripts import render_text
from harness.store import RunStore


@hookimpl
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    board = subparsers.add_parser("leaderboard", help="one row per configuration over every finished run")
    add_common(board)
    board.add_argument("--task", help="only runs of this task")
    board.add_argument(
        "--format", metavar="FMT", help="any tabulate format (github, md, pipe, latex, html …), csv, json, jsonl, parquet; default: from --output's suffix, else github"
    )
    board.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    board.set_defaults(handler=cmd_leaderboard)

    report = subparsers.add_parser("report", help="a self-contained HTML report: leaderboard, accuracy vs cost, every sample's transcript")
    add_common(report)
    report.add_argument("--task", help="only runs of this task")
    report.add_argument("--output", metavar="FILE", help="the .html file to write")
    report.add_argument("--figures", metavar="DIR", help="also write each task's accuracy-versus-cost chart as DIR/TASK.pdf and DIR/TASK.png")
    report.set_defaults(handler=cmd_report)

    compare = subparsers.add_parser("compare", help="paired comparison of two runs of one task on the samples both scored")
    add_common(compare)
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")
    compare.add_argument("--seed", type=int, default=0, help="seed of the paired bootstrap (default 0)")
    compare.add_argument("--json", action="store_true", help="print the comparison as one JSON object")
    compare.set_defaults(handler=cmd_compare)


def _left_out_note(left_out: list[tuple[str, str]]) -> None:
    if left_out:
        listed = "; ".join(f"{run_id} ({reason})" for run_id, reason in left_out)
        print(f"left out {len(left_out)} run(s) that did not finish: {listed}", file=sys.stderr)


def _write(output: str, data: str | bytes) -> None:
    path = Path(output)
    try:
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output {output}: cannot write ({exc.strerror}); check the folder exists and is writable") from exc


def cmd_leaderboard(config: Config) -> int:
    fmt = format_for(config.getoption("format"), config.getoption("output"))
    require_results_dir(config.results_dir)
    runs, left_out = load_runs(config.results_dir, config.getoption("task"))
    _left_out_note(left_out)
    if not runs:
        print(f"no finished run in {config.results_dir}" + (f" for task {config.getoption('task')!r}" if config.getoption("task") else ""), file=sys.stderr)
    data = export(build_rows(runs), fmt, config.plugins)
    if config.getoption("output"):
        _write(config.getoption("output"), data)
    elif isinstance(data, bytes):
        if sys.stdout.isatty():
            raise UsageError(f"--format {fmt} is binary: give --output FILE (or redirect stdout)")
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)
    return ExitCode.OK


def cmd_report(config: Config) -> int:
    require_results_dir(config.results_dir)
    output, figures = config.getoption("output"), config.getoption("figures")
    if not output and not figures:
        raise UsageError("harness report: give --output FILE.html (the page), --figures DIR (the charts as PDF and PNG), or both")
    from harness.results import (
        chart,  # matplotlib and jinja2 load only for this command
    )
    from harness.results.html_report import render_report

    runs, left_out = load_runs(config.results_dir, config.getoption("task"))
    _left_out_note(left_out)
    rows = build_rows(runs)
    if output:
        _write(output, render_report(runs, rows, left_out, str(config.results_dir)))
        print(output)
    if figures:
        charts = chart.task_charts(rows, lambda i: f"#cfg-{i}")
        if not charts:
            print(f"no configuration has a scored sample: no figure written to {figures}", file=sys.stderr)
        for task_chart in charts:
            try:
                paths = chart.save(task_chart, Path(figures))
            except OSError as exc:
                raise UsageError(f"--figures {figures}: cannot write ({exc.strerror}); check the folder is writable") from exc
            print(" ".join(map(str, paths)))
    return ExitCode.OK


def cmd_compare(config: Config) -> int:
    if config.getoption("run_a") == config.getoption("run_b"):
        print(f"warning: comparing run {config.getoption('run_a')} with itself: every difference is 0; give two different runs", file=sys.stderr)
    a, b = (load_run(RunStore.open(config.results_dir, config.getoption(name))) for name in ("run_a", "run_b"))
    result = compare_runs(a, b, seed=config.getoption("seed", 0))
    sys.stdout.write(json.dumps(result) + "\n" if config.getoption("json") else format_comparison(result))
    return ExitCode.OK


def cmd_show_sample(config: Config) -> int:
    """``harness show RUN_ID --sample ID [--repeat N]``: the sample's records and transcripts."""
    store = RunStore.open(config.results_dir, config.getoption("run_id"))
    wanted, repeat = config.getoption("sample"), config.getoption("repeat")
    records = store.read_records()
    chosen = [r for r in records if wanted in (r.node_id, r.sample_id) and repeat in (None, r.repeat)]
    if not chosen:
        known = ", ".join(dict.fromkeys(r.node_id for r in records[:8]))
        again = f" repeat {repeat}" if repeat is not None else ""
        raise UsageError(f"run {store.run_id} has no record of sample {wanted!r}{again}. Give a node id or sample id it ran, e.g. {known or '(it has no record yet)'}")
    for record in sorted(chosen, key=lambda r: r.repeat):
        sys.stdout.write(render_text(record, store.read_transcript(record.node_id, record.repeat)))
    return ExitCode.OK
