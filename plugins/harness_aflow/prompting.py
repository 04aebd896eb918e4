"""What the optimizer is asked: the parent workflow and its score, the operators, what was tried
on that parent before and how it went, problems the parent got wrong, and the reply's format
(`harness_aflow.replies`). The wording is ours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness import Message
from harness_aflow.workflows import Workflow

SYSTEM = (
    "You improve agentic workflows: small Python programs that solve problems by calling a language model "
    "(the executor) through a few operators. Each time you make one change to one workflow, aiming to solve "
    "more of the validation problems, and you say what you changed."
)

OPERATORS = """\
- `CustomCodeGenerate(llm)`: `await generate(problem=..., entry_point=..., instruction="", temperature=None)` returns `{"code": ..., "response": ...}`: one executor call asking for the complete code of `entry_point`, the instruction placed before the problem; `code` is the code found in the reply.
- `Custom(llm)`: `await custom(input=..., instruction=..., temperature=None)` returns `{"response": ...}`: one executor call whose prompt is the instruction followed by the input (for plans, reviews, rewrites).
- `ScEnsemble(llm)`: `await ensemble(solutions=[...], problem=...)` returns `{"response": ...}`: self-consistency; the executor picks the candidate that agrees most with the others (identical candidates count once).
- `Test(llm)`: `await test(problem=..., solution=..., entry_point=..., test_loop=3)` returns `{"result": bool, "solution": ..., "feedback": ...}`: runs the solution on the examples the problem statement shows and, while some fail, asks the executor for a fix, at most test_loop times.
- `llm` itself: `await llm(prompt, temperature=None)` returns the executor's reply as text.
Several calls can run at once with `asyncio.gather`. A temperature above 0 makes repeated calls differ (useful before ScEnsemble)."""

CONTRACT = (
    "Keep the contract: graph.py defines `class Workflow` with `__init__(self, llm)`, which makes the operators "
    "it uses, and `async def __call__(self, problem, entry_point)`, which returns the solution's code as a string. "
    "graph.py may `import prompt` and read constants from prompt.py; only the operators, the Python standard "
    "library and prompt.py are available, and there is no network."
)

REPLY_FORMAT = """\
Reply with exactly these three parts:
<modification>one sentence: what you changed and why it should help</modification>
<graph>
the complete new graph.py
</graph>
<prompt>
the complete new prompt.py
</prompt>"""

#: Characters of a problem, an answer or an error shown per failure.
SHOWN = 1200


@dataclass(frozen=True)
class Child:
    """An earlier modification of the parent and the mean score it reached (None: no workflow)."""

    round: int
    modification: str
    score: float | None


@dataclass(frozen=True)
class Failure:
    """A validation problem the parent did not solve."""

    node_id: str
    problem: str
    answer: str
    why: str


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= SHOWN else text[:SHOWN] + f" … [{len(text) - SHOWN} more characters]"


def experience(parent_score: float, children: Sequence[Child]) -> str:
    """What was tried on the parent and how it went, one line per modification."""
    if not children:
        return "Nothing has been tried on this workflow yet."
    lines = []
    for child in children:
        if child.score is None:
            outcome = "has no score yet"
        elif child.score > parent_score:
            outcome = f"raised the score to {child.score:.3f} (better: build on ideas like it)"
        elif child.score < parent_score:
            outcome = f"lowered the score to {child.score:.3f} (worse: avoid it)"
        else:
            outcome = f"left the score at {child.score:.3f} (no gain)"
        lines.append(f"- round {child.round}: {child.modification} -> {outcome}")
    return "These changes were already made to this workflow; do not repeat any of them:\n" + "\n".join(lines)


def failures_text(failures: Sequence[Failure]) -> str:
    if not failures:
        return "None were recorded: every validation problem was solved, or none was scored."
    blocks = []
    for n, failure in enumerate(failures, 1):
        blocks.append(
            f"### Failure {n}: {failure.node_id}\nProblem:\n{_clip(failure.problem)}\n\n"
            f"What the workflow returned:\n{_clip(failure.answer) or '(nothing)'}\n\nWhy it failed:\n{_clip(failure.why)}"
        )
    return "\n\n".join(blocks)


def optimizer_messages(parent_round: int, parent: Workflow, score: float, passes: int, tried: str, failures: str, refusal: str | None = None) -> list[Message]:
    """The optimizer's request; ``refusal`` is why its previous reply for this round was refused."""
    body = (
        f"## The workflow to improve (round {parent_round})\n"
        f"It solved {score:.1%} of the validation problems (mean of {passes} validation pass{'es' if passes != 1 else ''}).\n\n"
        f"graph.py:\n<graph>\n{parent.graph.rstrip()}\n</graph>\n\n"
        f"prompt.py:\n<prompt>\n{parent.prompt.rstrip()}\n</prompt>\n\n"
        f"## Operators\nMake each operator once in `__init__` from `llm` and await it in `__call__`:\n{OPERATORS}\n\n"
        f"## Earlier changes to this workflow\n{tried}\n\n"
        f"## Problems it got wrong\n{failures}\n\n"
        "## Your task\n"
        "Make ONE change that should let the workflow solve more problems: a clearer instruction in prompt.py, "
        "several candidates chosen with ScEnsemble, a solution checked and repaired with Test, a plan written before "
        f"the code, or another idea of yours. {CONTRACT}\n\n{REPLY_FORMAT}"
    )
    if refusal:
        body += f"\n\nYour previous reply for this round could not be used: {refusal}. Reply again, following the format exactly."
    return [Message("system", SYSTEM), Message("user", body)]
