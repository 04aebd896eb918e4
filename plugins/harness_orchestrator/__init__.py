"""System ``orchestrator``: a ToolOrchestra-style orchestrator (Su et al. 2025, *ToolOrchestra:
Elevating Intelligence via Efficient Model and Tool Orchestration*, NVlabs): a model that
decides, turn by turn, whether to answer, run code, or hand the problem to one of several
expert models, weighing what each can do against its price and latency.

Model roles: ``orchestrator`` (``--role orchestrator=SPEC``, else ``--backend``) and one
``expert-NAME`` per expert of the roster (`harness_orchestrator.roster`), each metered on its
own, so every record splits calls, tokens, cost and latency between them. Code and QA tasks:
`harness_orchestrator.solving`; dialog tasks (tau2): `harness_orchestrator.dialog`. Options:
`harness_orchestrator.options`."""

from __future__ import annotations

from typing import Any, ClassVar

from harness import Answer, Message, Sample, SampleContext, System, hookimpl
from harness.dialog import Dialog
from harness_orchestrator.dialog import expert_turn, orchestrated_turn
from harness_orchestrator.options import parse_settings
from harness_orchestrator.solving import ORCHESTRATOR, CodeSession, routed


class Orchestrator(System):
    name: ClassVar[str] = "orchestrator"
    kinds = frozenset({"code", "qa", "dialog"})
    option_tables = frozenset({"experts"})

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.settings = parse_settings(options)
        experts = self.settings.experts
        only = self.settings.routed
        # route=always:NAME calls that expert alone: no orchestrator, no other expert to start
        self.roles = (only.role,) if only is not None else (ORCHESTRATOR, *(e.role for e in experts))
        self.role_backends = {e.role: e.backend for e in experts if e.role in self.roles}
        self.role_prices = {e.role: e.price for e in experts if e.price is not None and e.role in self.roles}

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"resolved": self.settings.describe()}

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        if (only := self.settings.routed) is not None:
            return await routed(only, sample, self.settings, ctx)
        return await CodeSession(sample, self.settings, ctx).run()

    async def act(self, dialog: Dialog, ctx: SampleContext) -> Message:
        if (only := self.settings.routed) is not None:
            return await expert_turn(only, dialog, self.settings, ctx)
        return await orchestrated_turn(dialog, self.settings, ctx)


@hookimpl
def harness_add_systems() -> list[type]:
    return [Orchestrator]
