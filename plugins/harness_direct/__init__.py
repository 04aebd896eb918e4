"""System ``direct``: the model alone (the baseline).

On code tasks, one completion with the task's prompt. On dialog tasks, a plain tool-calling
agent: each turn is one completion with the task's instructions as the system prompt, the
conversation so far and the agent's tools, passed as OpenAI tools when the backend takes them
and otherwise described in the system prompt and read back from ``<tool_call>`` text (see
`harness.dialog.take_turn`)."""

from __future__ import annotations

from typing import ClassVar

from harness import (
    Answer,
    ConfigError,
    Message,
    Sample,
    SampleContext,
    System,
    hookimpl,
)
from harness.dialog import Dialog, take_turn


class Direct(System):
    name: ClassVar[str] = "direct"
    kinds = frozenset({"code", "dialog"})
    roles = ("default",)
    OPTIONS: ClassVar[dict[str, type]] = {"max_tokens": int, "temperature": float, "system_prompt": str}

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ConfigError(f"system direct: unknown --system-opt {sorted(unknown)}; known: {sorted(self.OPTIONS)}")
        try:
            self.max_tokens = int(options.get("max_tokens", 512))
            self.temperature = float(options.get("temperature", 0.0))
        except ValueError as exc:
            raise ConfigError(f"system direct: bad --system-opt value: {exc}") from exc
        self.system_prompt = options.get("system_prompt")

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        messages = [Message("user", sample.prompt)]
        if self.system_prompt:
            messages.insert(0, Message("system", self.system_prompt))
        completion = await ctx.llm().complete(
            messages, max_tokens=self.max_tokens, temperature=self.temperature, seed=ctx.seed
        )
        return Answer(completion.message.content or "", {"finish_reason": completion.finish_reason})

    async def act(self, dialog: Dialog, ctx: SampleContext) -> Message:
        """One agent turn; ``system_prompt``, when given, goes before the task's instructions."""
        instructions = f"{self.system_prompt}\n\n{dialog.instructions}" if self.system_prompt else dialog.instructions
        return await take_turn(
            ctx.llm(), instructions, dialog.messages, dialog.tools, max_tokens=self.max_tokens, temperature=self.temperature, seed=ctx.seed
        )


@hookimpl
def harness_add_systems() -> list[type]:
    return [Direct]
