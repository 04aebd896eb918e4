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

    def __init__(self, worker: Worker, spawn: Spawn, engine: str | None = None) -> None:
        self.worker: Worker | None = worker
        self.spawn = spawn
        self.engine = engine
        self.starting: asyncio.Task[Worker] | None = None

    async def ready(self) -> Worker:
        spawn = self.spawn
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

    def renew(self) -> None:
        """Retire the worker and start a new one in the background (the old one goes first, so
        the pool never holds more than its size)."""
        old, self.worker = self.worker, None

        async def replace() -> Worker:
            if old is not None:
                await old.close()
            return await self.spawn()

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
    """`spawns` holds one spawn function per slot. With `engines` (one name per slot) and
    `answering` (whether that engine still answers), a pool spreads over several engines: when a
    worker dies or cannot start and its engine no longer answers, that engine's slots leave the
    pool and the job runs again on another, not counted as a try; the reply notes the event under
    ``infra_events`` and names its engine under ``engine``."""

    def __init__(
        self,
        spawns: list[Spawn],
        recycle: int,
        engines: list[str] | None = None,
        answering: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        if not spawns:
            raise ValueError("a pool needs at least one slot")
        self.spawns = spawns
        self.size = len(spawns)
        self.recycle = recycle
        self.engines = engines
        self.answering = answering
        self.lost: dict[str, str] = {}  # engine -> why it left the pool
        self.slots: list[_Slot] = []
        self.free: asyncio.Queue[_Slot | None] = asyncio.Queue()  # None: no slot is left, wake up and say so
        self.closed = False
        self._closing: set[asyncio.Task[None]] = set()

    def _close_later(self, slot: _Slot) -> None:
        task = asyncio.create_task(slot.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def start(self) -> None:
        started = await asyncio.gather(*(spawn() for spawn in self.spawns), return_exceptions=True)
        workers = [w for w in started if isinstance(w, Worker)]
        failures = [w for w in started if not isinstance(w, Worker)]
        if failures:
            await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
            raise failures[0]
        self.slots = [_Slot(w, spawn, engine) for w, spawn, engine in zip(workers, self.spawns, self.engines or [None] * self.size)]
        for slot in self.slots:
            self.free.put_nowait(slot)

    async def _engine_lost(self, slot: _Slot, error: Exception) -> bool:
        """Whether `slot`'s engine is gone (asking it once); a gone engine's slots leave the pool."""
        if slot.engine is None or self.answering is None:
            return False
        if slot.engine not in self.lost:
            if await self.answering(slot.engine):
                return False
            self.lost[slot.engine] = str(error)
        if slot in self.slots:
            self.slots.remove(slot)
            self._close_later(slot)  # its engine is gone: the close only tidies our end
            if not self.slots:
                self.free.put_nowait(None)
        return True

    async def _take(self) -> _Slot:
        while True:
            if self.closed:
                raise SandboxError("the sandbox was closed before the job could run")
            if not self.slots:
                lost = "; ".join(f"{engine}: {why}" for engine, why in self.lost.items())
                raise SandboxError(f"no sandbox engine is left: every one stopped answering ({lost})")
            slot = await self.free.get()
            if slot is None:
                self.free.put_nowait(None)  # for the next waiter
                continue
            if slot.engine not in self.lost:
                return slot
            await self._engine_lost(slot, SandboxError("gone"))  # a gone engine's idle slot: drop it

    async def run(self, job: dict, timeout: float, rpc: RpcHandler | None = None) -> dict:
        """The supervisor's answer to `job`. A worker that dies mid-job is replaced and the job
        tried once more on another; a second death is a SandboxError. A death because the
        worker's engine went away costs no try (see the class). A job with an RPC handler is
        tried once only (the requests it made may have had effects), on a lost engine too."""
        died: Exception | None = None
        events: list[str] = []
        tries = 0
        while tries < (1 if rpc is not None else 2):
            slot = await self._take()
            try:
                worker = await slot.ready()
                reply = await worker.run(job, timeout, rpc)
            except (WorkerDied, SandboxError) as exc:
                if await self._engine_lost(slot, exc):
                    if rpc is not None:
                        raise SandboxError(f"engine {slot.engine} stopped answering mid-job ({exc}); a job with an RPC bridge is not run again") from exc
                    events.append(f"engine {slot.engine} stopped answering ({exc}); the job ran again on another engine")
                    continue
                if isinstance(exc, SandboxError):
                    self._give_back(slot)
                    raise
                died = exc
                tries += 1
                self._give_back(slot)
                continue
            except BaseException:
                self._give_back(slot)
                raise
            self._give_back(slot)
            if slot.engine is not None:
                reply["engine"] = slot.engine
            if events:
                reply["infra_events"] = events
            return reply
        raise SandboxError(f"the sandbox failed to run the job {'(it has an RPC bridge: not retried)' if rpc is not None else 'twice'}; last time: {died}")

    def _give_back(self, slot: _Slot) -> None:
        if self.closed:
            self._close_later(slot)
            return
        if slot.worker is not None and (slot.worker.unfit or slot.worker.jobs >= self.recycle):
            slot.renew()
        self.free.put_nowait(slot)

    async def close(self) -> None:
        self.closed = True
        slots, self.slots = self.slots, []
        await asyncio.gather(*(slot.close() for slot in slots), *self._closing, return_exceptions=True)
