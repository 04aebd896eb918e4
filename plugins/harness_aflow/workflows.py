"""A workflow: ``graph.py`` (a class ``Workflow``) and ``prompt.py`` (the text constants it uses),
and the one every AFlow search starts from.

The contract a graph keeps (the operators are in ``sandboxed/operators.py``)::

    class Workflow:
        def __init__(self, llm):                 # llm: the executor model
            self.generate = CustomCodeGenerate(llm)

        async def __call__(self, problem, entry_point):
            ...                                  # await operators, in any order or in parallel
            return code                          # the solution's code (a str)

``problem`` is the task's prompt for the sample, ``entry_point`` the function the tests call.
``prompt.py`` is importable as ``prompt``; both files run in the sandbox, never on the host.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import ConfigError

GRAPH_FILE = "graph.py"
PROMPT_FILE = "prompt.py"

INITIAL_GRAPH = '''\
"""The starting workflow: one call that writes the code."""
import prompt
from operators import CustomCodeGenerate


class Workflow:
    def __init__(self, llm):
        self.generate = CustomCodeGenerate(llm)

    async def __call__(self, problem, entry_point):
        result = await self.generate(problem=problem, entry_point=entry_point, instruction=prompt.SOLVE)
        return result["code"]
'''

INITIAL_PROMPT = '''\
"""Text that graph.py puts in front of the problem."""

SOLVE = "Solve the following programming problem. Think about edge cases before writing the code.\\n\\n"
'''


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Workflow:
    """One workflow's source: the graph and the prompt module."""

    graph: str
    prompt: str

    def describe(self) -> dict[str, Any]:
        """For run.json: both files whole (they are short) and their sha256."""
        return {"graph": self.graph, "prompt": self.prompt, "graph_sha256": sha256(self.graph), "prompt_sha256": sha256(self.prompt)}

    def write(self, folder: Path) -> None:
        """Write graph.py and prompt.py into ``folder`` (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / GRAPH_FILE).write_text(self.graph, encoding="utf-8")
        (folder / PROMPT_FILE).write_text(self.prompt, encoding="utf-8")


INITIAL = Workflow(INITIAL_GRAPH, INITIAL_PROMPT)


def read_workflow(folder: Path) -> Workflow:
    """The workflow in ``folder``: its graph.py and its prompt.py (empty when absent).
    ConfigError when graph.py cannot be read."""
    try:
        graph = (folder / GRAPH_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"system aflow: cannot read the workflow {folder / GRAPH_FILE} ({exc})") from exc
    prompt_path = folder / PROMPT_FILE
    try:
        prompt = prompt_path.read_text(encoding="utf-8") if prompt_path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"system aflow: cannot read {prompt_path} ({exc})") from exc
    return Workflow(graph, prompt)
