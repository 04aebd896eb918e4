"""System orchestrator through the real command line, with a scripted orchestrator
(tests/plugins/harness_test_orchestrator_scripted.py) on HumanEval and tau2-mock: each path of
its loop (expert call, code run, answer, a reply without tool call, Hermes text calls,
malformed calls, the turn limit, turn replacement on tau2), the routing baseline, the roster
from harness.toml, costs that add up to each call's usage times the configured prices, and the
share of work per role in the summary, the leaderboard and the report."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, harness, last_json, records
from test_report import probe

PLUGINS = ["-p", "harness_orchestrator", "-p", "harness_test_orchestrator_scripted"]
DIALOG = [*PLUGINS, "-p", "harness_test_dialog_scripted"]
PROBLEM = "humaneval::HumanEval/0"


def _run_with_log(workdir, *args, plugins=PLUGINS):
    """(summary, run folder, records, the progress lines on stderr) of a run that must finish."""
    proc = harness("run", *plugins, "--system", "orchestrator", "--sandbox", "local", "--json", *args, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    run_dir = workdir / "results" / summary["run_id"]
    return summary, run_dir, records(run_dir), proc.stderr


def _run(workdir, *args, plugins=PLUGINS):
    return _run_with_log(workdir, *args, plugins=plugins)[:3]


def _calls(run_dir, record, role=None):
    transcript = json.loads((run_dir / record["transcript"]).read_text())
    return [e for e in transcript if "request" in e and (role is None or e["role"] == role)]


def _events(run_dir, record, name):
    return [e for e in json.loads((run_dir / record["transcript"]).read_text()) if e.get("event") == name]


@pytest.mark.parametrize("tools", ["1", "0"])  # OpenAI function calling; Hermes <tool_call> text
def test_an_expert_call_returns_the_experts_reply_as_the_tool_result(workdir, tools):
    summary, run_dir, [record] = _run(workdir, PROBLEM, "--backend", f"orch:expert?tools={tools}", "--system-opt", "experts=solver=orch:solver")
    assert record["status"] == "passed"
    details = record["answer_details"]
    assert details["stop"] == "answer" and details["expert_calls"] == {"solver": 1} and details["tool_errors"] == 0
    assert record["roles"]["orchestrator"]["calls"] == 2 and record["roles"]["expert-solver"]["calls"] == 1
    expert_call = _calls(run_dir, record, "expert-solver")[0]
    reply = expert_call["response"]["content"]
    assert "def has_close_elements" in reply
    assert "has_close_elements(numbers: List[float]" in expert_call["request"]["messages"][-1]["content"]  # the problem
    assert expert_call["request"]["messages"][-1]["content"].endswith("Instructions from the coordinator: Write the function.")
    second = _calls(run_dir, record, "orchestrator")[1]["request"]
    if tools == "1":
        assert [t["function"]["name"] for t in second["tools"]] == ["call_expert", "run_python", "answer"]
        assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["content"] == reply
    else:
        assert second["tools"] is None and "<tools>" in second["messages"][0]["content"]
        assert second["messages"][-1]["content"] == f"<tool_response>\n{reply}\n</tool_response>"
    assert summary["llm_calls"] == 3 and set(summary["cost_by_role"]) == {"orchestrator", "expert-solver"}


@pytest.mark.parametrize(
    ("scenario", "tools", "stop", "turns"),
    [("run", "0", "answer", 2), ("answer", "1", "answer", 1), ("text", "0", "text", 1), ("malformed", "0", "answer", 5), ("malformed", "1", "answer", 5)],
)
def test_code_runs_answers_text_replies_and_malformed_calls(workdir, scenario, tools, stop, turns):
    _, run_dir, [record] = _run(workdir, PROBLEM, "--backend", f"orch:{scenario}?tools={tools}", "--system-opt", "experts=solver=orch:solver")
    assert record["status"] == "passed", record["output"]
    details = record["answer_details"]
    assert (details["stop"], details["turns"]) == (stop, turns)
    last = json.dumps(_calls(run_dir, record, "orchestrator")[-1]["request"]["messages"])
    if scenario == "run":
        assert "exit status 0\\nstdout:\\n42\\n" in last  # the sandbox's output came back
    if scenario == "malformed":  # each error was shown to the orchestrator, which then answered
        assert details["tool_errors"] == 4 and [c["error"] for c in details["calls"]] == [True] * 4 + [False]
        for error in ("there is no tool no_such_tool. The tools are: call_expert, run_python, answer",
                      "the arguments of run_python are not valid JSON", "there is no expert 'expert-9'; the experts are expert-1",
                      'answer needs the text parameter(s) text: call it with {\\"text\\": <the final answer>}'):  # fmt: skip
            assert error in last, error
        assert "expert-solver" not in record["roles"]  # no expert was called


def test_on_a_qa_task_the_answer_can_come_from_a_program_it_ran(workdir):
    data = ROOT / "tests" / "data" / "qa" / "math.json"
    _, _, [record] = _run(workdir, "qa::0", "--task-opt", f"path={data}", "--backend", "orch:qa-run?tools=1")
    assert record["status"] == "passed" and record["answer"] == "42"  # graded by the qa task (math-verify)
    assert [c["tool"] for c in record["answer_details"]["calls"]] == ["run_python", "answer"]


def test_the_turn_limit_ends_the_work(workdir):
    _, run_dir, [record] = _run(workdir, PROBLEM, "--backend", "orch:loop?tools=1", "--system-opt", "max_turns=3")
    assert record["status"] != "passed"
    assert record["answer_details"]["stop"] == "max_turns" and record["answer_details"]["turns"] == 3
    assert record["roles"]["orchestrator"]["calls"] == 3 and record["answer_details"]["answer_from"] == "last text"
    assert "You have at most 3 turns" in _calls(run_dir, record)[0]["request"]["messages"][0]["content"]


TOML = """
[systems.orchestrator]
prefer = "cost"

