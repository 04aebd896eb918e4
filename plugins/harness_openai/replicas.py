"""Several base URLs serving one model: send each request to the replica with the fewest requests
in flight, and keep away from a replica that just failed while another one is up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class Replica:
    base_url: str
    client: Any  # the SDK client talking to base_url
    outstanding: int = 0  # requests in flight
    failures: int = 0  # consecutive failures
    down_until: float = 0.0  # monotonic time before which others are preferred
    last_pick: int = 0  # order of the last pick: breaks ties, so equal replicas take turns


class ReplicaPool:
    def __init__(self, replicas: list[Replica]) -> None:
        if not replicas:
            raise ValueError("a replica pool needs at least one replica")
        self.replicas = replicas
        self._picks = 0

    def pick(self) -> Replica:
        """The least busy replica among those not cooling down after a failure; when every
        replica is cooling down, the one that comes back first."""
        now = time.monotonic()
        up = [r for r in self.replicas if r.down_until <= now]
        if up:
            chosen = min(up, key=lambda r: (r.outstanding, r.last_pick))
        else:
            chosen = min(self.replicas, key=lambda r: r.down_until)
        self._picks += 1
        chosen.last_pick = self._picks
        return chosen

    def others_up(self, replica: Replica) -> bool:
        """Whether a replica other than ``replica`` is not cooling down after a failure."""
        now = time.monotonic()
        return any(r is not replica and r.down_until <= now for r in self.replicas)

    @contextmanager
    def lease(self, replica: Replica) -> Iterator[Replica]:
        """Count a request in flight on ``replica`` for the duration of the block."""
        replica.outstanding += 1
        try:
            yield replica
        finally:
            replica.outstanding -= 1

    def failed(self, replica: Replica, cooldown: float) -> None:
        replica.failures += 1
        replica.down_until = time.monotonic() + cooldown

    def succeeded(self, replica: Replica) -> None:
        replica.failures = 0
        replica.down_until = 0.0

    @property
    def base_urls(self) -> list[str]:
        return [r.base_url for r in self.replicas]
