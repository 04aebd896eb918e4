"""AFlow with the embedded model (SmolLM2 through llama.cpp) as optimizer and executor, workflows in
the docker sandbox: a 2-round search on 3 validation problems killed with -9 and resumed, every
round on disk; the workflow found, and one using every operator, scored on the test side."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import harness, harness_env, last_json, records

pytestmark = [pytest.mark.docker, pytest.mark.model, pytest.mark.slow]

PLUGINS = ["-p", "harness_aflow"]  # until the entry point is installed
SHORT = ["--optimizer-max-tokens", "96", "--max-attempts", "1", "--system-opt", "max_tokens=48"]

EVERY_OPERATOR = '''import asyncio
import prompt


class Workflow:
    def __init__(self, llm):
        self.llm = llm
        self.plan = Custom(llm)
        self.generate = CustomCodeGenerate(llm)
        self.ensemble = ScEnsemble(llm)
        self.test = Test(llm)

    async def __call__(self, problem, entry_point):
        plan = await self.plan(input=problem, instruction=prompt.PLAN)
        drafts = await asyncio.gather(*(self.generate(problem=problem + "\\n" + plan["response"], entry_point=entry_point, temperature=0.8) for _ in range(2)))
        chosen = await self.ensemble(solutions=[d["code"] for d in drafts], problem=problem)
        checked = await self.test(problem=problem, solution=chosen["response"], entry_point=entry_point, test_loop=1)
        return checked["solution"]
'''


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A search started, killed with -9 while round 1 is being scored, and resumed."""
    workdir = tmp_path_factory.mktemp("aflow-embedded")
    args = [sys.executable, "-m", "harness", "optimize", *PLUGINS, "--task", "humaneval", "--limit", "3", "--role", "optimizer=llamacpp:smollm2",
            "--role", "executor=llamacpp:smollm2", "--max-rounds", "2", "--validation-rounds", "1", "--max-concurrency", "1", *SHORT, "--id", "e"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_pass = workdir / "results" / "optimize" / "e" / "runs" / "round-1-pass-1" / "samples.jsonl"
    deadline = time.monotonic() + 400
    while not (first_pass.exists() and first_pass.read_text().count("\n") >= 1):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the search ended or stalled before its first record: {proc.stderr.read()[-3000:]}")
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_with = first_pass.read_text().count("\n")
    resumed = harness("optimize", *PLUGINS, "--resume", "e", "--json", cwd=workdir, timeout=900)
    return workdir, killed_with, resumed


def test_a_killed_search_resumes_and_completes_with_every_round_on_disk(searched):
    workdir, killed_with, resumed = searched
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = last_json(resumed.stdout)
    folder = workdir / "results" / "optimize" / "e"
    assert summary["status"] == "finished" and [r["round"] for r in summary["rounds"]] == [1, 2]
    assert killed_with < 3, "the kill came while round 1 was being scored"
    first = records(folder / "runs" / "round-1-pass-1")
    assert sorted(r["node_id"] for r in first) == ["humaneval::HumanEval/11", "humaneval::HumanEval/18", "humaneval::HumanEval/2"], "each once"
    assert all(r["roles"]["executor"]["calls"] >= 1 and r["status"] != "infra_error" for r in first)
    events = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    assert [e["invocation"] for e in events if e["event"] == "start"] == [1, 2]
    for row in summary["rounds"]:
        round_dir = folder / "rounds" / f"round_{row['round']}"
        described = json.loads((round_dir / "round.json").read_text())
        if row["workflow"]:
            assert (round_dir / "graph.py").read_text() and (round_dir / "prompt.py").exists()
            assert len(row["scores"]) == 1 and 0.0 <= row["scores"][0] <= 1.0 and described["result"]["scores"] == row["scores"]
        else:  # the 135M model rarely writes a usable workflow: its replies and why they were refused are kept
            assert row["no_workflow"] and described["no_workflow"] == row["no_workflow"]
            refused = [e for e in events if e["event"] == "attempt" and e["round"] == row["round"]]
            assert len(refused) == 1 and all(e["why"] and "reply" in e for e in refused)
    optimizer = summary["rounds"][1]["optimizer"]
    assert optimizer["calls"] >= 1 and optimizer["output_tokens"] > 0, "the optimizer's calls are metered apart"
    assert summary["rounds"][0]["executor"]["calls"] >= 3 and summary["rounds"][0]["optimizer"]["calls"] == 0
    assert summary["server_time"]["llamacpp:smollm2"]["server_seconds"] > 0, "both invocations' server time is kept"
    assert (folder / "score_per_round.png").is_file()


def test_the_workflow_found_is_scored_on_the_test_side(searched):
    workdir, _, _ = searched
    folder = workdir / "results" / "optimize" / "e"
    proc = harness("run", *PLUGINS, "--system", "aflow", "--system-opt", f"workflow={folder}", "--system-opt", "max_tokens=48", "--task", "humaneval",
                   "--task-opt", "holdout=test", "--limit", "2", "--backend", "llamacpp:smollm2", "--json", cwd=workdir)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = last_json(proc.stdout)
    assert summary["attempts"] == 2 and summary["counts"]["infra_error"] == 0
    spec = json.loads((workdir / "results" / summary["run_id"] / "run.json").read_text())
    assert spec["task"]["dataset"]["holdout"] == "test" and spec["system"]["search"]["id"] == "e"
    assert spec["system"]["options"]["workflow"] == f"{folder}:{spec['system']['search']['best_round']}"


def test_every_operator_runs_with_the_embedded_model(tmp_path):
    workflow = tmp_path / "every"
    workflow.mkdir()
    (workflow / "graph.py").write_text(EVERY_OPERATOR)
    (workflow / "prompt.py").write_text('PLAN = "List the steps to solve this problem, briefly.\\n\\n"\n')
    proc = harness("run", *PLUGINS, "--system", "aflow", "--system-opt", f"workflow={workflow}", "--system-opt", "max_tokens=48", "--task", "humaneval",
                   "--task-opt", "holdout=test", "--limit", "2", "--backend", "llamacpp:smollm2", "--json", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = last_json(proc.stdout)
    assert summary["counts"]["infra_error"] == 0
    for record in records(tmp_path / "results" / summary["run_id"]):
        details = record["answer_details"]
        assert details["status"] in {"answered", "no_solution"}, details["detail"]
        # plan + 2 drafts + (an ensemble call unless the drafts are equal) + (a repair unless the visible tests pass or there are none)
        assert 3 <= details["executor_calls"] == record["roles"]["executor"]["calls"] <= 5
        calls = [e for e in json.loads((tmp_path / "results" / summary["run_id"] / record["transcript"]).read_text()) if "request" in e]
        assert calls[0]["request"]["messages"][0]["content"].startswith("List the steps") and calls[1]["request"]["temperature"] == 0.8
