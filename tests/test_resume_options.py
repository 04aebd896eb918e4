"""``harness run --resume`` with options typed again (issue 15, item 2) and data paths that stay
valid from another folder (item 3): real `harness run` processes, scripted backend."""

from __future__ import annotations

import json

import pytest
from conftest import MBPP_DATA, harness, last_json, records

SCRIPTED = ["-p", "harness_test_scripted", "--sandbox", "local"]


def spec_of(workdir, run_id):
    return json.loads((workdir / "results" / run_id / "run.json").read_text())


def test_options_that_change_what_is_measured_are_refused_and_each_is_named(workdir):
    first = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical", "--limit", "2", "--run-id", "r", cwd=workdir)
    assert first.returncode == 0, first.stderr
    before = (spec_of(workdir, "r"), records(workdir / "results" / "r"))
    proc = harness(
        "run", "-p", "harness_test_scripted", "--resume", "r", "--task", "mbpp", "--repeats", "0", "--seed", "3",
        "--backend", "scripted:wrong", "--sandbox", "docker", "-k", "HumanEval/1", "--task-opt", "extract=raw",
        "--system-opt", "max_tokens=9", "humaneval::HumanEval/5", cwd=workdir,
    )
    assert proc.returncode == 2, proc.stderr
    for named in (
        "--task mbpp (the run has humaneval)",
        "--repeats 0 (the run has 1; a run's repeats can grow, not shrink)",
        "--seed 3 (the run has none)",
        "--backend scripted:wrong (the run has scripted:canonical)",
        "--sandbox docker (the run has local)",
        "-k HumanEval/1 (the run has none)",
        "--task-opt extract=raw (the run leaves extract unset)",
        "--system-opt max_tokens=9 (the run leaves max_tokens unset)",
        "node ids humaneval::HumanEval/5 (the run's selection is fixed: 2 samples)",
    ):
        assert named in proc.stderr, (named, proc.stderr)
    assert "drop these to finish it, or start a new run" in proc.stderr
    assert (spec_of(workdir, "r"), records(workdir / "results" / "r")) == before  # nothing touched
    same = harness("run", "-p", "harness_test_scripted", "--resume", "r", "--task", "humaneval", "--repeats", "1", "--sandbox", "local", cwd=workdir)
    assert same.returncode == 0, same.stderr  # typing the run's own values is no conflict


def test_more_repeats_grow_the_run_and_are_said(workdir):
    first = harness("run", *SCRIPTED, "--task", "humaneval", "--backend", "scripted:canonical?wrong=HumanEval/1", "--limit", "2", "--run-id", "g", cwd=workdir)
    assert first.returncode == 0, first.stderr
    grown = harness("run", "-p", "harness_test_scripted", "--resume", "g", "--repeats", "3", "--max-concurrency", "2", "--json", cwd=workdir)
    assert grown.returncode == 0, grown.stderr
    assert "run g: resuming with --max-concurrency 4 -> 2; --repeats 1 -> 3; the run grows to 3 repeats per sample" in grown.stderr
    summary = last_json(grown.stdout)
    assert summary["attempts"] == 6 and summary["metrics"]["pass@3"] == 0.5
    spec = spec_of(workdir, "g")
    assert spec["repeats"] == 3 and spec["invocation"]["options"]["repeats"] == 3 and spec["max_concurrency"] == 2
    assert spec["resume_changes"][0]["repeats"] == {"from": 1, "to": 3}
    again = harness("run", "-p", "harness_test_scripted", "--resume", "g", "--json", cwd=workdir)
    assert again.returncode == 0 and last_json(again.stdout)["attempts"] == 6  # the grown run is what is replayed


def test_a_run_started_with_a_relative_path_resumes_from_another_folder(workdir, tmp_path_factory):
    """The data path is stored absolute; a raised --max-cost is applied to the rest of the run."""
    project = workdir / "project"
    project.mkdir()
    (project / "data").symlink_to(MBPP_DATA)
    first = harness("run", *SCRIPTED, "--task", "mbpp", "--task-opt", "path=data", "--backend", "scripted:canonical?cost=1",
                    "--limit", "4", "--max-concurrency", "1", "--max-cost", "2", "--run-id", "m", cwd=project)
    assert first.returncode == 0, first.stderr
    results = project / "results"
    spec = json.loads((results / "m" / "run.json").read_text())
    assert spec["status"] == "budget_exhausted" and spec["task"]["options"]["path"] == str(project / "data")
    assert spec["task"]["dataset"]["source"] == f"file:{project / 'data' / 'sanitized-mbpp.json'}"
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    resumed = harness("run", "-p", "harness_test_scripted", "--resume", "m", "--results-dir", str(results), "--max-cost", "10", "--json", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    assert "--max-cost 2.0 -> 10.0" in resumed.stderr
    assert last_json(resumed.stdout)["attempts"] == 4 and last_json(resumed.stdout)["status"] == "finished"


@pytest.mark.docker
def test_typing_the_default_that_the_run_used_is_no_conflict(workdir):
    """The run did not name its sandbox (docker by default); typing --sandbox docker on resume
    names what it used."""
    first = harness("run", "-p", "harness_test_scripted", "--task", "humaneval", "--backend", "scripted:canonical", "--limit", "1", "--run-id", "d", cwd=workdir)
    assert first.returncode == 0, first.stderr
    again = harness("run", "-p", "harness_test_scripted", "--resume", "d", "--sandbox", "docker", cwd=workdir)
    assert again.returncode == 0, again.stderr
    other = harness("run", "-p", "harness_test_scripted", "--resume", "d", "--sandbox", "local", cwd=workdir)
    assert other.returncode == 2 and "--sandbox local (the run has docker)" in other.stderr
