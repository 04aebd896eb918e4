"""The judged-run pieces that need no sandbox: the runner's evidence checks and report packet
(harness.codetasks.program_runner, imported here on the host), the judge (harness.codetasks.testrunner.judge) on
runs as a tier reports them, and the gate that keeps a re-run from competing."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.codetasks import program_runner
from harness.codetasks.testrunner import RunGate, judge, starved
from harness.types import ProgramRun

# --- operator methods that ignore their operand -------------------------------------------------

#: Expressions over the method's names; (source, whether it reads the operand `other`).
_leaf = st.sampled_from([("True", False), ("0", False), ("self", False), ("other", True), ("GLOBAL", False), ("NotImplemented", False)])


def _combine(children):
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda p: (f"({p[0][0]} == {p[1][0]})", p[0][1] or p[1][1])),
        pair.map(lambda p: (f"({p[0][0]} if self else {p[1][0]})", p[0][1] or p[1][1])),  # no constant test: the compiler drops dead branches
        children.map(lambda c: (f"(lambda: {c[0]})()", c[1])),  # read through a closure
        children.map(lambda c: (f"[{c[0]} for _ in range(1)][0]", c[1])),
        children.map(lambda c: (f"str({c[0]})", c[1])),
    )


expressions = st.recursive(_leaf, _combine, max_leaves=6)


def method_code(name: str, params: str, body: str):
    source = f"class C:\n    def {name}({params}):\n{body}\n"
    module = compile(source, program_runner.PROGRAM_FILENAME, "exec")
    cls = next(c for c in module.co_consts if getattr(c, "co_name", None) == "C")
    return next(c for c in cls.co_consts if getattr(c, "co_name", None) == name)


@settings(max_examples=300, deadline=None)
@given(expression=expressions, name=st.sampled_from(sorted(program_runner.OPERATORS)), statement=st.booleans())
def test_an_operator_method_ignores_its_operand_iff_it_never_reads_it(expression, name, statement):
    """...unless all it does is decline (return NotImplemented): then the other operand decides."""
    text, reads = expression
    body = f"        x = {text}\n        return x" if statement else f"        return {text}"
    declines = text == "NotImplemented" and not statement
    assert program_runner.ignores_operand(method_code(name, "self, other", body)) is (not reads and not declines)


@pytest.mark.parametrize(
    ("params", "body", "ignores"),
    [
        ("self, other", "        return True", True),  # HumanEval/13 of issue 10
        ("self, other", "        return NotImplemented", False),  # declines: the other side decides
        ("self, *args", "        return True", True),
        ("self, *args", "        return args[0] == 1", False),
        ("self, other, /", "        del other\n        return True", False),  # deleting is reading it here
        ("self", "        return True", False),  # cannot be called with an operand at all
        # flow-insensitive: a read of the parameter's slot counts even after it was overwritten
        ("self, other", "        other = 1\n        return other == 1", False),
    ],
)
def test_operator_method_shapes(params, body, ignores):
    assert program_runner.ignores_operand(method_code("__eq__", params, body)) is ignores


# --- the report packet --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from(["passed", "failed", "error"]),
    exception=st.none() | st.text(max_size=200),
    message=st.none() | st.text(max_size=program_runner.MAX_MESSAGE),
    evidence=st.lists(st.text(max_size=300), max_size=program_runner.MAX_TAMPER),
)
def test_the_report_is_one_packet_of_json_whatever_the_text(status, exception, message, evidence):
    report = program_runner.encode_report((status, exception, message), evidence)
    assert len(report) <= program_runner.MAX_REPORT < 4096  # PIPE_BUF: one write is one packet
    decoded = json.loads(report.decode("ascii"))
    assert decoded["status"] == status and decoded["exception"] == exception
    assert decoded["message"] in (message, None)
    assert all(item in [e[:200] for e in evidence] + ["(more evidence cut)"] for item in decoded["tamper"])
    if len(json.dumps(evidence)) < 1000:
        assert decoded["tamper"] == [e[:200] for e in evidence]


# --- /proc paths the program may not open ----------------------------------------------------------


def test_own_memory_and_descriptors_under_proc_are_refused(tmp_path):
    link = tmp_path / "innocent"
    link.symlink_to("/proc/self/mem")
    pid = os.getpid()
    refused = ["/proc/self/mem", f"/proc/{pid}/mem", "/proc/self/fd/3", "/proc/thread-self/mem", "/proc/self", "/proc", f"/proc/{pid}/task/{pid}/mem", str(link), b"/proc/self/mem"]
    allowed = ["/proc/self/status", "/proc/cpuinfo", "/proc/meminfo", str(tmp_path / "file.txt"), "/proc/1/status"]
    assert [p for p in refused if not program_runner._proc_path_refused(p, os.getcwd)] == []
    assert [p for p in allowed if program_runner._proc_path_refused(p, os.getcwd)] == []
    assert program_runner._proc_path_refused("mem", lambda: "/proc/self")  # relative to a cwd in /proc
    assert program_runner._proc_path_refused("../self/./mem", lambda: "/proc/self")


# --- the judge -----------------------------------------------------------------------------------

REPORT = '{{"status":"{status}","exception":{exception},"message":null,"tamper":{tamper}}}'


def run(reports=(), exit_code=0, cpu=0.1, duration=0.2, limit=None, oom=False, waiting=None, dropped=0) -> ProgramRun:
    return ProgramRun(list(reports), exit_code, cpu, duration, limit, "", "test", oom=oom, reports_dropped=dropped, waiting_seconds=waiting)


def report(status="passed", exception="null", tamper="[]") -> str:
    return REPORT.format(status=status, exception=exception, tamper=tamper)


@pytest.mark.parametrize(
    ("program_run", "status", "reason"),
    [
        (run([report()]), "passed", "every test passed"),
        (run([report("failed", '"AssertionError"')]), "failed", "AssertionError"),
        (run([report("error", '"KeyError"')]), "error", "KeyError"),
        (run([report(), report()]), "error", "wrote to the verdict channel"),  # a forged packet and the runner's
        (run([report()], dropped=3), "error", "wrote to the verdict channel"),
        (run([]), "error", "ended before its tests finished (exit code 0)"),
        (run([], exit_code=-9), "error", "killed by SIGKILL"),
        (run([], exit_code=1, oom=True), "error", "ran out of memory"),
        (run([report()], exit_code=3), "error", "replaced the verdict channel"),  # the descriptor was swapped
        (run([report()], exit_code=-11), "error", "could not finish its report (killed by SIGSEGV)"),
        (run(["not json"]), "error", "the report was unreadable"),
        (run([report()], cpu=2.5), "timeout", "2.50 s of CPU, past its limit of 2.00 s"),  # finished, but over
        (run([], exit_code=-9, cpu=2.0, limit="cpu"), "timeout", "of CPU"),
        (run([], exit_code=-9, cpu=0.0, duration=10.0, limit="wall"), "timeout", "wall-clock backstop"),
        (run([report(tamper='["rebound builtins.abs"]')]), "failed", "passed only with tamper evidence: rebound builtins.abs"),
    ],
)
def test_judge(program_run, status, reason):
    verdict = judge(program_run, 2.0)
    assert verdict.status == status and reason in verdict.reason, verdict.reason


def test_tamper_flag_keeps_a_pass_and_the_evidence():
    flagged = judge(run([report(tamper='["rebound builtins.abs"]')]), 2.0, tamper="flag")
    assert flagged.status == "passed" and flagged.tamper == ["rebound builtins.abs"] and "flagged" in flagged.reason
    forged = judge(run([report(), report()]), 2.0, tamper="flag")
    assert forged.status == "error" and any("verdict channel" in t for t in forged.tamper)


def test_starved_is_a_backstop_stop_while_waiting_for_a_cpu():
    assert starved(run(limit="wall", cpu=0.5, duration=10.0, waiting=6.0), 2.0)  # wanted the CPU 65% of the time
    assert not starved(run(limit="wall", cpu=0.01, duration=10.0, waiting=0.02), 2.0)  # sleeping
    assert not starved(run(limit="cpu", cpu=2.0, duration=10.0, waiting=8.0), 2.0)
    assert not starved(run(limit=None, cpu=0.5, duration=1.0), 2.0)
    assert starved(run(limit="wall", cpu=1.5, duration=10.0, waiting=None), 2.0)  # no schedstat: judged by CPU use


async def test_an_exclusive_run_waits_for_shared_ones_and_holds_new_ones_back():
    gate = RunGate()
    timeline: list[str] = []

    async def shared(name: str, seconds: float) -> None:
        async with gate.shared():
            timeline.append(f"{name} start")
            await asyncio.sleep(seconds)
            timeline.append(f"{name} end")

    async def exclusive() -> None:
        async with gate.exclusive():
            timeline.append("rerun start")
            await asyncio.sleep(0.05)
            timeline.append("rerun end")

    first = [asyncio.create_task(shared(f"s{i}", 0.05 * (i + 1))) for i in range(3)]
    await asyncio.sleep(0.01)
    rerun = asyncio.create_task(exclusive())
    await asyncio.sleep(0.01)
    late = asyncio.create_task(shared("late", 0.01))
    await asyncio.gather(*first, rerun, late)
    assert timeline.index("rerun start") > max(timeline.index(f"s{i} end") for i in range(3))
    assert timeline.index("late start") > timeline.index("rerun end")


# --- batches of program jobs ----------------------------------------------------------------------


async def test_batches_spread_over_the_pool_and_route_every_answer():
    import itertools

    from harness_sandbox.batching import MAX_BATCH, Batcher

    sent: list[list[int]] = []

    async def send(message: dict, timeout: float) -> dict:
        ids = [job["id"] for job in message["jobs"]]
        sent.append(ids)
        assert timeout == sum(job["limit"] for job in message["jobs"])
        await asyncio.sleep(0.01)
        if 13 in ids:
            raise RuntimeError("the worker died twice")
        return {"type": "batch", "id": message["id"], "results": [{"type": "result", "id": i} for i in ids]}

    batcher = Batcher(send, size=4, ids=itertools.count(1000))
    few = await asyncio.gather(*(batcher.submit({"id": i, "limit": 1.0}, 1.0) for i in range(4)))
    assert [a["id"] for a in few] == [0, 1, 2, 3] and sorted(map(len, sent)) == [1, 1, 1, 1]  # one job per worker
    sent.clear()
    many = await asyncio.gather(*(batcher.submit({"id": i, "limit": 2.0}, 2.0) for i in range(100, 164)), return_exceptions=True)
    assert [a["id"] for a in many] == list(range(100, 164)) and max(map(len, sent)) == MAX_BATCH
    sent.clear()
    mixed = await asyncio.gather(*(batcher.submit({"id": i, "limit": 1.0}, 1.0) for i in range(10, 18)), return_exceptions=True)
    failed_batch = next(ids for ids in sent if 13 in ids)
    assert len(failed_batch) == 2  # 8 jobs over 4 workers
    assert {i for i, answer in zip(range(10, 18), mixed) if isinstance(answer, RuntimeError)} == set(failed_batch)
    await batcher.close()
