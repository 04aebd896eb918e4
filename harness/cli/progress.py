"""Progress on the terminal: live rich displays on a TTY, plain lines otherwise (or with CI=true).

Registered as the built-in plugin ``terminal`` (``-p no:terminal`` silences it). It writes to
stderr so that ``harness run --json`` keeps stdout for the summary. What it shows:

- while servers start (llama.cpp, vLLM): a line per server and state (starting, still loading
  with its newest log line, ready, failed with the tail of its log, stopped);
- during a run: samples done and passed, samples in flight, elapsed time, tokens and cost
  (tokens' price, plus server time at its price per hour) updated on every model call, and for
  each sample in flight whose system reports phases (`harness_sample_phase`) its current phase.

On a TTY the counters and the samples in flight are redrawn in place. In plain mode a line is
printed per finished sample, and a status line (counters and the samples in flight with their
phases) at most every ``HARNESS_PROGRESS_SECONDS`` seconds (default 10) when a model call or a
phase comes in, so that a long sample still shows life.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from harness import hookimpl
from harness.results.summary import work_label
from harness.types import Record, RunInfo

#: Seconds between two status lines in plain mode (environment: HARNESS_PROGRESS_SECONDS).
DEFAULT_STATUS_SECONDS = 10.0
#: Samples in flight listed on a status line (or drawn on a TTY); the rest are counted.
SHOWN_IN_FLIGHT = 8


def _plain_wanted() -> bool:
    return not sys.stderr.isatty() or os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _status_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("HARNESS_PROGRESS_SECONDS", DEFAULT_STATUS_SECONDS)))
    except ValueError:
        return DEFAULT_STATUS_SECONDS


def duration(seconds: float) -> str:
    """``42s``, ``3m07s``, ``2h05m``."""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def server_line(backend: str, server: dict[str, Any], state: str, detail: str) -> str:
    """``server llamacpp on port 8123 (llamacpp:smollm2) ready after 2.1s``; a failure keeps its detail
    (the reason and the tail of the log) on the following lines."""
    where = f" on port {server['port']}" if server.get("port") else ""
    pid = f", pid {server['pid']}" if state == "starting" and server.get("pid") else ""
    head = f"server {server.get('name', '?')}{where} ({backend}{pid}) {state}"
    if not detail:
        return head
    return f"{head}:\n{detail}" if state == "failed" else f"{head} {detail}" if state in ("ready", "stopped") else f"{head}: {detail}"


class _InFlight:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.phase = ""


class TerminalReporter:
    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.passed = 0
        self.tokens = 0
        self.cost = 0.0
        self.hourly = 0.0  # USD per hour of the run's priced servers, for the live estimate
        self.started = time.monotonic()
        self.in_flight: dict[tuple[str, int], _InFlight] = {}
        self.plain = True
        self.status_every = DEFAULT_STATUS_SECONDS
        self._last_status = 0.0
        self._console: Any = None
        self._live: Any = None
        self._bar: Any = None
        self._bar_task: Any = None

    # --- what is shown ------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _cost_text(self) -> str:
        text = f"${self.cost:.4f}"
        if self.hourly:
            text += f" + ~${self.hourly * self._elapsed() / 3600:.4f} server time"
        return text

    def stats(self) -> str:
        rate = f"{100 * self.passed / self.done:.1f}%" if self.done else "-"
        return f"pass {self.passed}/{self.done} ({rate})  in flight {len(self.in_flight)}  tokens {self.tokens:,}  {self._cost_text()}  {duration(self._elapsed())}"

    def _eta(self) -> str:
        if not self.done:
            return "?"
        return duration(self._elapsed() / self.done * (self.total - self.done))

    def flight_lines(self) -> list[str]:
        """The samples in flight, oldest first, with their phase and age."""
        now = time.monotonic()
        oldest = sorted(self.in_flight.items(), key=lambda item: item[1].started)
        lines = [f"{node} r{repeat}: {sample.phase or 'working'} ({duration(now - sample.started)})" for (node, repeat), sample in oldest[:SHOWN_IN_FLIGHT]]
        if len(oldest) > SHOWN_IN_FLIGHT:
            lines.append(f"… and {len(oldest) - SHOWN_IN_FLIGHT} more in flight")
        return lines

    def _say(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text, highlight=False, markup=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def _status(self, *, force: bool = False) -> None:
        """Plain mode: a status line when one is due; TTY: redraw."""
        if self._live is not None:
            self._redraw()
            return
        now = time.monotonic()
        if not force and now - self._last_status < self.status_every:
            return
        self._last_status = now
        flights = "; ".join(self.flight_lines())
        self._say(f"[{self.done}/{self.total}] {self.stats()}" + (f"  | {flights}" if flights else ""))

    def _redraw(self) -> None:
        from rich.console import Group
        from rich.text import Text

        self._bar.update(self._bar_task, completed=self.done, stats=self.stats())
        flights = [Text("  " + line, style="dim") for line in self.flight_lines()]
        self._live.update(Group(self._bar, *flights))

    # --- hooks --------------------------------------------------------------------------------

    @hookimpl
    def harness_server_state(self, backend: str, server: dict[str, Any], state: str, detail: str) -> None:
        self._say(server_line(backend, server, state, detail))

    @hookimpl
    def harness_run_start(self, run: RunInfo) -> None:
        self.total = run.pending
        self.done = self.passed = self.tokens = 0  # a suite runs several runs in one process
        self.cost = 0.0
        self.in_flight.clear()
        self.started = time.monotonic()
        self._last_status = self.started
        self.plain = _plain_wanted()
        self.status_every = _status_seconds()
        self.hourly = hourly_price(run.spec)
        header = f"run {run.run_id}: system {run.system}, task {run.task}, {run.samples} samples x {run.repeats}"
        header += f", {self.total} to do, sandbox {run.sandbox}"
        self._say(header)
        if self.plain:
            return
        from rich.console import Console
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._console = Console(stderr=True)
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self._console,
        )
        self._bar_task = self._bar.add_task(run.task, total=self.total, stats=self.stats())
        self._live = Live(self._bar, console=self._console, refresh_per_second=4, transient=False)
        self._live.start()

    @hookimpl
    def harness_sample_start(self, run: RunInfo, node_id: str, repeat: int) -> None:
        self.in_flight[(node_id, repeat)] = _InFlight()
        if self._live is not None:
            self._redraw()

    @hookimpl
    def harness_sample_phase(self, run: RunInfo, node_id: str, repeat: int, phase: str) -> None:
        sample = self.in_flight.setdefault((node_id, repeat), _InFlight())
        sample.phase = phase
        self._status()

    @hookimpl
    def harness_llm_call(self, run: RunInfo, call: dict[str, Any]) -> None:
        usage = call.get("usage") or {}
        self.tokens += usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
        self.cost += call.get("cost") or 0.0
        self._status()

    @hookimpl
    def harness_sample_finish(self, run: RunInfo, record: Record) -> None:
        self.in_flight.pop((record.node_id, record.repeat), None)
        self.done += 1
        self.passed += record.passed
        if self._live is not None:
            self._redraw()
            return
        self._last_status = time.monotonic()
        self._say(f"[{self.done}/{self.total}] {record.node_id} r{record.repeat} {record.status}  {self.stats()}  eta {self._eta()}")

    @hookimpl
    def harness_run_finish(self, run: RunInfo, summary: dict[str, Any]) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            self._console = None
        counts = ", ".join(f"{n} {status}" for status, n in summary["counts"].items() if n)
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in summary["metrics"].items() if v is not None)
        cost = f"${summary['cost']:.4f}" + serving_text(summary.get("serving") or {})
        self._say(
            f"{summary['status']}: {counts or 'no records'}; {metrics or 'no metric'}; "
            f"tokens {summary['tokens']['input'] + summary['tokens']['output']:,}; {cost}; "
            f"{duration(summary['wall_seconds'])}; records in {summary['results']}"
        )
        work = summary.get("work_by_role") or []
        if len(work) > 1:
            self._say(f"work by role (calls, share of tokens): {work_label(work)}")
        if summary.get("stop_reason"):
            self._say(f"stopped: {summary['stop_reason']}")


def serving_text(serving: dict[str, dict[str, Any]]) -> str:
    """`` + $0.1200 for 2h00m of server time`` (what summary.json's ``serving`` adds to the cost)."""
    if not serving:
        return ""
    seconds = sum(entry.get("server_seconds") or 0.0 for entry in serving.values())
    costs = [entry.get("cost") for entry in serving.values()]
    if all(c is None for c in costs):
        return f" + {duration(seconds)} of server time (no price per hour)"
    unpriced = " (partly without a price per hour)" if None in costs else ""
    return f" + ${sum(c for c in costs if c is not None):.4f} for {duration(seconds)} of server time{unpriced}"


def hourly_price(spec: dict[str, Any]) -> float:
    """USD per hour of the run's servers that carry a price: each distinct backend's
    ``hour_price`` times its servers (its ``servers`` or ``base_urls``, else one)."""
    backends = {b.get("spec"): b for b in (spec.get("resolved", {}).get("backends") or {}).values()}
    total = 0.0
    for described in backends.values():
        if described.get("hour_price") is not None:
            total += described["hour_price"] * max(1, len(described.get("servers") or described.get("base_urls") or [None]))
    return total
