"""Grading through the package's evaluator: NL assertions reach this run's judge role with the
package's own prompt, each concurrent simulation its own judge, and nothing reaches litellm."""

from __future__ import annotations

import asyncio
import json

import pytest
from harness_tau2 import Tau2Mock
from harness_tau2.grading import _routed_generate, evaluate, outcome, to_simulation

from harness.backend import Backend
from harness.context import Budget, SampleContext
from harness.dialog import Conversation, Turn
from harness.types import Completion, Message, ToolCall, Usage

ASSERTIONS = ["The task is created successfully", "The user is complimented"]


class JudgeBackend(Backend):
    """Answers every request with the package's verdict format: ``met`` for each assertion."""

    scheme = "judge"

    def __init__(self, met: list[bool]) -> None:
        super().__init__("judge:test", None)
        self.met = met
        self.requests = []

    async def complete(self, request):
        self.requests.append(request)
        await asyncio.sleep(0.05)  # let concurrent evaluations interleave
        results = [{"expectedOutcome": a, "reasoning": "checked", "metExpectation": m} for a, m in zip(ASSERTIONS, self.met)]
        return Completion(Message("assistant", json.dumps({"results": results})), Usage(100, 20), "judge", "stop")


def nl_task():
    """The mock task with NL assertions, graded on them (no shipped task is)."""
    task = Tau2Mock({}).tau2_tasks["create_task_1_nl_eval"].model_copy(deep=True)
    from tau2.data_model.tasks import RewardType

    task.evaluation_criteria.reward_basis = [RewardType.NL_ASSERTION]
    return task


def conversation():
    return Conversation(
        [
            Turn(Message("assistant", "Hi! How can I help you today?")),
            Turn(Message("user", "Create a task called Important Meeting for user_1, and compliment me.")),
            Turn(Message("assistant", None, [ToolCall("c1", "create_task", '{"user_id": "user_1", "title": "Important Meeting"}')])),
            Turn(Message("tool", '{"task_id": "task_2"}', tool_call_id="c1"), requestor="assistant"),
            Turn(Message("assistant", "Done, and you have excellent taste.")),
            Turn(Message("user", "###STOP###")),
        ]
    )


def judge_model(backend):
    return SampleContext(backends={"default": backend}, sandbox=None, budget=Budget()).llm("judge")


async def test_nl_assertions_are_graded_by_the_judge_role_with_the_packages_prompt():
    task = nl_task()
    met, unmet = JudgeBackend([True, True]), JudgeBackend([True, False])
    simulation = to_simulation(conversation(), "user_stop", task.id)
    good, bad = await asyncio.gather(
        evaluate(simulation, task, "mock", judge_model(met)), evaluate(simulation, task, "mock", judge_model(unmet))
    )
    assert good.reward == 1.0 and bad.reward == 0.0
    assert [c.met for c in bad.nl_assertions] == [True, False]
    [request] = met.requests
    prompt = "\n".join(m.content for m in request.messages)
    assert "expectedOutcomes" in prompt and ASSERTIONS[1] in prompt  # the package's prompt
    assert "you have excellent taste" in prompt  # with the conversation
    verdict = outcome(bad, "user_stop")
    assert verdict.status == "failed" and verdict.details["reward_breakdown"] == {"NL_ASSERTION": 0.0}


async def test_without_a_judge_nothing_reaches_litellm():
    task = nl_task()
    with pytest.raises(ValueError, match="needs a judge"):
        await evaluate(to_simulation(conversation(), "user_stop", task.id), task, "mock", None)
    with pytest.raises(RuntimeError, match="judge role"):
        _routed_generate("gpt-4o-mini", [])


async def test_a_call_with_broken_arguments_is_left_out_of_the_replay():
    turns = conversation().turns
    broken = Turn(Message("assistant", None, [ToolCall("c0", "create_task", '{"user_id": ')]))
    error = Turn(Message("tool", "Error: the arguments …", tool_call_id="c0"), requestor="assistant", error=True, executed=False)
    simulation = to_simulation(Conversation([*turns[:2], broken, error, *turns[2:]]), "user_stop", "create_task_1")
    assert [m.role for m in simulation.messages] == ["assistant", "user", "assistant", "tool", "assistant", "user"]
    assert [m.turn_idx for m in simulation.messages] == list(range(6))
