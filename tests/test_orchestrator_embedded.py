"""System orchestrator for real: the embedded model (llama.cpp, SmolLM2-135M-Instruct) as the
orchestrator and as its expert, on HumanEval (docker sandbox) and tau2-mock (the embedded model
as the simulated user too). A model this small rarely calls a tool on its own, so each task
also runs with the scripted orchestrator handing work to the embedded expert: the real model
then answers through call_expert, and on tau2 its messages replace the orchestrator's turns.
Kept short: two problems or one task, few turns, few tokens."""

from __future__ import annotations

import json

import pytest
from conftest import harness, last_json, records

pytestmark = [pytest.mark.model, pytest.mark.slow]

PLUGINS = ["-p", "harness_orchestrator", "-p", "harness_test_orchestrator_scripted"]
SHORT = ["--system-opt", "max_turns=3", "--system-opt", "max_tokens=48", "--system-opt", "expert_max_tokens=96"]
STATUSES = {"passed", "failed", "error", "timeout"}


def _run(workdir, *args):
    proc = harness("run", *PLUGINS, "--system", "orchestrator", "--json", *SHORT, *args, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    run_dir = workdir / "results" / summary["run_id"]
    return summary, run_dir, records(run_dir)


def _calls(run_dir, record, role):
    return [e for e in json.loads((run_dir / record["transcript"]).read_text()) if e.get("role") == role and "request" in e]


def test_the_embedded_model_orchestrates_itself_on_humaneval(workdir):
    summary, run_dir, recs = _run(workdir, "--task", "humaneval", "--limit", "2", "--system-opt", "experts=smol=llamacpp:smollm2")
    assert summary["attempts"] == 2 and summary["counts"]["infra_error"] == 0
    spec = json.loads((run_dir / "run.json").read_text())
    backends = spec["resolved"]["backends"]
    assert backends["default"]["spec"] == backends["expert-smol"]["spec"] == "llamacpp:smollm2" and spec["resolved"]["sandbox"]["tier"] == "docker"
    assert len([p for p in (run_dir / "logs").iterdir() if p.name.startswith("llamacpp_port_") and p.suffix == ".out"]) <= 1  # one server for both roles
    for record in recs:
        assert record["status"] in STATUSES and record["answer"] is not None
        orchestrator = record["roles"]["orchestrator"]
        assert 1 <= orchestrator["calls"] <= 3 and orchestrator["output_tokens"] > 0 and orchestrator["latency"] > 0
        first = _calls(run_dir, record, "orchestrator")[0]["request"]
        assert first["tools"] is None and '"name": "call_expert"' in first["messages"][0]["content"]  # Hermes: llama.cpp takes no tools
        details = record["answer_details"]
        assert details["stop"] in {"answer", "text", "max_turns"} and sum(details["expert_calls"].values()) == record["roles"].get("expert-smol", {}).get("calls", 0)
        assert record["cost"] == 0.0 and record["llm_calls"] == sum(m["calls"] for m in record["roles"].values())
    assert summary["cost_by_role"]["orchestrator"]["mean_latency"] > 0


def test_the_embedded_model_answers_as_the_expert_on_humaneval(workdir):
    summary, run_dir, recs = _run(workdir, "--task", "humaneval", "--limit", "2", "--backend", "orch:expert?tools=1",
                                  "--system-opt", "experts=smol=llamacpp:smollm2", "--sandbox", "local")  # fmt: skip
    for record in recs:
        assert record["status"] in STATUSES and record["answer_details"]["expert_calls"] == {"smol": 1}
        [call] = _calls(run_dir, record, "expert-smol")
        assert call["usage"]["output_tokens"] > 0 and call["latency"] > 0
        assert record["answer"] == call["response"]["content"]  # the scripted orchestrator answered with the expert's reply
    assert summary["cost_by_role"]["expert-smol"]["calls"] == 2 and summary["cost_by_role"]["expert-smol"]["mean_latency"] > 0


TAU2 = ["tau2-mock::create_task_1", "--task-opt", "max_steps=4", "--task-opt", "user_max_tokens=32", "--sandbox", "local",
        "--system-opt", "max_tokens=32", "--system-opt", "expert_max_tokens=32"]  # fmt: skip


def test_the_embedded_model_orchestrates_itself_on_tau2(workdir):
    summary, run_dir, [record] = _run(workdir, *TAU2, "--system-opt", "experts=smol=llamacpp:smollm2")
    assert record["status"] in {"passed", "failed"} and record["details"]["termination"]
    assert record["roles"]["orchestrator"]["calls"] >= 1 and record["roles"]["user"]["calls"] >= 1
    prompt = _calls(run_dir, record, "orchestrator")[0]["request"]["messages"][0]["content"]
    assert "call_expert" in prompt and "Mock Domain Policy" in prompt and '"name": "transfer_to_human_agents"' not in prompt
    replaced = [e for e in json.loads((run_dir / record["transcript"]).read_text()) if e.get("event") == "turn_replaced"]
    assert len(replaced) == record["roles"].get("expert-smol", {}).get("calls", 0)
    assert set(summary["cost_by_role"]) >= {"orchestrator", "user"}


def test_the_embedded_expert_takes_the_turns_on_tau2(workdir):
    _, run_dir, [record] = _run(workdir, *TAU2, "--backend", "orch:tau2?tools=1", "--role", "user=llamacpp:smollm2",
                                "--system-opt", "experts=smol=llamacpp:smollm2")  # fmt: skip
    assert record["status"] in {"passed", "failed"}
    expert_replies = [c["response"] for c in _calls(run_dir, record, "expert-smol")]
    assert expert_replies and all(r["role"] == "assistant" for r in expert_replies)
    agent_turns = [t["message"] for t in record["answer_details"]["conversation"][1:] if t["message"]["role"] == "assistant"]
    # every agent turn was the expert's message (an empty last one ends the episode instead: agent_error)
    assert len(agent_turns) == len(expert_replies) - (record["details"]["termination"] == "agent_error")
    assert all("call_expert" not in json.dumps(turn) for turn in agent_turns)
    assert record["roles"]["expert-smol"]["output_tokens"] > 0 and record["roles"]["orchestrator"]["calls"] == len(expert_replies)


def test_the_routing_baseline_asks_the_expert_what_the_model_alone_is_asked(workdir):
    """route=always:NAME through call_expert and `direct` with the same model: same requests,
    same answers, same tokens (temperature 0)."""
    common = ["--task", "humaneval", "--limit", "2", "--sandbox", "local", "--json"]
    routed, _, routed_recs = _run(workdir, *common, "--system-opt", "experts=smol=llamacpp:smollm2", "--system-opt", "route=always:smol")
    proc = harness("run", "--system", "direct", *common, "--system-opt", "max_tokens=96", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    direct = last_json(proc.stdout)
    direct_recs = records(workdir / "results" / direct["run_id"])
    assert [r["answer"] for r in routed_recs] == [r["answer"] for r in direct_recs]
    assert [r["status"] for r in routed_recs] == [r["status"] for r in direct_recs]
    assert routed["tokens"] == direct["tokens"] and set(routed["cost_by_role"]) == {"expert-smol"}
