"""Grading a finished simulation with the package's own evaluator.

The conversation is turned into the package's ``SimulationRun`` and graded by
``tau2.evaluator.evaluator.evaluate_simulation`` on the task's reward basis, exactly as tau2's
runner does (evaluation type ``ALL``; ``ALL_WITH_NL_ASSERTIONS`` when the basis holds
``NL_ASSERTION``): it replays the tool calls on a fresh environment and compares its database
with the one the gold actions give (``DB``), runs the environment assertions
(``ENV_ASSERTION``), looks for the gold actions among the calls (``ACTION``), for the required
information in the agent's messages (``COMMUNICATE``), and asks a judge about the
natural-language assertions (``NL_ASSERTION``). The reward is the product of the basis'
components; any ending other than the user's (or agent's) stop scores 0.

The judge: the package's ``NLAssertionsEvaluator`` builds its own prompt and parses the reply;
only its model call (``tau2.evaluator.evaluator_nl_assertions.generate``, litellm) is routed to
this run's ``judge`` role. The routing is per simulation (a context variable), so concurrent
simulations each reach their own judge, and a call with no judge set fails instead of
reaching litellm.

Calls whose arguments were not a JSON object never reached the environment; they (and their
error results) are left out of the trajectory the evaluator replays, as they changed nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import uuid
from typing import Any

from harness import Message, Model, Outcome
from harness.dialog import Conversation, Turn
from harness_tau2.package import require_tau2

#: tau2's own success test: ``tau2.metrics.agent_metrics.is_successful`` (reward within 1e-6 of 1).
SUCCESS_TOLERANCE = 1e-6
#: Our termination reason -> the package's TerminationReason value.
TERMINATION = {
    "user_stop": "user_stop",
    "transfer": "user_stop",
    "out_of_scope": "user_stop",
    "max_steps": "max_steps",
    "too_many_errors": "too_many_errors",
    "agent_error": "agent_error",
    "user_error": "user_error",
}
JUDGE_MAX_TOKENS = 2048

_judge: contextvars.ContextVar[tuple[Model, asyncio.AbstractEventLoop] | None] = contextvars.ContextVar("tau2_judge", default=None)


def _tau2_message(turn: Turn, executed_ids: set[str]) -> Any | None:
    from tau2.data_model.message import (
        AssistantMessage,
        ToolCall,
        ToolMessage,
        UserMessage,
    )

    message = turn.message
    if message.role == "tool":
        if not turn.executed:
            return None
        return ToolMessage(id=message.tool_call_id or "", role="tool", content=message.content, requestor=turn.requestor or "assistant", error=turn.error)
    calls = [
        ToolCall(id=c.id, name=c.name, arguments=json.loads(c.arguments or "{}"), requestor=message.role)
        for c in message.tool_calls or []
        if c.id in executed_ids
    ]
    if not calls and not message.content:
        return None
    cls = AssistantMessage if message.role == "assistant" else UserMessage
    return cls(role=message.role, content=message.content, tool_calls=calls or None)


def to_simulation(conversation: Conversation, termination: str, task_id: str, duration: float = 0.0) -> Any:
    """The package's ``SimulationRun`` for a conversation (messages numbered by ``turn_idx``)."""
    require_tau2()
    from tau2.data_model.simulation import SimulationRun, TerminationReason
    from tau2.utils.utils import get_now

    executed_ids = {t.message.tool_call_id for t in conversation.turns if t.message.role == "tool" and t.executed}
    messages = [m for m in (_tau2_message(t, executed_ids) for t in conversation.turns) if m is not None]
    for index, message in enumerate(messages):
        message.turn_idx = index
    now = get_now()
    return SimulationRun(
        id=str(uuid.uuid4()),
        task_id=task_id,
        start_time=now,
        end_time=now,
        duration=duration,
        termination_reason=TerminationReason(TERMINATION[termination]),
        messages=messages,
    )


def _routed_generate(model: str, messages: list[Any], tools: Any = None, tool_choice: Any = None, **kwargs: Any) -> Any:
    """Stands in for ``tau2.utils.llm_utils.generate`` inside the NL-assertion evaluator: sends
    the package's prompt to this simulation's judge role and returns its reply as the package's
    AssistantMessage. Runs in the evaluator's worker thread."""
    from tau2.data_model.message import AssistantMessage

    target = _judge.get()
    if target is None:
        raise RuntimeError("NL assertions are graded only through the run's judge role; no judge is set for this evaluation")
    judge, loop = target
    ours = [Message(m.role, m.content) for m in messages]
    temperature = kwargs.get("temperature", 0.0)
    future = asyncio.run_coroutine_threadsafe(judge.complete(ours, temperature=temperature, max_tokens=JUDGE_MAX_TOKENS), loop)
    reply = future.result()
    return AssistantMessage(role="assistant", content=reply.message.content or "")


@functools.cache
def _route_judge() -> None:
    require_tau2()
    import tau2.evaluator.evaluator_nl_assertions as nl

    nl.generate = _routed_generate


def needs_judge(task: Any) -> bool:
    from tau2.data_model.tasks import RewardType

    criteria = task.evaluation_criteria
    return criteria is not None and RewardType.NL_ASSERTION in criteria.reward_basis


async def evaluate(simulation: Any, task: Any, domain: str, judge: Model | None) -> Any:
    """The package's RewardInfo for ``simulation`` (evaluated in a worker thread: the replay
    and the database hashes are CPU work)."""
    require_tau2()
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation

    evaluation = EvaluationType.ALL
    token = None
    if needs_judge(task):
        if judge is None:
            raise ValueError(f"task {task.id} is graded on NL_ASSERTION and needs a judge")
        _route_judge()
        evaluation = EvaluationType.ALL_WITH_NL_ASSERTIONS
        token = _judge.set((judge, asyncio.get_running_loop()))
    try:
        return await asyncio.to_thread(evaluate_simulation, simulation, task, evaluation, False, domain)
    finally:
        if token is not None:
            _judge.reset(token)


def outcome(reward_info: Any, termination: str) -> Outcome:
    """Our verdict: ``passed`` iff the reward is 1 within tau2's tolerance; the details hold the
    reward, its basis and breakdown and every check the evaluator made."""
    reward = float(reward_info.reward)
    dumped = reward_info.model_dump(mode="json")
    breakdown = dumped.get("reward_breakdown") or {}
    details = {
        "reward": reward,
        "termination": termination,
        "reward_basis": dumped.get("reward_basis"),
        "reward_breakdown": breakdown,
        "checks": {key: dumped.get(key) for key in ("db_check", "env_assertions", "action_checks", "communicate_checks", "nl_assertions")},
        "evaluator_info": dumped.get("info"),
    }
    parts = ", ".join(f"{key} {value:g}" for key, value in breakdown.items())
    summary = f"reward {reward:g}" + (f" ({parts})" if parts else "") + f"; termination {termination}"
    passed = abs(reward - 1.0) <= SUCCESS_TOLERANCE
    return Outcome("passed" if passed else "failed", reward, summary, details)
