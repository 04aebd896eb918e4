"""What a user trips on daily (issue 15, items 4, 5 and 11), through the real command line:
folders that cannot be written, `harness sop --out` over existing files, budgets, option typos,
`harness runs`, `harness show`, Ctrl-C, `compare A A`, `-m` that selects nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import harness, harness_env, last_json

SCRIPTED = ["-p", "harness_test_scripted", "--sandbox", "local"]
SOP = ["-p", "harness_test_sop_scripted", "--sandbox", "local", "--backend", "sopscript:right"]


def scripted_run(workdir, run_id: str, *extra: str) -> dict:
    proc = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?wrong=HumanEval/1", "--limit", "3", "--run-id", run_id, "--json", *extra, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    return last_json(proc.stdout)


# --- item 4: files the user did not ask to lose, folders that cannot be written --------------


def test_sop_refuses_a_non_empty_out_unless_forced(workdir):
    out = workdir / "game"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    proc = harness("sop", "Make a game", "--out", str(out), *SOP, cwd=workdir)
    assert proc.returncode == 2
    assert f"--out {out} is not empty (1 entries: notes.txt)" in proc.stderr and "--force" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    forced = harness("sop", "Make a game", "--out", str(out), "--force", *SOP, cwd=workdir)
    assert forced.returncode == 0, forced.stderr
    assert (out / "notes.txt").read_text() == "mine" and (out / "solution.py").is_file()


@pytest.mark.parametrize("command", ["run", "score", "check-task", "leaderboard-output", "report-output", "sop"])
def test_a_folder_that_cannot_be_written_is_a_usage_error_naming_it(workdir, command):
    """A file where a folder should be (root ignores permissions, not this): exit 2, the folder
    named, no traceback."""
    blocker = workdir / "blocker"
    blocker.write_text("a file, not a folder")
    folder = blocker / "sub"
    scripted_run(workdir, "done")
    samples = workdir / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return []\n"}) + "\n")
    args = {
        "run": ["run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical", "--limit", "1", "--results-dir", str(folder)],
        "score": ["score", "--task", "humaneval", str(samples), "--sandbox", "local", "--results-dir", str(folder)],
        "check-task": ["check-task", "humaneval", "--sandbox", "local", "--results-dir", str(folder)],
        "leaderboard-output": ["leaderboard", "--output", str(folder / "board.md")],
        "report-output": ["report", "--output", str(folder / "report.html")],
        "sop": ["sop", "Make a game", "--out", str(folder), *SOP],
    }[command]
    proc = harness(*args, cwd=workdir)
    assert proc.returncode == 2, proc.stderr
    assert str(folder) in proc.stderr or str(blocker) in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_leaderboard_and_runs_say_a_missing_results_folder_does_not_exist(workdir):
    for command in ("leaderboard", "runs", "report"):
        extra = ["--output", str(workdir / "r.html")] if command == "report" else []
        proc = harness(command, "--results-dir", "MISSING", *extra, cwd=workdir)
        assert proc.returncode == 2
        assert "the results folder MISSING does not exist" in proc.stderr


def test_check_task_prints_only_a_folder_that_exists(workdir, tmp_path):
    """Without --results-dir the records are kept in the cache, so the folder printed is there."""
    proc = harness("check-task", "humaneval", "--sandbox", "local", "--task-opt", "timeout_floor=10", cwd=workdir, env=harness_env(XDG_CACHE_HOME=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    printed = [word for word in proc.stderr.split() if word.startswith(str(tmp_path))]
    assert printed and all(Path(word).exists() for word in printed), proc.stderr
    (run_dir,) = (tmp_path / "mas-harness" / "check-task").glob("*/run.json")
    shown = harness("show", "--results-dir", str(run_dir.parent.parent), run_dir.parent.name, cwd=workdir)
    assert shown.returncode == 0 and "164 of 164" in shown.stdout


# --- item 5: budgets -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_a_budget_must_be_positive(workdir, value):
    proc = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical", "--max-cost", value, cwd=workdir)
    assert proc.returncode == 2
    assert "a budget must be a positive amount of USD" in proc.stderr
    assert not (workdir / "results").exists() or not any((workdir / "results").iterdir())  # no empty run left behind
    sop = harness("sop", "Make a game", "--out", str(workdir / "g"), *SOP, "--max-cost", value, cwd=workdir)
    assert sop.returncode == 2 and "a budget must be a positive amount of USD" in sop.stderr


def test_a_budget_from_harness_toml_is_checked_and_named(workdir):
    (workdir / "harness.toml").write_text("[run]\nmax_cost = 0\n")
    proc = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical", cwd=workdir)
    assert proc.returncode == 2 and "harness.toml [run] max_cost = 0: a budget must be" in proc.stderr


# --- item 11: small things ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--task", "humaneval", "--limt", "2"), "harness run: unknown option --limt; did you mean --limit?"),
        (("run", "--task", "humaneval", "--max-cots=1"), "harness run: unknown option --max-cots; did you mean --max-cost?"),
        (("sandbox", "check", "--sandboxx", "local"), "harness sandbox check: unknown option --sandboxx; did you mean --sandbox?"),
        (("show", "a", "b"), "harness show: unexpected argument 'b'"),
        (("run", "--task", "humaneval", "--sandbox", "nope"), "unknown sandbox 'nope'. Known sandboxes: docker, local"),
        (("sop", "", "--out", "x"), 'give the requirement to build, e.g. harness sop "a cli number guessing game"'),
        (("sop", "   ", "--out", "x"), "give the requirement to build"),
        (("sop", "a game", "--out", "x", "--results-dir", "r"), "harness sop: unknown option --results-dir"),
    ],
)
def test_usage_errors_name_the_command_and_the_fix(workdir, args, message):
    proc = harness(*args, cwd=workdir)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr, proc.stderr


def test_no_message_says_sandboxe(workdir):
    from harness.plugins import KINDS, SINGULAR, load_plugins

    plugins = load_plugins()
    for kind in KINDS:
        with pytest.raises(Exception, match=f"unknown {SINGULAR[kind]} 'nope'. Known {kind}:"):
            plugins.get(kind, "nope")


def test_runs_lists_every_run_and_show_gives_counts_and_why(workdir):
    scripted_run(workdir, "one")
    scripted_run(workdir, "two", "--repeats", "2")
    listed = harness("runs", cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    header, _, *rows = listed.stdout.splitlines()
    assert header.split() == ["run", "system", "task", "models", "status", "samples", "pass@1", "started"]
    assert [row.split()[0] for row in rows] == ["one", "two"]
    assert all(row.split()[4:7] == ["finished", "3/3", "0.667"] for row in rows)
    as_json = [json.loads(line) for line in harness("runs", "--json", cwd=workdir).stdout.splitlines()]
    assert as_json[1]["run"] == "two" and as_json[1]["pass@1"] == pytest.approx(2 / 3)
    shown = harness("show", "two", cwd=workdir).stdout
    failed = next(line for line in shown.splitlines() if line.startswith("humaneval::HumanEval/1 "))
    assert failed.split()[2] == "failed" and failed.rstrip().endswith("AssertionError")
    counts = {line.split()[0]: line.split()[1] for line in shown.splitlines() if line.split()[:1] in (["passed"], ["failed"], ["error"], ["timeout"], ["infra_error"])}
    assert counts == {"passed": "4", "failed": "2", "error": "0", "timeout": "0", "infra_error": "0"}
    assert "all records  6 of 6" in shown and "pass@1 0.667, pass@2 0.667" in shown


def test_marker_that_selects_nothing_hints_at_the_task_option(workdir):
    proc = harness("run", "--task", "mbpp", "-m", "validation", "--sandbox", "local", cwd=workdir)
    assert proc.returncode == 2
    assert "no sample selected (0 of 257)" in proc.stderr and "--task-opt split=validation" in proc.stderr
    listed = harness("list", "--task", "mbpp", "-m", "nothing_like_this", cwd=workdir)
    assert "matches none of their tags; the commonest: test (257), sanitized (257)" in listed.stderr


def test_ctrl_c_says_interrupted_once(workdir):
    args = [sys.executable, "-m", "harness", "run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?delay=1",
            "--limit", "20", "--max-concurrency", "1", "--run-id", "c"]
    proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = workdir / "results" / "c" / "samples.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not samples.exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.lower().count("interrupted") == 1, err
    assert "harness run --resume c" in err
    assert json.loads((workdir / "results" / "c" / "run.json").read_text())["status"] == "interrupted"


def test_compare_a_run_with_itself_warns(workdir):
    scripted_run(workdir, "same")
    proc = harness("compare", "same", "same", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "warning: comparing run same with itself" in proc.stderr
