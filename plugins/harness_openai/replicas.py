"""Several base URLs serving one model, as one pool.

Each request goes to the replica with the fewest requests in flight, and never past a replica's
``capacity`` (``max_connections`` of the models table, per replica): when every usable replica is
full the request waits for a slot. A replica whose request fails for a transient reason
(connection refused, 5xx, timeout) is marked down for a cool-down that doubles with each
consecutive failure; in-flight requests that fail with it are retried on the others by the
backend. Once its cool-down is over it is re-probed with a single request (the next one routed to
it); success puts it back in service, failure starts a longer cool-down. When every replica is
down, requests wait for the first cool-down to end rather than fail at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class Replica:
    base_url: str
    client: Any  # the SDK client talking to base_url
    capacity: int = 32  # requests in flight at most
    outstanding: int = 0  # requests in flight
    failures: int = 0  # consecutive failures; > 0: down, or on probation after its cool-down
    down_until: float = 0.0  # monotonic time until which it gets no request
    last_pick: int = 0  # order of the last pick: breaks ties, so equal replicas take turns

    def usable(self, now: float) -> bool:
        """Up with a free slot, or past its cool-down with no probe in flight."""
        if self.failures == 0:
            return self.outstanding < self.capacity
        return self.down_until <= now and self.outstanding == 0


class ReplicaPool:
    def __init__(self, replicas: list[Replica]) -> None:
        if not replicas:
            raise ValueError("a replica pool needs at least one replica")
        self.replicas = replicas
        self._picks = 0
        self._changed: asyncio.Event | None = None  # set whenever a slot frees or a replica recovers

    def pick(self, now: float | None = None) -> Replica | None:
        """The least busy usable replica, or None when every one is full or cooling down."""
        now = time.monotonic() if now is None else now
        usable = [r for r in self.replicas if r.usable(now)]
        if not usable:
            return None
        chosen = min(usable, key=lambda r: (r.outstanding, r.last_pick))
        self._picks += 1
        chosen.last_pick = self._picks
        return chosen

    def others_usable(self, replica: Replica) -> bool:
        """Whether a replica other than ``replica`` could take a request now (a retry need not wait)."""
        now = time.monotonic()
        return any(r is not replica and r.usable(now) for r in self.replicas)

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[Replica]:
        """A replica for one request, counted in flight for the duration of the block."""
        replica = await self._acquire()
        replica.outstanding += 1
        try:
            yield replica
        finally:
            replica.outstanding -= 1
            self._wake()

    async def _acquire(self) -> Replica:
        while True:
            now = time.monotonic()
            replica = self.pick(now)
            if replica is not None:
                return replica
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            cooling = [r.down_until - now for r in self.replicas if r.failures and r.outstanding == 0]
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=max(0.0, min(cooling)) if cooling else None)
            except TimeoutError:
                pass  # a cool-down ended: look again

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def failed(self, replica: Replica, cooldown: float) -> None:
        """Mark ``replica`` down for ``cooldown`` seconds. Several requests failing together on it
        count once: only a failure seen while it was in service (or on probation) extends it."""
        now = time.monotonic()
        if replica.failures and replica.down_until > now:
            return
        replica.failures += 1
        replica.down_until = now + cooldown

    def succeeded(self, replica: Replica) -> None:
        recovered = replica.failures > 0
        replica.failures = 0
        replica.down_until = 0.0
        if recovered:
            self._wake()

    @property
    def base_urls(self) -> list[str]:
        return [r.base_url for r in self.replicas]
