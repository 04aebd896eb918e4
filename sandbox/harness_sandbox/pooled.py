"""What the local and docker tiers share: a pool of supervisors, one job each at a time."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

from harness import (
    ExecResult,
    Limits,
    ProgramRun,
    RpcHandler,
    Sandbox,
    SandboxError,
    to_dict,
)
from harness.codetasks.testrunner import RUNNER_SOURCE
from harness_sandbox.batching import Batcher
from harness_sandbox.channel import Worker
from harness_sandbox.pool import Pool
from harness_sandbox.supervisor import job_message, preload_message, program_message

DEFAULT_POOL = os.cpu_count() or 2
DEFAULT_RECYCLE = 500
#: How long past a job's own timeout the host waits for the supervisor's answer before it
#: declares the supervisor hung (the supervisor itself enforces the timeout within ~10 ms).
ANSWER_GRACE = 30.0
#: How long a new supervisor may take to say hello (and to load the program runner).
START_TIMEOUT = 60.0
#: The name under which every supervisor loads the program runner (harness.codetasks.testrunner.RUNNER_SOURCE).
RUNNER_NAME = "program_runner"


class PooledSandbox(Sandbox):
    """Subclasses implement `spawn` (start one supervisor and return its Worker)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.pool_size = int(config.getoption("sandbox_pool", DEFAULT_POOL))
        self.recycle = int(config.getoption("sandbox_recycle", DEFAULT_RECYCLE))
        if self.pool_size < 1 or self.recycle < 1:
            raise SandboxError(f"--sandbox-pool ({self.pool_size}) and --sandbox-recycle ({self.recycle}) must be at least 1")
        self._pool: Pool | None = None
        self._batcher: Batcher | None = None
        self._starting: asyncio.Lock | None = None
        self._job_ids = itertools.count(1)

    async def spawn(self, engine: str | None = None) -> Worker:
        """Start one supervisor (on `engine`, for tiers that have several) and return its Worker."""
        raise NotImplementedError

    def slot_engines(self) -> list[str | None]:
        """The engine of each pool slot (None: the tier's only one); its length is the pool size."""
        return [None] * self.pool_size

    async def answering(self, engine: str) -> bool:
        """Whether `engine` still answers (tiers with several engines override this)."""
        return True

    async def _spawn_with_runner(self, engine: str | None) -> Worker:
        worker = await self.spawn(engine)
        try:
            await worker.preload(preload_message(next(self._job_ids), RUNNER_NAME, RUNNER_SOURCE), START_TIMEOUT)
        except BaseException:
            await worker.close()
            raise
        return worker

    async def start(self) -> None:
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            if self._pool is None:
                engines = self.slot_engines()
                spawns = [functools.partial(self._spawn_with_runner, engine) for engine in engines]
                several = len(set(engines)) > 1
                pool = Pool(spawns, self.recycle, engines if several else None, self.answering if several else None)
                await pool.start()
                self._pool = pool
                self._batcher = Batcher(lambda message, timeout: pool.run(message, timeout + ANSWER_GRACE), self.pool_size, self._job_ids)

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
        try:
            job = job_message(next(self._job_ids), dict(files), list(argv), stdin, timeout, to_dict(limits or Limits()), rpc=rpc is not None)
        except ValueError as exc:
            raise SandboxError(f"cannot run this job: {exc}") from None
        reply = await self._answer(job, timeout, rpc)
        return ExecResult(
            exit_code=reply["exit_code"],
            stdout=reply["stdout"],
            stderr=reply["stderr"],
            timed_out=reply["timed_out"],
            duration=reply["duration"],
            tier=self.name,
            oom=reply["oom"],
            truncated=reply["truncated"],
        )

    async def run_program(
        self,
        program: str,
        *,
        cpu_limit: float,
        wall_limit: float,
        limits: Limits | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ProgramRun:
        try:
            job = program_message(next(self._job_ids), RUNNER_NAME, program, dict(options or {}), cpu_limit, wall_limit, to_dict(limits or Limits()))
        except ValueError as exc:
            raise SandboxError(f"cannot run this program: {exc}") from None
        if self._pool is None:
            await self.start()
        assert self._batcher is not None
        reply = await self._batcher.submit(job, wall_limit)
        if reply["type"] != "result":
            raise SandboxError(f"the {self.name} sandbox could not run the program: {reply.get('message')}")
        return ProgramRun(
            reports=reply.get("reports", []),
            exit_code=reply["exit_code"],
            cpu_seconds=reply.get("cpu_seconds") or 0.0,
            duration=reply["duration"],
            limit=reply["limit"],
            stderr=reply["stderr"],
            tier=self.name,
            oom=reply["oom"],
            truncated=reply["truncated"],
            reports_dropped=reply.get("reports_dropped", 0),
            waiting_seconds=reply.get("waiting_seconds"),
            engine=reply.get("engine"),
            infra_events=reply.get("infra_events", []),
        )

    async def _answer(self, job: dict, timeout: float, rpc: RpcHandler | None = None) -> dict:
        if self._pool is None:
            await self.start()
        assert self._pool is not None
        reply = await self._pool.run(job, timeout + ANSWER_GRACE, rpc)
        if reply["type"] != "result":
            raise SandboxError(f"the {self.name} sandbox could not run the job: {reply.get('message')}")
        return reply

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        batcher, self._batcher = self._batcher, None
        if batcher is not None:
            await batcher.close()
        if pool is not None:
            await pool.close()

    def capacity(self) -> int:
        """One job per pool worker."""
        return self.pool_size

    def describe(self) -> dict[str, Any]:
        return {"tier": self.name, "pool": self.pool_size, "recycle": self.recycle}
