"""The System base class: the agent system under test."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from harness.types import Answer, Message, Sample, TokenPrice

if TYPE_CHECKING:
    from harness.context import SampleContext

#: The method a system implements for each task kind it declares in ``kinds``.
KIND_METHODS = {"code": "solve", "qa": "solve", "dialog": "act"}

class System(abc.ABC):  # noqa: B024 - which methods are required depends on ``kinds``
    """Subclasses set ``name`` and ``kinds`` (the task kinds they can do: ``code``, ``qa``,
    ``dialog``) and implement `solve` (code/QA tasks) and/or `act` (dialog tasks), as ``kinds``
    says; a missing one fails at registration, naming the plugin. ``options`` are the run's
    ``--system-opt K=V`` pairs over harness.toml's ``[systems.NAME]`` table (values as text; a
    sub-table ``[systems.NAME.KEY]`` arrives as a dict with TOML's types, for the keys listed in
    ``option_tables``); a subclass validates them in ``__init__`` (keep it cheap: it also checks
    harness.toml on every command) and raises ConfigError for an unknown key or a bad value."""

    name: ClassVar[str] = ""
    #: Task kinds the system can do (``code``, ``qa``, ``dialog``); it is refused on any other.
    kinds: ClassVar[frozenset[str]] = frozenset({"code"})
    #: Model roles the system calls; ``--role ROLE=SPEC`` may give each its own backend. A system
    #: whose roles follow from its options (an orchestrator's experts) sets them on the instance.
    roles: tuple[str, ...] = ("default",)
    #: Role -> backend spec (or models-table name) that the system's own options choose for it
    #: (an orchestrator's experts), used instead of ``--backend``; ``--role ROLE=SPEC`` still wins.
    role_backends: Mapping[str, str] = MappingProxyType({})
    #: Role -> the price its tokens are charged at, where the system's options set one; the role's
    #: backend must then have no other price of its own (a models table's), or the run is refused.
    role_prices: Mapping[str, TokenPrice] = MappingProxyType({})
    #: Options that harness.toml may give as tables (``[systems.NAME.KEY.…]``); any other sub-table is refused.
    option_tables: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = dict(options)

    @classmethod
    def unimplemented(cls) -> list[str]:
        """Methods that ``kinds`` requires and the class does not implement."""
        return sorted({method for kind in cls.kinds if (method := KIND_METHODS.get(kind)) and getattr(cls, method) is getattr(System, method)})

    def attempts(self, sample: Sample) -> int | None:
        """How many attempts the system has for ``sample`` when that is fixed (answers replayed
        from a file: 0 means none, and the sample is not selected), else None: ``--repeats``."""
        return None

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        """Answer one code or QA sample."""
        raise NotImplementedError(f"system {self.name!r} does not solve {sample.task!r} samples")

    async def act(self, dialog: Any, ctx: SampleContext) -> Message:
        """The agent's next message in a dialog task (role ``assistant``: text, tool calls, or
        both). ``dialog`` is a `harness.dialog.Dialog`: the agent's instructions, its tools (OpenAI
        function schemas) and the conversation so far as the agent sees it. Called once per agent
        turn; the task runs the tool calls and the simulated user."""
        raise NotImplementedError(f"system {self.name!r} does not hold dialogs")

    def describe(self) -> dict[str, Any]:
        """What run.json records about the system: name, options and model roles."""
        return {"name": self.name, "options": self.options, "roles": list(self.roles)}
