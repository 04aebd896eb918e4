"""A fixed number of warm supervisors; a job takes a free one, unfit ones are replaced."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from harness import RpcHandler, SandboxError
from harness_sandbox.channel import Worker, WorkerDied

Spawn = Callable[[], Awaitable[Worker]]


class _Slot:
    """A place in the pool: a worker, or the task starting its replacement."""

    def __init__(self, worker: Worker) -> None:
        self.worker: Worker | None = worker
        self.starting: asyncio.Task[Worker] | None = None

    async def ready(self, spawn: Spawn) -> Worker:
        if self.starting is not None:
            try:  # shielded: if this job is cancelled, the next one still gets the new worker
                self.worker = await asyncio.shield(self.starting)
            except Exception:
                self.worker = None  # the replacement failed: one more try below
            self.starting = None
        if self.worker is None:
            try:
                self.worker = await spawn()
            except SandboxError:
                raise
            except Exception as exc:
                raise SandboxError(f"could not start a sandbox worker: {exc}") from exc
        return self.worker

    def renew(self, spawn: Spawn) -> None:
        """Retire the worker and start a new one in the background (the old one goes first, so
        the pool never holds more than its size)."""
        old, self.worker = self.worker, None

        async def replace() -> Worker:
            if old is not None:
                await old.close()
            return await spawn()

        self.starting = asyncio.create_task(replace())

    async def close(self) -> None:
        if self.starting is not None:
            task, self.starting = self.starting, None
            with contextlib.suppress(Exception):
                self.worker = await task
        if self.worker is not None:
            worker, self.worker = self.worker, None
            await worker.close()


class Pool:
    def __init__(self, size: int, spawn: Spawn, recycle: int) -> None:
        if size < 1:
            raise ValueError(f"pool size must be at least 1, not {size}")
        self.size = size
        self.spawn = spawn
        self.recycle = recycle
        self.slots: list[_Slot] = []
        self.free: asyncio.Queue[_Slot] = asyncio.Queue()
        self.closed = False

    async def start(self) -> None:
        started = await asyncio.gather(*(self.spawn() for _ in range(self.size)), return_exceptions=True)
        workers = [w for w in started if isinstance(w, Worker)]
        failures = [w for w in started if not isinstance(w, Worker)]
        if failures:
            await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
            raise failures[0]
        self.slots = [_Slot(w) for w in workers]
        for slot in self.slots:
            self.free.put_nowait(slot)

    async def run(self, job: dict, timeout: float, rpc: RpcHandler | None = None) -> dict:
        """The supervisor's answer to `job`. A worker that dies mid-job is replaced and the job
        tried once more on another; a second death is a SandboxError. A job with an RPC
        handler is tried once only (the requests it made may have had effects)."""
        died: WorkerDied | None = None
        for _ in range(1 if rpc is not None else 2):
            if self.closed:
                raise SandboxError("the sandbox was closed before the job could run")
            slot = await self.free.get()
            try:
                worker = await slot.ready(self.spawn)
                try:
                    return await worker.run(job, timeout, rpc)
                except WorkerDied as exc:
                    died = exc
            finally:
                if self.closed:
                    await slot.close()
                elif slot.worker is not None and (slot.worker.unfit or slot.worker.jobs >= self.recycle):
                    slot.renew(self.spawn)
                self.free.put_nowait(slot)
        raise SandboxError(f"the sandbox failed to run the job {'(it has an RPC bridge: not retried)' if rpc is not None else 'twice'}; last time: {died}")

    async def close(self) -> None:
        self.closed = True
        slots, self.slots = self.slots, []
        await asyncio.gather(*(slot.close() for slot in slots), return_exceptions=True)
