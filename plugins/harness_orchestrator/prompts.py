"""What the orchestrator is told: its system prompts, its tools (OpenAI function schemas), the
table of experts with their prices and latencies, and, on dialog tasks, the domain policy with
its transfers to a human agent turned into calls of experts."""

from __future__ import annotations

import re
from typing import Any

from harness import TokenPrice
from harness_orchestrator.options import Settings

CALL_EXPERT, RUN_PYTHON, ANSWER = "call_expert", "run_python", "answer"
#: The tau2 tool that ToolOrchestra's call_expert replaces.
TRANSFER_TOOL = "transfer_to_human_agents"


def _function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": list(properties)},
        },
    }


def _money(price: TokenPrice | None, part: str) -> str:
    return "not priced" if price is None else f"${getattr(price, part):g}"


def experts_table(settings: Settings, prices: dict[str, TokenPrice | None]) -> str:
    """Each expert's capability line, then a table of its prices (USD per million tokens, from
    ``prices``: role -> the price its calls are charged at) and its latency per call."""
    lines = ["The experts:"]
    lines += [f"- {settings.alias(e)}: {e.description or 'no description given'}" for e in settings.experts]
    lines += ["Their prices (USD per million tokens) and average latency per call:", "expert | input | output | latency"]
    for expert in settings.experts:
        price = prices.get(expert.role)
        latency = "unknown" if expert.latency is None else f"{expert.latency:g} s"
        lines.append(f"{settings.alias(expert)} | {_money(price, 'input')} | {_money(price, 'output')} | {latency}")
    return "\n".join(lines)


def _expert_parameter(settings: Settings, prices: dict[str, TokenPrice | None]) -> dict[str, Any]:
    return {"type": "string", "enum": [settings.alias(e) for e in settings.experts], "description": experts_table(settings, prices)}


def code_tools(settings: Settings, prices: dict[str, TokenPrice | None]) -> list[dict[str, Any]]:
    """call_expert (when there are experts), run_python and answer."""
    tools = []
    if settings.experts:
        tools.append(_function(
            CALL_EXPERT,
            "Hand the problem, or a part of it, to an expert model. The expert is shown the problem and your "
            "instructions; its reply is the result of this call.",
            {"expert": _expert_parameter(settings, prices), "instructions": {"type": "string", "description": "what the expert should do"}},
        ))  # fmt: skip
    tools.append(_function(
        RUN_PYTHON,
        f"Run a Python 3 program in the sandbox ({settings.run_timeout:g} s at most). The result gives its exit "
        "status, standard output and standard error.",
        {"code": {"type": "string", "description": "the whole program"}},
    ))  # fmt: skip
    tools.append(_function(
        ANSWER,
        "Give the final answer and finish. For a programming problem, the answer holds the complete code in one "
        "```python block.",
        {"text": {"type": "string", "description": "the final answer"}},
    ))  # fmt: skip
    return tools


def code_prompt(settings: Settings) -> str:
    """The orchestrator's system prompt on code and QA tasks."""
    ways = ["- call_expert: ask one of the experts (see the tool's description for who they are and what they cost);"] if settings.experts else []
    ways += [
        "- run_python: run a program to check an idea or test code;",
        "- answer: give the final answer, which ends the work.",
    ]
    return "\n".join([
        "You coordinate the work on one problem. In each turn, call one or more tools:",
        *ways,
        f"A reply without a tool call is taken as the final answer. You have at most {settings.max_turns} turns.",
        settings.preferences.render(),
    ])  # fmt: skip


def expert_request(problem: str, instructions: str) -> str:
    """What an expert is asked on a code or QA task: the problem, then the orchestrator's
    instructions (none when every problem goes to the expert: it is then asked exactly what
    the model alone would be)."""
    if not instructions.strip():
        return problem
    return f"{problem}\n\nInstructions from the coordinator: {instructions.strip()}"


# --- dialog tasks -----------------------------------------------------------------------------

#: A sentence that sends the customer to a human agent (tau2's policies), or names the tool.
_TRANSFER = re.compile(r"transfer_to_human_agents|\b(?:transfer|escalat)\w*\b[^.\n]*?\bhuman agents?\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]\s+")
_BULLET = re.compile(r"\s*(?:[-*]|\d+[.)])\s+")


def expert_policy(settings: Settings) -> str:
    """What replaces the policy's transfers: when and how to let an expert take the turn."""
    return (
        "When you are not sure how to answer the customer or which tool to use, let an expert take this turn: call "
        "call_expert with the expert you choose. The expert sees the whole conversation and has the same tools, and "
        "its message goes out in place of yours. Choose by the difficulty of the case and by the experts' prices and "
        "latencies (listed with the call_expert tool). " + settings.preferences.render()
    )


def replace_transfers(text: str, replacement: str) -> tuple[str, int]:
    """``text`` with each sentence that tells the agent to transfer (or escalate) the customer to
    a human agent, or names transfer_to_human_agents, cut to the end of its line; the first one
    is replaced by ``replacement``. Returns the text and the number of sentences cut."""
    out, cut = [], 0
    for line in text.split("\n"):
        match = _TRANSFER.search(line)
        if match is None:
            out.append(line)
            continue
        ends = [m.end() for m in _SENTENCE_END.finditer(line, 0, match.start())]
        start = ends[-1] if ends else 0
        if start == 0 and (bullet := _BULLET.match(line)):
            start = bullet.end()
        kept = line[:start] + (replacement if cut == 0 else "")
        cut += 1
        if kept.strip() and not _BULLET.fullmatch(kept):
            out.append(kept.rstrip())
    return "\n".join(out), cut


def dialog_tools(domain_tools: list[dict[str, Any]], settings: Settings, prices: dict[str, TokenPrice | None]) -> list[dict[str, Any]]:
    """The domain's tools without the transfer to a human agent, and call_expert."""
    kept = [tool for tool in domain_tools if tool.get("function", tool).get("name") != TRANSFER_TOOL]
    return [*kept, _function(
        CALL_EXPERT,
        "Let an expert write this turn's message (text or tool calls) in your place; it sees the conversation and has the same tools.",
        {"expert": _expert_parameter(settings, prices)},
    )]  # fmt: skip


def dialog_prompt(instructions: str, settings: Settings) -> str:
    """The task's agent instructions with the transfers replaced by the expert policy (which is
    appended when the instructions mention no transfer)."""
    policy = expert_policy(settings)
    rewritten, cut = replace_transfers(instructions, policy)
    return rewritten if cut else f"{rewritten}\n\n{policy}"
