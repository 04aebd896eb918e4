"""Several jobs per round trip: jobs queued while the pool is busy travel to a supervisor together.

Each trip through the engine's attach stream (or a pipe) costs the harness, the engine and the
supervisor a message each way; a batch of N jobs costs one. A dispatcher per pool slot takes the
queued jobs, at most `MAX_BATCH` and never more than an even share of the queue over the whole
pool (so that a few long jobs still spread over all its workers), sends them as one ``batch``
message and hands every job's answer to the caller that submitted it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Awaitable, Callable

from harness_sandbox.supervisor import batch_message

#: Most jobs in one batch: its answers all come back when its last job is done.
MAX_BATCH = 8

Send = Callable[[dict, float], Awaitable[dict]]


class Batcher:
    """Submit jobs one at a time; they reach `send` (the pool's ``run``) in batches.

    `size` dispatchers run, one per pool slot; `ids` numbers the batch messages."""

    def __init__(self, send: Send, size: int, ids: itertools.count) -> None:
        self.send = send
        self.size = size
        self.ids = ids
        self.queue: collections.deque[tuple[dict, float, asyncio.Future[dict]]] = collections.deque()
        self.arrived = asyncio.Event()
        self.dispatchers: list[asyncio.Task[None]] = []

    async def submit(self, job: dict, timeout: float) -> dict:
        """The supervisor's answer to `job` (whose own time limit is `timeout` seconds)."""
        if not self.dispatchers:
            self.dispatchers = [asyncio.create_task(self._dispatch()) for _ in range(self.size)]
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self.queue.append((job, timeout, future))
        self.arrived.set()
        return await future

    def _take(self) -> list[tuple[dict, float, asyncio.Future[dict]]]:
        share = -(-len(self.queue) // self.size)
        taken = []
        while self.queue and len(taken) < min(share, MAX_BATCH):
            item = self.queue.popleft()
            if not item[2].cancelled():
                taken.append(item)
        if not self.queue:
            self.arrived.clear()
        return taken

    async def _dispatch(self) -> None:
        while True:
            while not self.queue:
                await self.arrived.wait()
            taken = self._take()
            if not taken:
                continue
            message = batch_message(next(self.ids), [job for job, _, _ in taken])
            try:
                reply = await self.send(message, sum(timeout for _, timeout, _ in taken))
                answers = reply["results"] if reply.get("type") == "batch" else [reply] * len(taken)
                where = {key: reply[key] for key in ("engine", "infra_events") if key in reply}  # the pool's, for the whole batch
                answers = [answer | where for answer in answers]
            except asyncio.CancelledError:
                for _, _, future in taken:
                    future.cancel()
                raise
            except Exception as exc:  # the pool's SandboxError: every job of the batch failed with it
                for _, _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), answer in zip(taken, answers):
                if not future.done():
                    future.set_result(answer)

    async def close(self) -> None:
        dispatchers, self.dispatchers = self.dispatchers, []
        for task in dispatchers:
            task.cancel()
        await asyncio.gather(*dispatchers, return_exceptions=True)
        while self.queue:
            self.queue.popleft()[2].cancel()
