"""`DialogTask`: a task of kind ``dialog``, which owns the episode (environment and simulated
user) while the system under test plays the agent, one message at a time (`System.act`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from harness.dialog.conversation import Conversation, Dialog, Turn
from harness.dialog.episode import Environment, EpisodeLimits, Participant, run_episode
from harness.errors import UsageError
from harness.task import Task
from harness.types import Answer, Message, Sample

if TYPE_CHECKING:
    from harness.context import SampleContext
    from harness.system import System


@dataclass
class EpisodeSetup:
    """Everything one simulation needs, fresh for each (sample, repeat)."""

    environment: Environment
    user: Participant
    opening: Conversation  # the greeting, or the task's earlier history
    instructions: str  # the agent's system prompt
    tools: list[dict[str, Any]]  # the agent's tools (OpenAI function schemas)
    stop_markers: dict[str, str]  # marker in the user's text -> termination reason
    limits: EpisodeLimits = field(default_factory=EpisodeLimits)
    policy: str = ""


@dataclass
class ReferenceCheck:
    """What ``harness check-task`` runs on a dialog task: a system that performs the reference
    solution (no model), and the samples it cannot be expected to solve, with the reason."""

    system: System
    unsatisfiable: dict[str, str] = field(default_factory=dict)  # sample id -> reason


class DialogTask(Task):
    """Subclasses implement `open_episode` (and `samples`, `score`). Model roles ``user`` (the
    simulated user) and ``judge`` (natural-language assertions) are the task's own: ``--role
    user=SPEC``, ``--role judge=SPEC``; without one, the run's backend plays it. Their tokens
    and cost are recorded per role and are not counted as the system's cost."""

    kind: ClassVar[str] = "dialog"
    roles: ClassVar[tuple[str, ...]] = ("user", "judge")

    def open_episode(self, sample: Sample, ctx: SampleContext) -> EpisodeSetup:
        raise NotImplementedError

    def reference_check(self) -> ReferenceCheck:
        """The reference agent for ``harness check-task``; UsageError when the task has none."""
        raise UsageError(f"task {self.name!r} has no reference solutions to check")

    async def play(self, sample: Sample, system: System, ctx: SampleContext) -> Answer:
        """Run one simulation with ``system`` as the agent. The answer's text is the readable
        transcript; its details hold the full conversation (``conversation``: a list of turns,
        see `Turn.to_dict`), the ``termination`` reason, ``steps`` and ``tool_errors``."""
        setup = self.open_episode(sample, ctx)

        async def agent(conversation: Conversation) -> Message:
            dialog = Dialog(sample, setup.instructions, setup.tools, conversation.agent_view(), setup.policy)
            return await system.act(dialog, ctx)

        def trace(turn: Turn) -> None:
            if turn.message.role == "tool":
                ctx.trace("tool_result", **turn.to_dict())

        episode = await run_episode(
            setup.opening,
            agent=agent,
            user=setup.user,
            environment=setup.environment,
            stop_markers=setup.stop_markers,
            limits=setup.limits,
            on_turn=trace,
        )
        details = {
            "termination": episode.termination,
            "steps": episode.steps,
            "tool_errors": episode.tool_errors,
            "conversation": episode.conversation.to_list(),
        }
        return Answer(episode.conversation.render(), details)
