"""System ``masgpt``: design a MAS program per query, run it sandboxed, answer with what it returns."""

from __future__ import annotations

from typing import Any, ClassVar

from harness import Answer, Sample, SampleContext, System
from harness_masgpt.design import Design, Designer
from harness_masgpt.execute import Execution, execute
from harness_masgpt.options import PATH_OPTIONS, parse_settings


def _meter(ctx: SampleContext, role: str) -> dict[str, Any]:
    meter = ctx.meters.get(role)
    return meter.as_dict() if meter is not None else {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0}


class MasGpt(System):
    """MAS-GPT (Ye et al., ICML 2025): a designer model writes a multi-agent program for each
    query; the program runs in the sandbox, its agents calling the ``agent`` model."""

    name: ClassVar[str] = "masgpt"
    kinds = frozenset({"code", "qa"})
    roles = ("designer", "agent")

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self.settings = parse_settings(options)
        for key in PATH_OPTIONS & set(options):  # absolute: run.json records them, --resume may run elsewhere
            self.options[key] = str(getattr(self.settings, key))
        self.designer = Designer(self.settings)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"resolved": self.settings.describe()}

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        ctx.phase("design")
        design = await self.designer.design(sample.prompt, ctx)
        ctx.trace("mas_program", source=design.source, code_block=design.found, fallback_used=design.fallback_used, program=design.program)
        if design.program is None:
            execution = Execution("no_code_block", "the designer's reply held no python code block and fallback=none")
        elif self.settings.design == "only":
            execution = Execution("not_executed", "design=only: the program was stored, not run")
        else:
            ctx.phase("run the program")
            execution = await execute(design.program, sample.prompt, ctx, self.settings)
            ctx.trace("mas_run", **execution.describe())
        return Answer(execution.answer if execution.status == "answered" and execution.answer is not None else "", self._details(design, execution, ctx))

    def _details(self, design: Design, execution: Execution, ctx: SampleContext) -> dict[str, Any]:
        return {
            "status": execution.status,
            "failed": execution.status != "answered",
            "detail": execution.detail,
            "flagged": [flag for flag, on in (("no_code_block", not design.found), ("fallback_used", design.fallback_used)) if on],
            "design": design.describe(),
            "program": design.program,
            "run": execution.describe(),
            "usage": {"design": _meter(ctx, "designer"), "execution": _meter(ctx, "agent")},
        }
