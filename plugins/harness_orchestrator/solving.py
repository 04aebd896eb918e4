"""The orchestrator on code and QA tasks: turn by turn, the orchestrator model calls experts,
runs programs in the sandbox and finally answers.

Every tool result goes back to the orchestrator as a ``tool`` message; a call whose arguments
are not a JSON object, that lacks a parameter, names an unknown tool or an unknown expert is
answered with an error saying so. The work ends when the orchestrator calls ``answer`` or
replies without any tool call (that text is the answer), or after ``max_turns`` turns: the
answer is then the last expert's reply (else the orchestrator's last text), and the record
says so (``stop``: ``answer``, ``text`` or ``max_turns``; ``answer_from``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness import Answer, Limits, Message, Sample, SampleContext, ToolCall
from harness.dialog import take_turn
from harness_orchestrator.calls import arguments, unknown_tool, with_ids
from harness_orchestrator.options import Settings
from harness_orchestrator.prompts import (
    ANSWER,
    CALL_EXPERT,
    RUN_PYTHON,
    code_prompt,
    code_tools,
    expert_request,
)
from harness_orchestrator.roster import Expert

OUTPUT_CHARS = 4000  # of each of stdout and stderr shown to the orchestrator
ORCHESTRATOR = "orchestrator"


def clip(text: str, limit: int = OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… [{len(text) - limit} more characters]"


@dataclass
class Work:
    """What the record keeps of one problem's orchestration (``answer_details``)."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    expert_calls: dict[str, int] = field(default_factory=dict)
    last_expert_reply: str | None = None
    last_text: str = ""

    def note(self, turn: int, tool: str, *, error: bool, expert: Expert | None = None) -> None:
        entry: dict[str, Any] = {"turn": turn, "tool": tool, "error": error}
        if expert is not None:
            entry["expert"] = expert.name
            if not error:
                self.expert_calls[expert.name] = self.expert_calls.get(expert.name, 0) + 1
        self.calls.append(entry)

    def details(self, stop: str, turns: int, answer_from: str) -> dict[str, Any]:
        return {
            "stop": stop,
            "turns": turns,
            "answer_from": answer_from,
            "calls": self.calls,
            "expert_calls": self.expert_calls,
            "tool_errors": sum(c["error"] for c in self.calls),
        }


async def ask_expert(expert: Expert, problem: str, instructions: str, settings: Settings, ctx: SampleContext) -> str:
    """The expert's reply to ``problem`` with the orchestrator's ``instructions``."""
    ctx.phase(f"expert {expert.name}")
    completion = await ctx.llm(expert.role).complete(
        [Message("user", expert_request(problem, instructions))],
        max_tokens=settings.expert_max_tokens,
        temperature=settings.temperature,
        seed=ctx.seed,
    )
    return completion.message.content or ""


async def run_python(code: str, settings: Settings, ctx: SampleContext) -> str:
    """Run ``code`` in the sandbox; its exit status, stdout and stderr as the orchestrator sees them."""
    result = await ctx.sandbox.run({"main.py": code}, ["python3", "main.py"], timeout=settings.run_timeout, limits=Limits())
    status = f"exit status {result.exit_code}"
    if result.timed_out:
        status = f"stopped: it ran past {settings.run_timeout:g} s"
    elif result.oom:
        status = "stopped: out of memory"
    return f"{status}\nstdout:\n{clip(result.stdout)}\nstderr:\n{clip(result.stderr)}"


class CodeSession:
    """One problem, from the first turn to the answer."""

    def __init__(self, sample: Sample, settings: Settings, ctx: SampleContext) -> None:
        self.sample, self.settings, self.ctx = sample, settings, ctx
        self.by_alias = {settings.alias(e): e for e in settings.experts}
        prices = {e.role: ctx.price(e.role) for e in settings.experts}
        self.tools = code_tools(settings, prices)
        self.tool_names = [t["function"]["name"] for t in self.tools]
        self.prompt = code_prompt(settings)
        self.messages: list[Message] = [Message("user", sample.prompt)]
        self.work = Work()

    async def _result(self, turn: int, call: ToolCall) -> tuple[str, str | None]:
        """(what the orchestrator is shown, the final answer when the call gave one)."""
        if call.name == ANSWER:
            args = arguments(call, {"text": "the final answer"})
            self.work.note(turn, call.name, error=isinstance(args, str))
            return (args, None) if isinstance(args, str) else ("", args["text"])
        if call.name == RUN_PYTHON:
            args = arguments(call, {"code": "a Python program"})
            self.work.note(turn, call.name, error=isinstance(args, str))
            return (args if isinstance(args, str) else await run_python(args["code"], self.settings, self.ctx)), None
        if call.name == CALL_EXPERT and self.by_alias:
            args = arguments(call, {"expert": "one of " + ", ".join(self.by_alias), "instructions": "what the expert should do"})
            if isinstance(args, str):
                self.work.note(turn, call.name, error=True)
                return args, None
            expert = self.by_alias.get(args["expert"])
            if expert is None:
                self.work.note(turn, call.name, error=True)
                return f"Error: there is no expert {args['expert']!r}; the experts are {', '.join(self.by_alias)}.", None
            reply = await ask_expert(expert, self.sample.prompt, args["instructions"], self.settings, self.ctx)
            self.work.note(turn, call.name, error=False, expert=expert)
            self.work.last_expert_reply = reply
            return reply or "(the expert's reply was empty)", None
        self.work.note(turn, call.name, error=True)
        return unknown_tool(call, self.tool_names), None

    async def run(self) -> Answer:
        model = self.ctx.llm(ORCHESTRATOR)
        for turn in range(1, self.settings.max_turns + 1):
            self.ctx.phase(f"turn {turn}: orchestrator")
            reply = with_ids(
                await take_turn(model, self.prompt, self.messages, self.tools,
                                max_tokens=self.settings.max_tokens, temperature=self.settings.temperature, seed=self.ctx.seed),
                turn,
            )  # fmt: skip
            self.messages.append(reply)
            self.work.last_text = reply.content or self.work.last_text
            if not reply.tool_calls:
                if (reply.content or "").strip():
                    return Answer(reply.content or "", self.work.details("text", turn, "text"))
                self.messages.append(Message("user", "Your reply was empty. Call a tool, or call answer with your final answer."))
                continue
            for call in reply.tool_calls:
                shown, final = await self._result(turn, call)
                if final is not None:
                    return Answer(final, self.work.details("answer", turn, "answer"))
                self.messages.append(Message("tool", shown, tool_call_id=call.id, name=call.name))
        if self.work.last_expert_reply is not None:
            return Answer(self.work.last_expert_reply, self.work.details("max_turns", self.settings.max_turns, "last expert reply"))
        return Answer(self.work.last_text, self.work.details("max_turns", self.settings.max_turns, "last text"))


async def routed(expert: Expert, sample: Sample, settings: Settings, ctx: SampleContext) -> Answer:
    """``route=always:NAME``: the problem goes to the expert through the same call as the
    orchestrator's, with no instructions, and its reply is the answer."""
    work = Work()
    reply = await ask_expert(expert, sample.prompt, "", settings, ctx)
    work.note(0, CALL_EXPERT, error=False, expert=expert)
    return Answer(reply, work.details("routed", 0, f"expert {expert.name}"))
