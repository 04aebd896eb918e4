"""The runner through the real command line, with a scripted backend isolating it from any model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import harness, harness_env, last_json, records

SCRIPTED = ["-p", "harness_test_scripted", "--sandbox", "local"]


def test_run_records_everything_and_prints_json(workdir):
    proc = harness(
        "run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?wrong=HumanEval/1&cost=0.001",
        "--limit", "4", "--repeats", "2", "--seed", "7", "--json", cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["counts"] == {"passed": 6, "failed": 2, "error": 0, "timeout": 0, "infra_error": 0}
    assert summary["metrics"]["pass@1"] == 0.75 and summary["metrics"]["pass@2"] == 0.75
    assert summary["cost"] == 0.008 and summary["llm_calls"] == 8
    run_dir = workdir / "results" / summary["run_id"]
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["status"] == "finished" and spec["ended_at"]
    assert spec["task"]["dataset"]["count"] == 164 and len(spec["task"]["dataset"]["sha256"]) == 64
    assert spec["selection"]["selected"] == [f"humaneval::HumanEval/{i}" for i in range(4)]
    assert spec["resolved"]["sandbox"]["tier"] == "local"
    assert spec["versions"]["harness"] and spec["versions"]["python"] and "scripted" not in spec["versions"]["plugins"]
    recs = records(run_dir)
    assert sorted((r["node_id"], r["repeat"]) for r in recs) == sorted((f"humaneval::HumanEval/{i}", k) for i in range(4) for k in range(2))
    assert {r["seed"] for r in recs} == {7, 8}
    one = recs[0]
    assert one["roles"]["default"]["calls"] == 1 and one["transcript"].startswith("transcripts/")
    transcript = json.loads((run_dir / one["transcript"]).read_text())
    assert transcript[0]["role"] == "default" and transcript[0]["response"]["content"].startswith("Here it is")
    assert json.loads((run_dir / "summary.json").read_text())["run_id"] == summary["run_id"]


def test_budget_stops_scheduling(workdir):
    proc = harness(
        "run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?cost=1",
        "--limit", "10", "--max-cost", "2.5", "--max-concurrency", "1", "--json", cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["attempts"] == 3 and summary["status"] == "budget_exhausted"
    assert "--max-cost" in summary["stop_reason"]


def test_backend_failures_are_infra_errors_and_exit_1(workdir):
    proc = harness(
        "run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?fail=HumanEval/2",
        "--limit", "3", "--json", cwd=workdir,
    )
    assert proc.returncode == 1
    summary = last_json(proc.stdout)
    assert summary["counts"]["infra_error"] == 1 and summary["counts"]["passed"] == 2
    assert summary["metrics"]["pass@1"] == 1.0  # infra errors are not the system's failures


def test_last_failed_reruns_only_what_did_not_pass(workdir):
    first = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?wrong=HumanEval/1,HumanEval/3", "--limit", "5", "--json", cwd=workdir)
    assert first.returncode == 0, first.stderr
    again = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?wrong=HumanEval/1,HumanEval/3", "--limit", "5", "--lf", "--json", cwd=workdir)
    assert again.returncode == 0, again.stderr
    spec = json.loads((workdir / "results" / last_json(again.stdout)["run_id"] / "run.json").read_text())
    assert spec["selection"]["selected"] == ["humaneval::HumanEval/1", "humaneval::HumanEval/3"]
    assert spec["selection"]["lf_from"] == last_json(first.stdout)["run_id"]
    # a different backend has no previous run: --lf runs everything selected, and says so
    other = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical", "--limit", "2", "--lf", "--json", cwd=workdir)
    assert "no previous run" in other.stderr and last_json(other.stdout)["attempts"] == 2


def test_kill_9_then_resume_completes_exactly_the_missing_records(workdir):
    args = [sys.executable, "-m", "harness", "run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?delay=0.3",
            "--limit", "12", "--max-concurrency", "2", "--run-id", "killed"]
    proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    samples_file = workdir / "results" / "killed" / "samples.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if samples_file.exists() and len(samples_file.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = records(workdir / "results" / "killed")
    assert 4 <= len(before) < 12
    resumed = harness("run", "-p", "harness_test_scripted", "--resume", "killed", "--json", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    after = records(workdir / "results" / "killed")
    keys = [(r["node_id"], r["repeat"]) for r in after]
    assert len(keys) == len(set(keys)) == 12
    assert after[: len(before)] == before  # nothing rewritten
    spec = json.loads((workdir / "results" / "killed" / "run.json").read_text())
    assert spec["status"] == "finished" and len(spec["resumed_at"]) == 1


def test_list_prints_node_ids_and_counts(workdir):
    proc = harness("list", "--task", "humaneval", "-k", "HumanEval/1 and not HumanEval/10", "--limit", "3", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == f"{len(lines) - 1} selected / 164 total"
    positional = harness("list", "humaneval::HumanEval/5", "humaneval::HumanEval/2", cwd=workdir)
    assert positional.stdout.splitlines() == ["humaneval::HumanEval/5", "humaneval::HumanEval/2", "2 selected / 164 total"]


def test_show_prints_the_spec_and_the_failures(workdir):
    harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?wrong=HumanEval/1", "--limit", "3", "--run-id", "r", cwd=workdir)
    shown = harness("show", "r", "--failed", cwd=workdir)
    assert shown.returncode == 0, shown.stderr
    assert "system direct" in shown.stdout and "humaneval::HumanEval/1" in shown.stdout
    assert "humaneval::HumanEval/0 " not in shown.stdout


def test_bad_input_is_a_usage_error_naming_the_fix(workdir):
    cases = {
        ("run", "--system", "nope", "--task", "humaneval"): "unknown system 'nope'. Known systems: direct",
        ("run", "--task", "nope"): "unknown task 'nope'. Known tasks: humaneval",
        ("run", "--task", "humaneval", "--backend", "nope:x", "--sandbox", "local"): "unknown backend 'nope:x'. Known schemes:",
        ("run", "--resume", "missing-run"): "no run 'missing-run'",
        ("run", "--task", "humaneval", "-k", "a and (", "--sandbox", "local"): "-k 'a and (': at column",
        ("run", "--task", "humaneval", "--repeats", "0"): "--repeats 0: give a number >= 1",
        ("run", "--task", "humaneval", "--task-opt", "colour=blue"): "unknown --task-opt ['colour']",
        ("run", "-p", "no_such_module", "--task", "humaneval"): "cannot import module 'no_such_module'",
    }
    for args, message in cases.items():
        proc = harness(*args, cwd=workdir)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
    assert "llamacpp:" in harness("run", "--task", "humaneval", "--backend", "nope:x", "--sandbox", "local", cwd=workdir).stderr


def test_malformed_harness_toml_names_file_and_line(workdir):
    (workdir / "harness.toml").write_text('[models.x]\nbase_url = "http://127.0.0.1:9/v1"\nprice = = 3\n')
    proc = harness("run", "--task", "humaneval", cwd=workdir)
    assert proc.returncode == 2
    assert "harness.toml: malformed TOML" in proc.stderr and "line 3" in proc.stderr


def test_endpoint_down_stops_the_run_at_once_marked_and_exits_1(workdir):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (workdir / "harness.toml").write_text(f'[models.down]\nbase_url = "http://127.0.0.1:{port}/v1"\nmodel = "m"\n')
    proc = harness("run", "--task", "humaneval", "--backend", "down", "--sandbox", "local", "--limit", "50", "--run-id", "down", cwd=workdir, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert f"no endpoint of model 'm' answers (http://127.0.0.1:{port}/v1: cannot connect" in proc.stderr
    assert "Start the server or fix base_url" in proc.stderr
    spec = json.loads((workdir / "results" / "down" / "run.json").read_text())
    assert spec["status"] == "crashed" and "no endpoint" in spec["stop_reason"]


def test_endpoint_dying_mid_run_gives_infra_errors_after_retries(workdir, tmp_path):
    """Requests that keep failing after the run started are retried, then recorded as infra_error."""
    import asyncio

    from harness_llamacpp.backend import llama_server

    from harness.serving.shipped import smollm2_gguf

    server = llama_server(smollm2_gguf(), "smollm2")
    asyncio.run(server.start(tmp_path))
    (workdir / "harness.toml").write_text(f'[models.flaky]\nbase_url = "{server.base_url}"\nmodel = "smollm2"\nattempts = 3\nbackoff = 0.2\n')
    args = [sys.executable, "-m", "harness", "run", "--task", "humaneval", "--backend", "flaky", "--sandbox", "local", "--limit", "6",
            "--max-concurrency", "1", "--system-opt", "max_tokens=16", "--run-id", "flaky", "--json"]
    proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples_file = workdir / "results" / "flaky" / "samples.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (samples_file.exists() and samples_file.read_text().count("\n") >= 1):
        time.sleep(0.05)
    asyncio.run(server.stop())
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    summary = last_json(out)
    assert summary["counts"]["infra_error"] >= 1 and summary["attempts"] == 6
    failed = [r for r in records(workdir / "results" / "flaky") if r["status"] == "infra_error"]
    assert all("3 tries" in r["error"] and server.base_url in r["error"] for r in failed)
