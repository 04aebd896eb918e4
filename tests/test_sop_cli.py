"""System ``sop`` through the real command line, with the scripted company (``-p``)."""

from __future__ import annotations

import json
import re

from conftest import harness, last_json, records

SCRIPTED = ("-p", "harness_test_sop_scripted", "--sandbox", "local")


def test_run_records_the_feedback_loop_options_and_every_handover(workdir) -> None:
    proc = harness("run", "--system", "sop", *SCRIPTED, "--backend", "sopscript:fix", "humaneval::HumanEval/0", "humaneval::HumanEval/2",
                   "--system-opt", "max_fix_rounds=2", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["counts"]["passed"] == 2
    run_dir = workdir / "results" / summary["run_id"]
    system = json.loads((run_dir / "run.json").read_text())["system"]
    assert system["name"] == "sop" and system["options"] == {"max_fix_rounds": "2"}
    assert system["resolved"]["max_fix_rounds"] == 2 and system["resolved"]["feedback"] is True
    for record in records(run_dir):
        details = record["answer_details"]
        assert details["fix_rounds"] == 1 and details["answer_from"]["why"] == "passed QA"
        assert set(details["parse"]) == set(record["roles"]) == set(system["resolved"]["roles"])
        assert record["roles"]["engineer"]["calls"] == 2
        transcript = json.loads((run_dir / record["transcript"]).read_text())
        handed = [e for e in transcript if e.get("event") == "handover"]
        assert len(handed) == len(details["handovers"]) == 9
        assert all("document" in e and "content" in e for e in handed)
        phases = [e["name"] for e in transcript if e.get("event") == "phase"]  # each role's turn (harness_sample_phase)
        assert phases[:4] == ["round 1: Product Manager", "round 2: Architect", "round 3: Project Manager", "round 4: Engineer"]


def test_role_backends_and_ablated_roles(workdir) -> None:
    proc = harness("run", "--system", "sop", *SCRIPTED, "--backend", "sopscript:wrong", "--role", "engineer=sopscript:right",
                   "--system-opt", "roles=engineer,qa_engineer", "humaneval::HumanEval/0", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    run_dir = workdir / "results" / last_json(proc.stdout)["run_id"]
    backends = json.loads((run_dir / "run.json").read_text())["resolved"]["backends"]
    assert backends["engineer"]["spec"] == "sopscript:right" and backends["default"]["spec"] == "sopscript:wrong"
    (record,) = records(run_dir)
    assert record["status"] == "passed" and set(record["roles"]) == {"engineer", "qa_engineer"}
    assert [h.split(" (")[1] for h in record["answer_details"]["handovers"]] == ["UserRequirement)", "WriteCode)", "WriteTests)", "RunTests)"]


def test_bad_option_is_a_usage_error_naming_the_fix(workdir) -> None:
    proc = harness("run", "--system", "sop", *SCRIPTED, "--backend", "sopscript:fix", "humaneval::HumanEval/0", "--system-opt", "feedback=sometimes", cwd=workdir)
    assert proc.returncode == 2
    assert "--system-opt feedback='sometimes': use on or off" in proc.stderr
    proc = harness("run", "--system", "sop", *SCRIPTED, "--backend", "sopscript:fix", "humaneval::HumanEval/0", "--role", "tester=sopscript:fix", cwd=workdir)
    assert proc.returncode == 2 and "qa_engineer" in proc.stderr


def test_company_mode_writes_the_project_and_runs_its_tests(workdir) -> None:
    out = workdir / "game"
    proc = harness("sop", "Make a cli number guessing game", "--out", str(out), "--backend", "sopscript:right", *SCRIPTED, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "Test report for code version 1: all checks passed" in proc.stdout and "team stopped: done" in proc.stdout
    assert json.loads((out / "docs/prd.json").read_text())["goals"] == ["solve it"]
    assert json.loads((out / "docs/design.json").read_text())["file_list"] == ["solution.py"]
    assert json.loads((out / "docs/tasks.json").read_text())["task_list"] == ["solution.py"]
    assert "def main" in (out / "solution.py").read_text()
    assert "def test_scripted" in (out / "tests/test_qa.py").read_text()
    assert json.loads((out / "docs/test_report.json").read_text())["passed"] is True
    team = json.loads((out / "docs/team.json").read_text())
    assert team["stop_reason"] == "done" and team["usage"]["engineer"]["calls"] == 1
    assert (out / "logs/transcript.jsonl").read_text().count('"handover"') == len(team["handovers"])
    # the team's work was shown while it happened: each turn and each hand-over, in order, timed
    shown = [line for line in proc.stderr.splitlines() if re.match(r"\[ *\d+\.\ds\] ", line)]
    handovers = [line.split("] ", 1)[1].split("  (tokens")[0] for line in shown if "] hand-over " in line]
    assert [h.split(": ", 1)[0].removeprefix("hand-over ") for h in handovers] == [h.split(":")[0] for h in team["handovers"]]
    assert handovers[1].startswith("hand-over 2: product_manager -> architect") and "WritePRD (PRD)" in handovers[1]
    assert "] round 1: Product Manager  (tokens 0, $0.0000)" in proc.stderr
    times = [float(re.match(r"\[ *(\d+\.\d)s\]", line).group(1)) for line in shown]
    assert times == sorted(times)
