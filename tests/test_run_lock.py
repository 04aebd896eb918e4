"""One writer per run (issue 15, item 1): real `harness run` processes with the scripted backend,
a second writer refused while the first runs, a run killed with -9 read as interrupted and taken
over by the next writer; and the lock itself, in one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import harness, harness_env, records

from harness.errors import UsageError
from harness.runlock import RunLock, lock_held
from harness.store import RunStore

SCRIPTED = ["-p", "harness_test_scripted", "--sandbox", "local"]


def start_run(workdir: Path, run_id: str, samples: int, delay: float) -> subprocess.Popen:
    args = [sys.executable, "-m", "harness", "run", *SCRIPTED, "--task", "humaneval", "--backend", f"scripted:canonical?delay={delay}",
            "--limit", str(samples), "--max-concurrency", "1", "--run-id", run_id]
    return subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_records(run_dir: Path, count: int, timeout: float = 60) -> None:
    samples = run_dir / "samples.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if samples.exists() and samples.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"{samples} did not reach {count} records in {timeout}s")


def test_a_second_writer_is_refused_while_the_first_runs(workdir):
    first = start_run(workdir, "busy", samples=6, delay=2)
    run_dir = workdir / "results" / "busy"
    wait_for_records(run_dir, 1)
    listed = harness("runs", cwd=workdir)
    assert " running " in listed.stdout
    second = harness("run", "-p", "harness_test_scripted", "--resume", "busy", cwd=workdir)
    assert first.poll() is None, "the first run ended too early for this test"
    assert second.returncode == 2
    assert f"run busy is being written by pid {first.pid}" in second.stderr and "--run-id busy" in second.stderr
    assert "One process writes a run at a time" in second.stderr and "Traceback" not in second.stderr
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    keys = [(r["node_id"], r["repeat"]) for r in records(run_dir)]
    assert len(keys) == len(set(keys)) == 6  # no duplicate lines from a second writer
    assert (run_dir / "run.lock").read_text() == ""  # released cleanly: nobody to take over


def test_a_run_killed_with_9_reads_as_interrupted_and_the_next_writer_takes_it_over(workdir):
    proc = start_run(workdir, "killed", samples=12, delay=0.3)
    run_dir = workdir / "results" / "killed"
    wait_for_records(run_dir, 3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"  # what the file says
    listed = harness("runs", cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("killed"))
    assert " interrupted " in row and "/12" in row
    shown = harness("show", "killed", cwd=workdir)
    assert "status interrupted" in shown.stdout and "its process ended while running" in shown.stdout
    board = harness("leaderboard", cwd=workdir)
    assert "killed (status interrupted)" in board.stderr
    resumed = harness("run", "-p", "harness_test_scripted", "--resume", "killed", "--json", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    assert f"its last writer (pid {proc.pid} on" in resumed.stderr and "takes the run over" in resumed.stderr
    keys = [(r["node_id"], r["repeat"]) for r in records(run_dir)]
    assert len(keys) == len(set(keys)) == 12
    assert " finished " in harness("runs", cwd=workdir).stdout


def test_the_lock_in_one_process(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    assert not lock_held(run_dir)  # no lock file: no writer
    lock = RunLock(run_dir).acquire()
    assert lock_held(run_dir) and lock.taken_over == {}
    with pytest.raises(UsageError, match=f"being written by pid {os.getpid()}"):
        RunLock(run_dir).acquire()
    lock.release()
    assert not lock_held(run_dir) and (run_dir / "run.lock").read_text() == ""
    again = RunLock(run_dir).acquire()
    assert again.taken_over == {}
    again.release()


def test_a_lock_left_by_a_dead_writer_is_taken_over(tmp_path):
    """A holder record with no flock behind it (its process died) is stale."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    dead = {"pid": 999999, "host": "elsewhere", "since": "2026-01-01T00:00:00+0000", "command": ["harness", "run"]}
    (run_dir / "run.lock").write_text(json.dumps(dead))
    assert not lock_held(run_dir)
    lock = RunLock(run_dir).acquire()
    assert lock.taken_over == dead
    assert json.loads((run_dir / "run.lock").read_text())["pid"] == os.getpid()
    lock.release()


def test_a_running_spec_reads_as_running_only_while_its_lock_is_held(tmp_path):
    store = RunStore.create(tmp_path, "r")
    store.write_spec({"run_id": "r", "status": "running"})
    assert store.read_spec()["status"] == "running"
    store.lock.release()
    spec = store.read_spec()
    assert spec["status"] == "interrupted" and "--resume r" in spec["stop_reason"]
    assert json.loads((store.path / "run.json").read_text())["status"] == "running"  # the file is not rewritten by a reader
