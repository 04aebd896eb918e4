"""A scripted optimizer for `harness optimize` tests (loaded with -p): a Backend whose replies come
from a script, so that a test decides what each round proposes.

Spec ``aflowscript:PATH`` where PATH is a JSON file ``{"steps": [...], "log": "LOG.jsonl"}``.
Each step is ``{"reply": TEXT, "parent": N}`` (``parent`` optional): a call is answered with
the first unused step whose parent is the round the request asks to improve (read from its
"(round N)" heading), or that names no parent. Every request is appended to the log as
``{"parent", "messages", "reply"}``; ``cost`` (USD per call, default 0.001) makes costs visible.
A call with no step left raises BackendError.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import ClassVar

from harness import hookimpl
from harness.backend import Backend
from harness.errors import BackendError
from harness.types import Completion, CompletionRequest, Message, Usage

PARENT = re.compile(r"The workflow to improve \(round (\d+)\)")


class AflowScript(Backend):
    scheme: ClassVar[str] = "aflowscript"

    def __init__(self, spec, config):
        super().__init__(spec, config)
        script = json.loads(Path(spec.partition(":")[2]).read_text())
        self.steps = list(script["steps"])
        self.log = Path(script["log"])
        self.cost = float(script.get("cost", 0.001))
        self.used: set[int] = set()

    async def complete(self, request: CompletionRequest) -> Completion:
        text = "\n".join(m.content or "" for m in request.messages)
        found = PARENT.search(text)
        parent = int(found.group(1)) if found else None
        index = next((i for i, step in enumerate(self.steps) if i not in self.used and step.get("parent") in (None, parent)), None)
        if index is None:
            raise BackendError(f"aflowscript: no step left for parent {parent}")
        self.used.add(index)
        reply = self.steps[index]["reply"]
        with self.log.open("a") as fh:
            fh.write(json.dumps({"parent": parent, "messages": [m.content for m in request.messages], "reply": reply}) + "\n")
        return Completion(Message("assistant", reply), Usage(len(text) // 4, len(reply) // 4), "aflowscript", "stop", cost=self.cost)


@hookimpl
def harness_add_backends():
    return [AflowScript]
