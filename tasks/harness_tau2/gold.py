"""The reference solution of a tau2 task, played without a model, for ``harness check-task``.

The gold agent performs the task's gold actions (``evaluation_criteria.actions``) in order, one
tool call per turn; when the next action is the user's (telecom's device actions) it asks the
user to do it, and the scripted user performs exactly that action with its own tools. When every
action is done, the agent states the required information (``communicate_info``) verbatim and
the user ends the conversation with the package's stop marker. Both keep no state of their own:
each turn reads its progress from the conversation (the ids of the calls they made), so one gold
agent serves many simulations at once.

A task whose reward basis no scripted run can satisfy is listed by `unsatisfiable` with the
reason, instead of being run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from harness import Message, System, ToolCall
from harness.dialog import Conversation, Dialog

AGENT_CALL, USER_CALL = "gold_agent_", "gold_user_"
#: The gold agent's request for a user action, and its closing message (matched by the user).
REQUEST = "Please do this on your device:"
CLOSING = "Everything you asked for is done."
DONE = "Done, I did that."
OPENING = "Hello, I need help with a request."


def _gold_actions(task: Any) -> list[Any]:
    criteria = task.evaluation_criteria
    return list(criteria.actions or []) if criteria is not None else []


def _communicate_info(task: Any) -> list[str]:
    criteria = task.evaluation_criteria
    return list(criteria.communicate_info or []) if criteria is not None else []


def _failing_assertions(task: Any, env: Any) -> list[Any]:
    """The task's environment assertions that do not hold once its gold actions are done on
    ``env`` (a fresh environment, set to the task's initial state here)."""
    from tau2.data_model.message import ToolCall as Tau2ToolCall

    initial = task.initial_state
    env.set_state(
        initialization_data=initial.initialization_data if initial is not None else None,
        initialization_actions=initial.initialization_actions if initial is not None else None,
        message_history=list(initial.message_history or []) if initial is not None else [],
    )
    for action in _gold_actions(task):
        env.get_response(Tau2ToolCall(id="", name=action.name, arguments=action.arguments, requestor=action.requestor))
    return [a for a in task.evaluation_criteria.env_assertions or [] if not env.run_env_assertion(a, raise_assertion_error=False)]


def unsatisfiable(task: Any, make_env: Callable[[], Any], has_user_tools: bool) -> str | None:
    """Why a scripted run cannot reach reward 1 on ``task``, or None when it can. ``make_env``
    gives a fresh environment of the task's domain."""
    from tau2.data_model.tasks import RewardType

    criteria = task.evaluation_criteria
    if criteria is None:
        return None
    basis = set(criteria.reward_basis)
    if RewardType.NL_ASSERTION in basis:
        return "reward basis has NL_ASSERTION: only a judge model can grade it"
    if RewardType.COMMUNICATE in basis:
        for info in _communicate_info(task):
            if "," in info:
                return f"communicate_info {info!r} holds a comma: the package's check removes commas from the agent's message but not from the info, so no message matches it"
    if not has_user_tools and any(a.requestor == "user" for a in _gold_actions(task)):
        return "a gold action is the user's, but the domain gives the user no tools"
    if RewardType.ENV_ASSERTION in basis:
        failing = _failing_assertions(task, make_env())
        if failing:
            names = ", ".join(f"{a.func_name}({json.dumps(a.arguments)})" for a in failing)
            return f"environment assertion(s) {names} do not hold after the gold actions alone"
    return None


def _calls_made(messages: list[Message], prefix: str) -> int:
    return sum(1 for m in messages for c in m.tool_calls or [] if c.id.startswith(prefix))


class GoldAgent(System):
    """The agent side of the reference solution (no model)."""

    name: ClassVar[str] = "tau2-gold"
    kinds = frozenset({"dialog"})
    roles: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: dict[str, str], tasks: dict[str, Any]) -> None:
        super().__init__(options)
        self.tasks = tasks  # sample id -> the package's Task

    async def act(self, dialog: Dialog, ctx: Any) -> Message:
        task = self.tasks[dialog.sample.id]
        actions = _gold_actions(task)
        done = _calls_made(dialog.messages, AGENT_CALL)
        done += sum(1 for m in dialog.messages if m.role == "assistant" and (m.content or "").startswith(REQUEST))
        if done < len(actions):
            action = actions[done]
            arguments = json.dumps(action.arguments)
            if action.requestor == "user":
                return Message("assistant", f"{REQUEST} {action.name} {arguments}")
            return Message("assistant", tool_calls=[ToolCall(f"{AGENT_CALL}{done}", action.name, arguments)])
        return Message("assistant", " | ".join([CLOSING, *_communicate_info(task)]))


class ScriptedUser:
    """The user side of the reference solution: performs its gold actions when asked, says it
    did, and stops after the agent's closing message."""

    def __init__(self, task: Any, stop_marker: str) -> None:
        self.actions = [a for a in _gold_actions(task) if a.requestor == "user"]
        self.stop_marker = stop_marker

    async def __call__(self, conversation: Conversation) -> Message:
        last = conversation.last
        if last is None or last.message.role == "tool":
            return Message("user", DONE if last is not None else OPENING)
        text = last.message.content or ""
        if text.startswith(CLOSING):
            return Message("user", self.stop_marker)
        if text.startswith(REQUEST):
            done = _calls_made([t.message for t in conversation.turns], USER_CALL)
            if done < len(self.actions):
                action = self.actions[done]
                return Message("user", tool_calls=[ToolCall(f"{USER_CALL}{done}", action.name, json.dumps(action.arguments))])
        return Message("user", OPENING)
