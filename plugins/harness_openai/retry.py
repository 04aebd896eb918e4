"""When to try a failed request again: a bounded number of attempts with jittered exponential backoff."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; before try k+1 wait about ``base_delay * 2**(k-1)`` seconds
    (never more than ``max_delay``), half of it fixed and half random so that many clients
    failing together do not come back together."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(f"bad retry policy {self}: attempts >= 1 and delays >= 0 are required")

    def backoff(self, failures: int) -> float:
        """The un-jittered wait after ``failures`` consecutive failures."""
        return min(self.max_delay, self.base_delay * 2 ** max(0, failures - 1))

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """The wait before the next try; a server's Retry-After is honoured up to ``max_delay``."""
        ceiling = self.backoff(failures)
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait

    def describe(self) -> dict[str, Any]:
        return asdict(self)
