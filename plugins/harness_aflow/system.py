"""System ``aflow``: a workflow (found by ``harness optimize``, or given) solves each problem in the
sandbox, its operators calling the ``executor`` model."""

from __future__ import annotations

from typing import Any, ClassVar

from harness import Answer, Sample, SampleContext, System
from harness_aflow.execute import ROLE, run_workflow
from harness_aflow.folder import SearchFolder
from harness_aflow.settings import parse_settings, split_reference
from harness_aflow.summary import search_summary
from harness_aflow.visible_tests import visible_tests
from harness_aflow.workflows import INITIAL, read_workflow


class AFlow(System):
    """AFlow (Zhang et al. 2024, "AFlow: Automating Agentic Workflow Generation"): a workflow of
    operators, written as code, run in the sandbox on each problem."""

    name: ClassVar[str] = "aflow"
    kinds = frozenset({"code"})
    roles = (ROLE,)

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.settings = parse_settings(options)
        self.search: SearchFolder | None = None
        self.round: int | None = None
        if not self.settings.workflow:
            self.workflow = INITIAL
        else:
            self.options["workflow"] = self.settings.workflow  # absolute, with its round: --resume runs the same one
            path, self.round = split_reference(self.settings.workflow)
            if self.round is None:
                self.workflow = read_workflow(path)
            else:
                self.search = SearchFolder(path)
                self.workflow = read_workflow(self.search.round_dir(self.round))

    def source(self) -> str:
        if self.search is not None:
            return f"search {self.search.id}, round {self.round}"
        return self.settings.workflow or "the initial workflow"

    def describe(self) -> dict[str, Any]:
        described = super().describe() | {"resolved": self.settings.describe(), "workflow": {"source": self.source(), **self.workflow.describe()}}
        if self.search is not None:
            summary = search_summary(self.search, self.search.read_spec(), self.search.state())
            described["search"] = summary | {"round": self.round}
        return described

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        entry_point = str(sample.input.get("entry_point") or "")
        tests = visible_tests(sample.prompt, entry_point)
        ctx.phase(f"workflow ({self.source()})")
        run = await run_workflow(self.workflow, sample.prompt, entry_point, tests, ctx, self.settings)
        ctx.trace("aflow_workflow", **run.describe())
        details = {"workflow": self.source(), "visible_tests": tests, **run.describe()}
        return Answer(run.solution or "", details)
