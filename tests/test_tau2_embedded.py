"""tau2-mock end to end with the real embedded model (llama.cpp, SmolLM2-135M-Instruct) as both
the agent (system direct) and the simulated user; kept short: one task, few steps, few tokens."""

from __future__ import annotations

import json

import pytest
from conftest import harness, last_json, records

from harness.dialog import TERMINATIONS

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_direct_and_the_simulated_user_on_the_embedded_model(workdir):
    proc = harness(
        "run", "-p", "harness_tau2", "tau2-mock::create_task_1", "--system-opt", "max_tokens=32",
        "--task-opt", "max_steps=4", "--task-opt", "user_max_tokens=32", "--sandbox", "local", "--json",
        cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["counts"]["infra_error"] == 0 and summary["attempts"] == 1
    assert summary["cost_by_role"]["default"]["calls"] >= 1 and summary["cost_by_role"]["user"]["calls"] >= 1
    run_dir = workdir / "results" / summary["run_id"]
    [record] = records(run_dir)
    assert record["status"] in {"passed", "failed"} and 0.0 <= record["score"] <= 1.0
    assert record["details"]["termination"] in TERMINATIONS and "reward_basis" in record["details"]
    assert record["roles"]["user"]["output_tokens"] > 0 and record["output_tokens"] == record["roles"]["default"]["output_tokens"] > 0
    transcript = json.loads((run_dir / record["transcript"]).read_text())
    calls = [entry for entry in transcript if "request" in entry]
    agent = next(c for c in calls if c["role"] == "default")
    user = next(c for c in calls if c["role"] == "user")
    agent_prompt, user_prompt = agent["request"]["messages"][0]["content"], user["request"]["messages"][0]["content"]
    assert "Mock Domain Policy" in agent_prompt and "<tools>" in agent_prompt and '"name": "create_task"' in agent_prompt
    assert "User Simulation Guidelines" in user_prompt and "Important Meeting" in user_prompt
    assert agent["response"]["role"] == "assistant" and user["usage"]["output_tokens"] > 0
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["resolved"]["backends"]["default"]["spec"] == "llamacpp:smollm2"
    assert spec["task"]["dataset"]["version"] == "26.3"
