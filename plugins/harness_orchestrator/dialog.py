"""The orchestrator on dialog tasks (tau2), with ToolOrchestra's turn replacement.

The orchestrator model gets the task's instructions with the policy's transfers to a human
agent replaced by when to call an expert, and the domain's tools with ``call_expert`` in place
of ``transfer_to_human_agents``. When it calls ``call_expert``, the expert gets the task's own
instructions, tools and the conversation, and the expert's message (text and tool calls)
replaces the orchestrator's turn: only the expert's message enters the conversation. A
``call_expert`` that cannot be followed (arguments that are not a JSON object, an unknown
expert) is answered, privately, with an error and the orchestrator tries again, up to
``max_turns`` tries for the turn; then its message goes out without that call.
"""

from __future__ import annotations

from harness import Message, SampleContext
from harness.dialog import Dialog, take_turn
from harness_orchestrator.calls import arguments, with_ids
from harness_orchestrator.options import Settings
from harness_orchestrator.prompts import CALL_EXPERT, dialog_prompt, dialog_tools
from harness_orchestrator.roster import Expert
from harness_orchestrator.solving import ORCHESTRATOR

#: The transcript event written when an expert's message replaces the orchestrator's turn.
REPLACED = "turn_replaced"


async def expert_turn(expert: Expert, dialog: Dialog, settings: Settings, ctx: SampleContext) -> Message:
    """The expert's message for this turn, written with the task's own instructions and tools."""
    ctx.phase(f"expert {expert.name}")
    return await take_turn(
        ctx.llm(expert.role), dialog.instructions, dialog.messages, dialog.tools,
        max_tokens=settings.expert_max_tokens, temperature=settings.temperature, seed=ctx.seed,
    )  # fmt: skip


async def orchestrated_turn(dialog: Dialog, settings: Settings, ctx: SampleContext) -> Message:
    """The agent's next message: the orchestrator's own, or the expert's it hands the turn to."""
    model = ctx.llm(ORCHESTRATOR)
    if not settings.experts:  # nothing to hand over to: a plain tool-calling agent
        return await take_turn(model, dialog.instructions, dialog.messages, dialog.tools,
                               max_tokens=settings.max_tokens, temperature=settings.temperature, seed=ctx.seed)  # fmt: skip
    by_alias = {settings.alias(e): e for e in settings.experts}
    tools = dialog_tools(dialog.tools, settings, {e.role: ctx.price(e.role) for e in settings.experts})
    instructions = dialog_prompt(dialog.instructions, settings)
    scratch = list(dialog.messages)
    reply = Message("assistant")
    for attempt in range(1, settings.max_turns + 1):
        ctx.phase(f"orchestrator, try {attempt}" if attempt > 1 else "orchestrator")
        reply = with_ids(await take_turn(model, instructions, scratch, tools, max_tokens=settings.max_tokens,
                                         temperature=settings.temperature, seed=ctx.seed), attempt)  # fmt: skip
        call = next((c for c in reply.tool_calls or [] if c.name == CALL_EXPERT), None)
        if call is None:
            return reply
        args = arguments(call, {"expert": "one of " + ", ".join(by_alias)})
        expert = None if isinstance(args, str) else by_alias.get(args["expert"])
        if expert is not None:
            ctx.trace(REPLACED, expert=expert.name, shown_as=settings.alias(expert), replaced=reply.to_openai())
            return await expert_turn(expert, dialog, settings, ctx)
        error = args if isinstance(args, str) else f"Error: there is no expert {args['expert']!r}; the experts are {', '.join(by_alias)}."
        ctx.trace("call_error", tool=CALL_EXPERT, error=error)
        scratch += [Message("assistant", reply.content, [call]), Message("tool", error, tool_call_id=call.id, name=CALL_EXPERT)]
    others = [c for c in reply.tool_calls or [] if c.name != CALL_EXPERT]
    return Message("assistant", reply.content, others or None)