[systems.orchestrator.experts.solver]
backend = "orch:solver"
description = "writes Python functions from their docstrings"
input_price = 2
output_price = 8
latency = 3

[systems.orchestrator.experts.cheap]
backend = "orch:solver?price=0.1/0.2"
description = "a cheap one"
"""


def test_costs_are_each_calls_usage_at_the_configured_prices_and_the_board_shows_who_worked(workdir):
    """The roster from harness.toml (a price given there, a price from the expert's backend),
    the orchestrator at its backend's price; then the routing baseline beside it."""
    (workdir / "harness.toml").write_text(TOML)
    summary, run_dir, recs, log = _run_with_log(workdir, PROBLEM, "humaneval::HumanEval/1", "--backend", "orch:expert?tools=1&price=1.5/6&delay=0.05")
    prices = {"orchestrator": (1.5, 6.0), "expert-solver": (2.0, 8.0), "expert-cheap": (0.1, 0.2)}
    for record in recs:
        assert record["status"] == "passed"
        for role, meter in record["roles"].items():
            calls = _calls(run_dir, record, role)
            expected = sum(c["usage"]["input_tokens"] * prices[role][0] + c["usage"]["output_tokens"] * prices[role][1] for c in calls) / 1e6
            assert meter["cost"] == pytest.approx(expected, rel=1e-9) and expected > 0
            assert [c["cost"] for c in calls] == pytest.approx([(c["usage"]["input_tokens"] * prices[role][0] + c["usage"]["output_tokens"] * prices[role][1]) / 1e6 for c in calls])
        assert record["cost"] == pytest.approx(sum(m["cost"] for m in record["roles"].values()))
        table = _calls(run_dir, record, "orchestrator")[0]["request"]["tools"][0]["function"]["parameters"]["properties"]["expert"]["description"]
        assert "expert-1: writes Python functions from their docstrings" in table
        assert "expert-1 | $2 | $8 | 3 s" in table and "expert-2 | $0.1 | $0.2 | unknown" in table
    assert summary["cost"] == pytest.approx(sum(r["cost"] for r in recs))
    by_role = summary["cost_by_role"]
    assert by_role["expert-solver"]["calls"] == 2 and "expert-cheap" not in by_role  # the scripted orchestrator only calls expert-1
    assert by_role["orchestrator"]["mean_latency"] == pytest.approx(by_role["orchestrator"]["latency"] / 4, abs=1e-4) and by_role["orchestrator"]["mean_latency"] >= 0.05
    assert [(w["role"], w["calls"]) for w in summary["work_by_role"]] == [("orchestrator", 4), ("expert-solver", 2)]  # expert-cheap did nothing
    assert "work by role (calls, share of tokens): orchestrator 4 calls" in log and "· expert-solver 2 calls" in log
    spec = json.loads((run_dir / "run.json").read_text())["system"]
    assert spec["roles"] == ["orchestrator", "expert-solver", "expert-cheap"]
    assert spec["resolved"]["preferences"]["prefer"] == "cost" and spec["resolved"]["experts"][0]["input_price"] == 2.0
    assert "a low cost 50%" in _calls(run_dir, recs[0], "orchestrator")[0]["request"]["messages"][0]["content"]

    baseline, base_dir, base_recs = _run(workdir, PROBLEM, "humaneval::HumanEval/1", "--backend", "orch:solver", "--system-opt", "route=always:solver")
    assert baseline["counts"]["passed"] == 2 and set(baseline["cost_by_role"]) == {"expert-solver"}
    for record in base_recs:  # through the same call as the orchestrator's, asked what the model alone is asked
        [call] = _calls(base_dir, record)
        [message] = call["request"]["messages"]
        assert message["role"] == "user" and message["content"].startswith("Complete the following Python function.")
        assert "coordinator" not in message["content"]
        assert record["answer_details"]["stop"] == "routed" and record["answer_details"]["expert_calls"] == {"solver": 1}

    rows = json.loads(harness("leaderboard", *PLUGINS, "--format", "json", cwd=workdir).stdout)
    work = {row["options"]: row["work_by_role"] for row in rows}
    assert set(work) == {"experts=solver,cheap prefer=cost", "experts=solver,cheap prefer=cost route=always:solver"}
    orchestrated = work["experts=solver,cheap prefer=cost"]
    assert [(w["role"], w["calls"]) for w in orchestrated] == [("orchestrator", 4), ("expert-solver", 2)]
    assert sum(w["token_share"] for w in orchestrated) == pytest.approx(1.0, abs=1e-3)
    assert all(row["cost"] > 0 and row["pass@1"] == 1.0 for row in rows)
    table = harness("leaderboard", *PLUGINS, cwd=workdir).stdout
    assert "work by role: calls, % of tokens" in table and "orchestrator 4 calls" in table and "expert-solver 2 calls 100%" in table
    report = harness("report", *PLUGINS, "--output", "r.html", cwd=workdir)
    assert report.returncode == 0, report.stderr
    page = (workdir / "r.html").read_text()
    assert "work by role: calls, % of tokens" in page and "mean_latency" in page
    seen = probe(workdir, workdir / "r.html", """
      const board = document.querySelector("table.board").getBoundingClientRect();
      result = {page: document.documentElement.scrollWidth, window: innerWidth, board_right: board.right};""")
    assert seen["page"] <= seen["window"] and seen["board_right"] <= seen["window"], "with the work column the page scrolls sideways at 1,400 px"


def test_a_resumed_run_calls_the_experts_of_its_run_json_not_of_todays_harness_toml(workdir):
    (workdir / "harness.toml").write_text(TOML)
    _run(workdir, PROBLEM, "--backend", "orch:expert?tools=1", "--run-id", "grow")
    (workdir / "harness.toml").write_text('[systems.orchestrator.experts.other]\nbackend = "orch:loop"\n')
    proc = harness("run", *PLUGINS, "--resume", "grow", "--repeats", "2", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    second = records(workdir / "results" / "grow")[1]
    assert second["repeat"] == 1 and second["status"] == "passed"
    assert second["roles"]["expert-solver"]["cost"] > 0 and "expert-other" not in second["roles"]  # the recorded roster, priced as recorded


def test_two_prices_for_one_expert_and_unknown_roles_are_refused_before_anything_starts(workdir):
    (workdir / "harness.toml").write_text('[systems.orchestrator.experts.x]\nbackend = "orch:solver?price=1/2"\ninput_price = 3\noutput_price = 4\n')
    proc = harness("run", *PLUGINS, "--system", "orchestrator", PROBLEM, "--backend", "orch:answer", "--sandbox", "local", cwd=workdir)
    assert proc.returncode == 2 and "role expert-x: two prices for one model" in proc.stderr
    (workdir / "harness.toml").unlink()
    proc = harness("run", *PLUGINS, "--system", "orchestrator", PROBLEM, "--system-opt", "experts=a=orch:solver", "--role", "expert-b=orch:solver", cwd=workdir)
    assert proc.returncode == 2 and "no role(s) ['expert-b']" in proc.stderr and "expert-a (system orchestrator)" in proc.stderr
    assert not (workdir / "results").exists()


def test_role_gives_an_expert_another_backend(workdir):
    _, run_dir, [record] = _run(workdir, PROBLEM, "--backend", "orch:expert?tools=1", "--system-opt", "experts=solver=orch:loop",
                                "--role", "expert-solver=orch:solver")  # fmt: skip
    assert record["status"] == "passed"
    assert json.loads((run_dir / "run.json").read_text())["resolved"]["backends"]["expert-solver"]["spec"] == "orch:solver"


# --- tau2: turn replacement ---------------------------------------------------------------------


@pytest.mark.parametrize("tools", ["1", "0"])
def test_on_tau2_the_experts_message_replaces_the_orchestrators_turn(workdir, tools):
    summary, run_dir, [record] = _run(workdir, "tau2-mock::create_task_1", "--backend", f"orch:tau2?tools={tools}", "--role", "user=dialog:create",
                                      "--system-opt", f"experts=helper=dialog:create?tools={tools}", plugins=DIALOG)  # fmt: skip
    assert record["status"] == "passed" and record["details"]["termination"] == "user_stop"
    conversation = record["answer_details"]["conversation"]
    agent_calls = [c["function"]["name"] for t in conversation if t["message"]["role"] == "assistant" for c in t["message"].get("tool_calls") or []]
    assert agent_calls == ["create_task"]  # the expert's call went out; the orchestrator's call_expert never did
    replaced = _events(run_dir, record, "turn_replaced")
    assert len(replaced) == 2 and replaced[0]["expert"] == "helper" and replaced[0]["shown_as"] == "expert-1"
    assert "call_expert" in json.dumps(replaced[0]["replaced"])
    orchestrator, expert = _calls(run_dir, record, "orchestrator")[0]["request"], _calls(run_dir, record, "expert-helper")[0]["request"]
    assert "call_expert" in orchestrator["messages"][0]["content"] and "human agent" not in orchestrator["messages"][0]["content"]
    assert "You should transfer the a human agent" in expert["messages"][0]["content"]  # the expert gets the task's own policy
    if tools == "1":
        names = [t["function"]["name"] for t in orchestrator["tools"]]
        assert "call_expert" in names and "transfer_to_human_agents" not in names and "create_task" in names
        assert "transfer_to_human_agents" in [t["function"]["name"] for t in expert["tools"]]
    else:
        assert '"name": "transfer_to_human_agents"' in expert["messages"][0]["content"]  # its tools, as Hermes text
        assert '"name": "call_expert"' in orchestrator["messages"][0]["content"] and '"name": "transfer_to_human_agents"' not in orchestrator["messages"][0]["content"]
    assert record["roles"]["orchestrator"]["calls"] == 2 and record["roles"]["expert-helper"]["calls"] == 2
    assert record["llm_calls"] == 4 and record["roles"]["user"]["calls"] == 2  # the simulated user is not the system's
    assert set(summary["cost_by_role"]) == {"orchestrator", "expert-helper", "user"}
    assert [w["role"] for w in summary["work_by_role"]] == ["orchestrator", "expert-helper"]  # the system's work, not the user's


def test_on_tau2_a_call_to_an_unknown_expert_is_answered_privately_and_tried_again(workdir):
    _, run_dir, [record] = _run(workdir, "tau2-mock::create_task_1", "--backend", "orch:tau2-retry?tools=1", "--role", "user=dialog:create",
                                "--system-opt", "experts=helper=dialog:create", plugins=DIALOG)  # fmt: skip
    assert record["status"] == "passed" and record["roles"]["orchestrator"]["calls"] == 4
    errors = _events(run_dir, record, "call_error")
    assert len(errors) == 2 and "there is no expert 'expert-7'; the experts are expert-1" in errors[0]["error"]
    assert "expert-7" not in json.dumps(record["answer_details"]["conversation"])  # the retry stayed out of the conversation


def test_on_tau2_route_always_lets_the_expert_play_every_turn(workdir):
    summary, _, [record] = _run(workdir, "tau2-mock::create_task_1", "--backend", "dialog:create", "--system-opt", "experts=helper=dialog:create",
                                "--system-opt", "route=always:helper", plugins=DIALOG)  # fmt: skip
    assert record["status"] == "passed" and set(record["roles"]) == {"expert-helper", "user"}
    assert summary["cost_by_role"]["expert-helper"]["calls"] == 2
