"""What every role of one team shares: the brief, the settings, the models, the sandbox and the
parse statistics. Model calls go through here so that the budget is checked before each one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import (
    Completion,
    CompletionRequest,
    ExecResult,
    Limits,
    Message,
    Model,
    SampleContext,
)
from harness_sop.brief import Brief
from harness_sop.documents import Document
from harness_sop.options import Settings
from harness_sop.structured import ParseStats, ask_document


class OutOfBudget(Exception):
    """The run's --max-cost is spent: the team stops before the next model call."""


class _Budgeted:
    """A role's Model that refuses to call once the budget is spent."""

    def __init__(self, model: Model, ctx: SampleContext) -> None:
        self._model = model
        self._ctx = ctx
        self.backend = model.backend
        self.features = model.features

    async def complete(self, messages: list[Message] | CompletionRequest, **params: Any) -> Completion:
        budget = self._ctx.budget
        if budget.exhausted:
            raise OutOfBudget(f"spent ${budget.spent:.4f} of ${budget.limit:.4f}")
        return await self._model.complete(messages, **params)


@dataclass
class Office:
    ctx: SampleContext
    brief: Brief
    settings: Settings
    stats: dict[str, ParseStats] = field(default_factory=dict)
    round: int = 0  # the team's current round

    def _model(self, role: str) -> Any:
        return _Budgeted(self.ctx.llm(role), self.ctx)

    def _params(self) -> dict[str, Any]:
        return {"max_tokens": self.settings.max_tokens, "temperature": self.settings.temperature, "seed": self.ctx.seed}

    async def document(self, role: str, messages: list[Message], doc_type: type[Document]) -> Document:
        stats = self.stats.setdefault(role, ParseStats())
        return await ask_document(self._model(role), messages, doc_type, stats, **self._params())

    async def reply(self, role: str, messages: list[Message]) -> str:
        completion = await self._model(role).complete(messages, **self._params())
        return completion.message.content or ""

    async def execute(self, files: dict[str, str], argv: Sequence[str], timeout: float) -> ExecResult:
        return await self.ctx.sandbox.run(files, argv, timeout=timeout, limits=Limits())

    def trace(self, event: str, **data: Any) -> None:
        self.ctx.trace(event, **data)

    def phase(self, name: str) -> None:
        """Tell the run where the sample is (see `SampleContext.phase`)."""
        self.ctx.phase(name)
