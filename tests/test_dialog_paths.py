"""Every path of the dialog episode on tau2-mock, with a scripted backend playing agent and user
(tests/plugins/harness_test_dialog_scripted.py): the real tau2 environment and the package's
evaluator grade each simulation. Both ways of calling tools are covered: structured tool calls
(a backend with the ``tools`` feature) and Hermes ``<tool_call>`` text."""

from __future__ import annotations

import sys

import pytest
from conftest import TEST_PLUGINS
from harness_direct import Direct
from harness_tau2 import Tau2Mock

from harness.context import Budget, SampleContext

sys.path.insert(0, str(TEST_PLUGINS))
from harness_test_dialog_scripted import DialogScriptedBackend  # noqa: E402

pytestmark = pytest.mark.parametrize("structured", [True, False], ids=["tool_calls", "hermes_text"])


async def play(task_id: str, scenario: str, structured: bool, **options: str):
    task = Tau2Mock(options)
    sample = next(s for s in task.samples() if s.id == task_id)
    backend = DialogScriptedBackend(f"dialog:{scenario}?tools={int(structured)}", None)
    ctx = SampleContext(backends={"default": backend}, sandbox=None, budget=Budget())
    answer = await task.play(sample, Direct({}), ctx)
    outcome = await task.score(sample, answer, ctx)
    return answer, outcome, ctx


def tool_turns(answer):
    return [t for t in answer.details["conversation"] if t["message"]["role"] == "tool"]


def agent_requests(ctx):
    return [entry["request"] for entry in ctx.transcript if entry.get("role") == "default"]


async def test_tool_call_then_user_stop_is_graded_by_the_package(structured):
    answer, outcome, ctx = await play("create_task_1", "create", structured)
    assert answer.details["termination"] == "user_stop"
    assert answer.details["conversation"][-1]["message"]["content"] == "Thanks! ###STOP###"
    [result] = tool_turns(answer)
    assert result["requestor"] == "assistant" and not result["error"] and '"task_id": "task_2"' in result["message"]["content"]
    assert outcome.status == "passed" and outcome.score == 1.0
    assert outcome.details["reward_breakdown"] == {"DB": 1.0, "COMMUNICATE": 1.0}
    assert outcome.details["checks"]["db_check"]["db_match"] is True
    # the tool call reached the model as a tool call and its result came back to the agent
    last = agent_requests(ctx)[-1]
    assert "task_2" in "".join(m["content"] or "" for m in last["messages"])
    assert (last["tools"] is not None) == structured
    assert ctx.meters["default"].calls == 2 and ctx.meters["user"].calls == 2
    assert any(e.get("event") == "tool_result" for e in ctx.transcript)


async def test_unknown_tool_and_broken_arguments_are_tool_errors_the_agent_sees(structured):
    answer, outcome, ctx = await play("create_task_1", "errors", structured)
    unknown, broken, created = tool_turns(answer)
    assert unknown["error"] and unknown["executed"] and "delete_everything" in unknown["message"]["content"]
    assert broken["error"] and not broken["executed"]
    assert broken["message"]["content"].startswith("Error: the arguments of the call to create_task are not a JSON object")
    assert not created["error"]
    assert answer.details["tool_errors"] == 2
    seen = "".join(m["content"] or "" for m in agent_requests(ctx)[2]["messages"])
    assert "delete_everything" in seen and "not a JSON object" in seen
    # the failed calls changed nothing: the replayed database matches the gold one
    assert outcome.status == "passed" and outcome.details["reward"] == 1.0


async def test_max_errors_ends_the_simulation(structured):
    answer, outcome, _ = await play("create_task_1", "stubborn", structured, max_errors="3")
    assert answer.details["termination"] == "too_many_errors" and answer.details["tool_errors"] == 3
    assert outcome.status == "failed" and outcome.score == 0.0
    assert "prematurely" in outcome.details["evaluator_info"]["note"]


async def test_max_steps_ends_the_simulation(structured):
    answer, outcome, ctx = await play("create_task_1", "chatty", structured, max_steps="5")
    assert answer.details["termination"] == "max_steps" and answer.details["steps"] == 5
    assert len(answer.details["conversation"]) == 6  # the greeting, then one message per step
    assert outcome.status == "failed" and outcome.score == 0.0


async def test_transfer_is_a_user_stop_for_the_evaluator(structured):
    answer, outcome, _ = await play("impossible_task_1", "transfer", structured)
    assert answer.details["termination"] == "transfer"
    assert outcome.details["reward_breakdown"] == {"DB": 1.0, "ACTION": 1.0}
    assert outcome.status == "passed"
