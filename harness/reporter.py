"""Progress on the terminal: a rich bar on a TTY, plain lines otherwise (or with CI=true).

Registered as the built-in plugin ``terminal`` (``-p no:terminal`` silences it). It writes to
stderr so that ``harness run --json`` keeps stdout for the summary.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from harness import hookimpl


def _plain_wanted() -> bool:
    return not sys.stderr.isatty() or os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class TerminalReporter:
    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.passed = 0
        self.tokens = 0
        self.cost = 0.0
        self.started = time.monotonic()
        self._progress: Any = None
        self._bar: Any = None

    def _stats(self) -> str:
        rate = f"{100 * self.passed / self.done:.1f}%" if self.done else "-"
        return f"pass {self.passed}/{self.done} ({rate})  tokens {self.tokens:,}  ${self.cost:.4f}"

    def _eta(self) -> str:
        if not self.done:
            return "?"
        elapsed = time.monotonic() - self.started
        return _duration(elapsed / self.done * (self.total - self.done))

    @hookimpl
    def harness_run_start(self, run: Any) -> None:
        self.total = len(run.pending())
        self.done = self.passed = self.tokens = 0  # a suite runs several runs in one process
        self.cost = 0.0
        self.started = time.monotonic()
        header = f"run {run.id}: system {run.system.name}, task {run.task.name}, {len(run.samples)} samples x {run.repeats}"
        header += f", {self.total} to do, sandbox {run.sandbox.name}"
        if _plain_wanted():
            print(header, file=sys.stderr, flush=True)
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        console.print(header)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
        )
        self._progress.start()
        self._bar = self._progress.add_task(run.task.name, total=self.total, stats=self._stats())

    @hookimpl
    def harness_sample_finish(self, run: Any, record: dict[str, Any]) -> None:
        self.done += 1
        self.passed += record["status"] == "passed"
        self.tokens += record.get("input_tokens", 0) + record.get("output_tokens", 0)
        self.cost += record.get("cost", 0.0)
        if self._progress is not None:
            self._progress.update(self._bar, advance=1, stats=self._stats())
            return
        print(
            f"[{self.done}/{self.total}] {record['node_id']} r{record['repeat']} {record['status']}  {self._stats()}  eta {self._eta()}",
            file=sys.stderr,
            flush=True,
        )

    @hookimpl
    def harness_run_finish(self, run: Any, summary: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        counts = ", ".join(f"{n} {status}" for status, n in summary["counts"].items() if n)
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in summary["metrics"].items() if v is not None)
        print(
            f"{summary['status']}: {counts or 'no records'}; {metrics or 'no metric'}; "
            f"tokens {summary['tokens']['input'] + summary['tokens']['output']:,}; ${summary['cost']:.4f}; "
            f"{_duration(summary['wall_seconds'])}; records in {summary['results']}",
            file=sys.stderr,
            flush=True,
        )
        if summary.get("stop_reason"):
            print(f"stopped: {summary['stop_reason']}", file=sys.stderr, flush=True)
