"""`harness run --system masgpt` end to end: SmolLM2 (the embedded llama.cpp model) as designer and
agent, the docker sandbox, HumanEval and the qa task; the two phases (design, then execution
with another agent) through the program cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import harness, last_json, records

pytestmark = [pytest.mark.docker, pytest.mark.model, pytest.mark.slow]

QA_DATA = Path(__file__).resolve().parent / "data" / "qa" / "math.json"
PLUGINS = ["-p", "harness_masgpt", "-p", "harness_qa"]  # until the entry points are installed
SMOL = ["--role", "designer=llamacpp:smollm2", "--role", "agent=llamacpp:smollm2"]


def small(cache: Path) -> list[str]:
    return ["--system-opt", "max_tokens=160", "--system-opt", "agent_max_tokens=48", "--system-opt", f"cache_dir={cache}"]


def transcript(run_dir: Path, record: dict) -> list[dict]:
    return json.loads((run_dir / record["transcript"]).read_text())


def check_masgpt_record(run_dir: Path, record: dict) -> None:
    details = record["answer_details"]
    assert details["status"] in {"answered", "none_answer", "syntax_error", "no_mas", "no_forward", "exception", "exited", "timeout", "budget_exhausted", "no_code_block"}
    assert details["failed"] == (details["status"] != "answered")
    if details["failed"]:
        assert record["answer"] == "" and record["status"] != "passed", "a failed program is a failed sample"
    assert details["program"] and details["design"]["source"] in {"designer", "cache"}
    assert "stdout" in details["run"] and "stderr" in details["run"]
    calls = [entry for entry in transcript(run_dir, record) if "request" in entry]
    assert calls[0]["role"] == "designer" and calls[0]["request"]["messages"][0]["role"] == "system"
    assert calls[0]["request"]["temperature"] == 0.0 and calls[0]["request"]["max_tokens"] == 160
    assert all(entry["role"] == "agent" for entry in calls[1:])
    usage = details["usage"]
    assert usage["design"]["calls"] == 1 and usage["design"]["output_tokens"] > 0
    assert usage["execution"]["calls"] == len(calls) - 1 == record["roles"]["agent"]["calls"]
    assert record["llm_calls"] == len(calls)


def test_masgpt_on_humaneval(workdir):
    proc = harness("run", *PLUGINS, "--system", "masgpt", "--task", "humaneval", "--limit", "3", *SMOL, *small(workdir / "cache"), "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = last_json(proc.stdout)
    assert summary["attempts"] == 3 and summary["counts"]["infra_error"] == 0
    run_dir = workdir / "results" / summary["run_id"]
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["system"]["resolved"]["max_tokens"] == 160 and len(spec["system"]["resolved"]["prompt_sha256"]) == 64
    assert set(spec["resolved"]["backends"]) >= {"designer", "agent"}
    for record in records(run_dir):
        check_masgpt_record(run_dir, record)
        assert "extraction" in record["details"], "the returned code went through the shared extraction"
    assert len(list((workdir / "cache").glob("*.json"))) == 3


def test_masgpt_on_qa_in_two_phases(workdir):
    cache = workdir / "cache"
    designed = harness("run", *PLUGINS, "--system", "masgpt", "--task", "qa", "--task-opt", f"path={QA_DATA}", *SMOL, *small(cache),
                       "--system-opt", "design=only", "--json", cwd=workdir)
    assert designed.returncode == 0, designed.stderr[-3000:]
    summary = last_json(designed.stdout)
    run_dir = workdir / "results" / summary["run_id"]
    first = records(run_dir)
    assert [r["answer_details"]["status"] for r in first] == ["not_executed"] * 3
    assert all(r["status"] == "failed" and r["answer"] == "" for r in first), "design=only scores nothing as passed"
    assert all(r["roles"]["designer"]["calls"] == 1 and r["roles"].get("agent", {"calls": 0})["calls"] == 0 for r in first)
    assert len(list(cache.glob("*.json"))) == 3

    executed = harness("run", *PLUGINS, "--system", "masgpt", "--task", "qa", "--task-opt", f"path={QA_DATA}", *SMOL, *small(cache), "--json", cwd=workdir)
    assert executed.returncode == 0, executed.stderr[-3000:]
    summary = last_json(executed.stdout)
    assert summary["attempts"] == 3 and summary["counts"]["infra_error"] == 0
    run_dir = workdir / "results" / summary["run_id"]
    by_id = {r["sample_id"]: r for r in first}
    for record in records(run_dir):
        details = record["answer_details"]
        assert details["design"]["source"] == "cache" and record["roles"]["designer"]["calls"] == 0, "not designed again"
        assert details["program"] == by_id[record["sample_id"]]["answer_details"]["program"]
        assert details["design"]["usage"]["output_tokens"] > 0, "the stored design's usage is reported"
        assert record["details"]["match"] in {"math", "exact"} and record["status"] in {"passed", "failed"}
        if details["status"] == "answered":
            assert record["roles"]["agent"]["calls"] >= 1
