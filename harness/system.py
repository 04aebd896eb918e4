"""The System base class: the agent system under test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from harness.types import Answer, Message, Sample

if TYPE_CHECKING:
    from harness.context import SampleContext
    from harness.dialog import Dialog


class System:
    """Subclasses set ``name`` and ``kinds`` (the task kinds they can do: ``code``, ``dialog``)
    and implement `solve` (code tasks) and/or `act` (dialog tasks). ``options`` are the run's ``--system-opt K=V`` pairs (strings); a subclass
    validates them in ``__init__`` and raises ConfigError for an unknown key or a bad value."""

    name: ClassVar[str] = ""
    kinds: ClassVar[frozenset[str]] = frozenset({"code"})
    #: Model roles the system calls; ``--role ROLE=SPEC`` may give each its own backend.
    roles: ClassVar[tuple[str, ...]] = ("default",)

    def __init__(self, options: dict[str, str]) -> None:
        self.options = dict(options)

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        raise NotImplementedError(f"system {self.name!r} does not solve {sample.task!r} samples")

    async def act(self, dialog: Dialog, ctx: SampleContext) -> Message:
        """The agent's next message in a dialog task (role ``assistant``: text, tool calls, or
        both). ``dialog`` holds the agent's instructions, its tools (OpenAI function schemas) and
        the conversation so far as the agent sees it. Called once per agent turn; the task runs
        the tool calls and the simulated user."""
        raise NotImplementedError(f"system {self.name!r} does not hold dialogs")

    def describe(self) -> dict[str, Any]:
        """What run.json records about the system (name, resolved options)."""
        return {"name": self.name, "options": self.options}
