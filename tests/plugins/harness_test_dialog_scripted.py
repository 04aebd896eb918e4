"""A scripted backend that plays both sides of a tau2-mock dialog, for tests that isolate the
episode loop from any model (loaded with -p, or imported by tests).

Spec ``dialog:SCENARIO?key=value&…``. The request's system prompt tells the sides apart: the
package's user-simulator guidelines mean the user, anything else the agent. Each side says the
next line of its script (the n-th reply of a side is its line n, the last line repeating).
Scenarios: ``create`` (the agent creates the task the user asks for), ``errors`` (a call to a
tool that does not exist, then one with broken JSON arguments, then the right call),
``stubborn`` (the agent only calls a tool that does not exist), ``chatty`` (nobody ever stops),
``transfer`` (the agent hands the user over; the user says ###TRANSFER###). Parameters:
``tools=1`` claims the ``tools`` feature and answers with structured tool calls (otherwise
calls are written as Hermes ``<tool_call>`` text); ``fail=TEXT`` raises BackendError when a
request mentions TEXT; ``delay=SECONDS`` before each answer.
"""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar
from urllib.parse import parse_qs

from harness import hookimpl
from harness.backend import Backend
from harness.errors import BackendError
from harness.types import Completion, CompletionRequest, Message, ToolCall, Usage

CREATE = ("create_task", {"user_id": "user_1", "title": "Important Meeting"})
BROKEN_ARGUMENTS = '{"user_id": "user_1", "title": '

AGENT_SCRIPTS = {
    "create": [CREATE, "Your task Important Meeting is created."],
    "errors": [("delete_everything", {}), ("create_task", BROKEN_ARGUMENTS), CREATE, "Done: the task is created."],
    "stubborn": [("no_such_tool", {"x": 1})],
    "chatty": ["How else can I help?"],
    "transfer": [("transfer_to_human_agents", {"summary": "The user wants all tasks deleted."}), "I am transferring you to a human agent."],
}
USER_SCRIPTS = {
    "create": ["Please create a task called Important Meeting for user_1.", "Thanks! ###STOP###"],
    "errors": ["Please create a task called Important Meeting for user_1.", "Thanks! ###STOP###"],
    "stubborn": ["Please create a task called Important Meeting for user_1."],
    "chatty": ["Tell me more."],
    "transfer": ["Delete all my tasks, please.", "###TRANSFER###"],
}
USER_MARKER = "User Simulation Guidelines"


class DialogScriptedBackend(Backend):
    scheme: ClassVar[str] = "dialog"

    def __init__(self, spec, config):
        super().__init__(spec, config)
        body = spec.partition(":")[2]
        self.scenario, _, query = body.partition("?")
        if self.scenario not in AGENT_SCRIPTS:
            raise ValueError(f"unknown scenario {self.scenario!r}")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        self.structured = params.get("tools") == "1"
        self.features = frozenset({"seed", "tools"} if self.structured else {"seed"})
        self.fail = params.get("fail")
        self.delay = float(params.get("delay", 0))

    async def complete(self, request: CompletionRequest) -> Completion:
        await asyncio.sleep(self.delay)
        text = "\n".join(m.content or "" for m in request.messages)
        if self.fail and self.fail in text:
            raise BackendError(f"scripted failure: the request mentions {self.fail!r}")
        is_user = USER_MARKER in (request.messages[0].content or "")
        replies = sum(1 for m in request.messages if m.role == "assistant")
        if is_user:
            line = USER_SCRIPTS[self.scenario][min(replies, len(USER_SCRIPTS[self.scenario]) - 1)]
        else:
            script = AGENT_SCRIPTS[self.scenario]
            line = script[min(replies - 1, len(script) - 1)]  # the greeting is the first assistant message
        message = self._message(line, len(request.messages))
        return Completion(message, Usage(len(text) // 4, len(message.content or "") // 4 + 5), "scripted", "stop")

    def _message(self, line, index: int) -> Message:
        if isinstance(line, str):
            return Message("assistant", line)
        name, arguments = line
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        if self.structured:
            return Message("assistant", None, [ToolCall(f"call_{index}", name, raw)])
        return Message("assistant", f'<tool_call>\n{{"name": "{name}", "arguments": {raw}}}\n</tool_call>')

    def describe(self):
        return {"spec": self.spec, "scheme": self.scheme}


@hookimpl
def harness_add_backends():
    return [DialogScriptedBackend]
