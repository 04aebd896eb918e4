"""The Sandbox protocol: the one place where untrusted code runs.

A tier is a class registered through `harness_add_sandboxes`. The runner makes one instance per
run, `await start()` before the first sample, `await close()` at the end (also on Ctrl-C or
error). Everything a task or system executes goes through `run`.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import SandboxError
from harness.types import ExecResult, Limits, ProgramRun

if TYPE_CHECKING:
    from harness.config import Config


class RpcError(Exception):
    """Raised by an RPC handler to answer a job's request with an error: the job receives
    ``{"type": kind, "message": message}``. With ``end_job`` the sandbox also kills the job at
    once (its ExecResult then has the exit status of SIGKILL), for a job that must not go on."""

    def __init__(self, kind: str, message: str, *, end_job: bool = False) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.end_job = end_job


#: ``await handler(method, params) -> result``: serves a running job's requests (`Sandbox.run`'s
#: ``rpc``). ``method`` is a string, ``params`` and the result are JSON values; raise RpcError
#: to reply with an error. Requests of one job may be in flight concurrently.
RpcHandler = Callable[[str, Any], Awaitable[Any]]


@dataclass
class CheckRow:
    """One line of `harness sandbox check`."""

    check: str
    ok: bool
    detail: str = ""


class Sandbox(abc.ABC):
    """Base class of sandbox tiers. Subclasses set `name` and implement `run`."""

    name: ClassVar[str] = ""
    #: Shown by `harness plugins` and in errors; say what isolation the tier gives.
    description: ClassVar[str] = ""

    def __init__(self, config: Config) -> None:
        self.config = config

    @classmethod
    def preflight(cls, config: Config) -> None:
        """Raise SandboxUnavailable (saying exactly what to run) if this tier cannot work here.

        Called by `harness run` before any model call."""

    async def start(self) -> None:
        """Acquire resources (containers, pools). Called once per run."""

    @abc.abstractmethod
    async def run(
        self,
        files: Mapping[str, str | bytes],
        argv: Sequence[str],
        *,
        stdin: str | bytes | None = None,
        timeout: float = 10.0,
        limits: Limits | None = None,
        rpc: RpcHandler | None = None,
    ) -> ExecResult:
        """Run `argv` in a fresh work dir holding `files` (relative paths); never raises for the
        program's own failures (those are in the ExecResult); raises SandboxError when the tier
        itself failed to run the job. `argv[0] == "python3"` means the tier's Python 3.

        With ``rpc``, the job may make requests back to the harness while it runs: each one is
        served by ``await rpc(method, params)`` and its result sent back to the job (the
        protocol the job speaks is the tier's; the docker and local tiers document theirs in
        ``harness_sandbox.rpc``). A tier that cannot bridge requests raises SandboxError when
        ``rpc`` is given. An exception other than RpcError from the handler is re-raised by
        `run` once the job has ended (the job is told ``{"type": "stop"}`` and killed)."""

    async def run_program(
        self,
        program: str,
        *,
        cpu_limit: float,
        wall_limit: float,
        limits: Limits | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ProgramRun:
        """Run a Python test program judged from outside its process: `harness.codetasks.program_runner`
        executes it in a fresh child process whose only channel to the judge is a report
        descriptor the tier reads; the child's CPU time (seconds) is held to `cpu_limit`, its
        wall-clock time to `wall_limit`. `options` go to the runner's ``child_main``. Raises
        SandboxError when the tier itself failed; a tier that cannot judge programs says so."""
        raise SandboxError(
            f"the {self.name} sandbox cannot run judged test programs (code tasks); use a tier that "
            f"implements Sandbox.run_program: docker (default) or local"
        )

    async def close(self) -> None:
        """Release everything `start` acquired. Must be safe to call twice."""

    def capacity(self) -> int | None:
        """Jobs the tier runs at once once started (the pool size of a pooled tier); None when
        unknown. What ``--max-concurrency auto`` adds for code tasks."""
        return None

    def describe(self) -> dict[str, Any]:
        """What run.json records about this tier (tier name, image id, pool size …)."""
        return {"tier": self.name}

    # --- administration, used by `harness sandbox …` --------------------------------------

    @classmethod
    def build(cls, config: Config, *, offline: bool = False) -> str:
        """Prepare what the tier needs (an image); return a one-line description of it."""
        return f"{cls.name}: nothing to build"

    @classmethod
    def check(cls, config: Config) -> list[CheckRow]:
        """Self-test: is the tier usable and does its isolation hold?"""
        return []

    @classmethod
    def cleanup(cls, config: Config) -> int:
        """Remove leftovers of earlier runs; return how many were removed."""
        return 0
