"""The terminal reporter: samples in flight, tokens and cost on every model call, phases of long
samples, server start-up lines; plain lines off a TTY, a live display on one."""

from __future__ import annotations

import io
import re

import pytest
from conftest import harness, harness_env

from harness.cli import progress
from harness.cli.progress import (
    TerminalReporter,
    hourly_price,
    server_line,
    serving_text,
)
from harness.types import Record, RunInfo

SPEC = {"resolved": {"backends": {"default": {"spec": "vllm:m", "hour_price": 3.6, "servers": [{}, {}]}, "judge": {"spec": "vllm:m", "hour_price": 3.6, "servers": [{}, {}]}}}}
INFO = RunInfo("r1", "/tmp/r1", "sop", "humaneval", "local", samples=3, repeats=1, pending=3, spec=SPEC)


def record(node: str, status: str = "passed") -> Record:
    return Record(node_id=node, sample_id=node.split("::")[1], task="humaneval", repeat=0, status=status, input_tokens=10, output_tokens=5)


def call(input_tokens: int, output_tokens: int, cost: float = 0.0) -> dict:
    return {"role": "engineer", "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}, "cost": cost}


@pytest.fixture
def plain(monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("HARNESS_PROGRESS_SECONDS", "0")  # a status line on every call and phase
    reporter = TerminalReporter()
    reporter.harness_run_start(run=INFO)
    capsys.readouterr()
    return reporter


def test_plain_lines_show_samples_in_flight_tokens_and_cost_on_every_call(plain, capsys):
    plain.harness_sample_start(run=INFO, node_id="humaneval::A", repeat=0)
    plain.harness_sample_start(run=INFO, node_id="humaneval::B", repeat=0)
    plain.harness_llm_call(run=INFO, call=call(100, 20, cost=0.002))
    line = capsys.readouterr().err.strip()
    assert line.startswith("[0/3] pass 0/0 (-)  in flight 2  tokens 120  $0.0020 + ~$") and "server time" in line
    assert "humaneval::A r0: working" in line and "humaneval::B r0: working" in line
    plain.harness_sample_phase(run=INFO, node_id="humaneval::A", repeat=0, phase="round 2: Engineer")
    assert "humaneval::A r0: round 2: Engineer (0s)" in capsys.readouterr().err
    plain.harness_sample_finish(run=INFO, record=record("humaneval::A"))
    line = capsys.readouterr().err
    assert line.startswith("[1/3] humaneval::A r0 passed  pass 1/1 (100.0%)  in flight 1  tokens 120")
    plain.harness_llm_call(run=INFO, call=call(5, 5))
    assert "in flight 1  tokens 130" in capsys.readouterr().err and "humaneval::A" not in plain.flight_lines()[0]


def test_plain_status_lines_are_spaced_out(plain, capsys):
    plain.status_every = 3600.0
    plain.harness_sample_start(run=INFO, node_id="humaneval::A", repeat=0)
    for _ in range(50):
        plain.harness_llm_call(run=INFO, call=call(1, 1))
    assert capsys.readouterr().err == ""  # counted, not printed: a line per finished sample is enough
    plain.harness_sample_finish(run=INFO, record=record("humaneval::A", "failed"))
    assert "tokens 100" in capsys.readouterr().err


def test_many_samples_in_flight_are_counted_not_listed(plain):
    for k in range(12):
        plain.harness_sample_start(run=INFO, node_id=f"humaneval::{k}", repeat=0)
    lines = plain.flight_lines()
    assert len(lines) == progress.SHOWN_IN_FLIGHT + 1 and lines[-1] == "… and 4 more in flight"


def test_the_final_line_adds_the_server_time(plain, capsys):
    summary = {"status": "finished", "counts": {"passed": 2, "failed": 1}, "metrics": {"pass@1": 2 / 3}, "tokens": {"input": 10, "output": 5},
               "cost": 0.01, "wall_seconds": 75.0, "results": "/tmp/r1", "serving": {"vllm:m": {"server_seconds": 7200.0, "hour_price": 3.6, "cost": 7.2}}}  # fmt: skip
    plain.harness_run_finish(run=INFO, summary=summary)
    assert capsys.readouterr().err == "finished: 2 passed, 1 failed; pass@1 0.667; tokens 15; $0.0100 + $7.2000 for 2h00m of server time; 1m15s; records in /tmp/r1\n"
    assert serving_text({"l": {"server_seconds": 30.0, "hour_price": None, "cost": None}}) == " + 30s of server time (no price per hour)"
    assert hourly_price(SPEC) == pytest.approx(7.2)  # one backend (two roles), two servers


def test_server_lines_name_the_server_its_state_and_on_failure_the_log(plain, capsys):
    described = {"name": "vllm", "port": 8001, "pid": 4242}
    assert server_line("vllm:m", described, "starting", "") == "server vllm on port 8001 (vllm:m, pid 4242) starting"
    assert server_line("vllm:m", described, "loading", "Loading weights 3/7") == "server vllm on port 8001 (vllm:m) loading: Loading weights 3/7"
    assert server_line("vllm:m", described, "ready", "after 41.2s") == "server vllm on port 8001 (vllm:m) ready after 41.2s"
    failed = server_line("vllm:m", described, "failed", "vllm exited with exit code 1\n--- last lines of x.err ---\nCUDA out of memory")
    assert failed.splitlines() == ["server vllm on port 8001 (vllm:m) failed:", "vllm exited with exit code 1", "--- last lines of x.err ---", "CUDA out of memory"]
    plain.harness_server_state(backend="vllm:m", server=described, state="ready", detail="after 1.0s")
    assert capsys.readouterr().err == "server vllm on port 8001 (vllm:m) ready after 1.0s\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_display_is_redrawn_with_the_phases(monkeypatch):
    terminal = _Terminal()
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("sys.stderr", terminal)
    reporter = TerminalReporter()
    reporter.harness_run_start(run=INFO)
    reporter.harness_sample_start(run=INFO, node_id="humaneval::A", repeat=0)
    reporter.harness_sample_phase(run=INFO, node_id="humaneval::A", repeat=0, phase="round 3: QA Engineer")
    reporter.harness_llm_call(run=INFO, call=call(1000, 234))
    reporter._live.refresh()
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue())
    assert "in flight 1" in drawn and "tokens 1,234" in drawn and "humaneval::A r0: round 3: QA Engineer" in drawn
    reporter.harness_sample_finish(run=INFO, record=record("humaneval::A"))
    reporter.harness_run_finish(run=INFO, summary={"status": "finished", "counts": {"passed": 1}, "metrics": {}, "tokens": {"input": 1, "output": 1},
                                                   "cost": 0.0, "wall_seconds": 1.0, "results": "/tmp/r1"})  # fmt: skip
    assert reporter._live is None and "finished: 1 passed" in terminal.getvalue()


def test_a_real_sop_run_shows_phases_and_calls_before_its_samples_finish(workdir):
    env = harness_env(HARNESS_PROGRESS_SECONDS="0")
    proc = harness("run", "--system", "sop", "-p", "harness_test_sop_scripted", "--sandbox", "local", "--backend", "sopscript:fix",
                   "humaneval::HumanEval/0", "humaneval::HumanEval/2", "--max-concurrency", "2", cwd=workdir, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    first_finish = next(i for i, line in enumerate(lines) if re.match(r"\[1/2\] humaneval::", line))
    before = lines[:first_finish]
    assert any("in flight 2" in line for line in before)
    assert any(re.search(r"tokens [1-9][\d,]*", line) for line in before)  # tokens counted per call, not per sample
    assert any("humaneval::HumanEval/0 r0: round 1: Product Manager" in line for line in before)
    assert any("r0: round 4: Engineer" in line for line in lines)
