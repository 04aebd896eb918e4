"""Uncertainty for leaderboards and comparisons: a seeded percentile bootstrap of a mean, and the
exact McNemar test.

Both resample or count *samples*, never attempts: repeats of one sample are correlated, so the
sample is the unit that is drawn from the benchmark's population.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

#: Resamples for an interval; fixed, like the seed, so that a table printed twice is the same table.
RESAMPLES = 2000
SEED = 0


def bootstrap_mean_ci(values: Sequence[float], *, level: float = 0.95, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per sample).

    Deterministic for a given seed; ``values`` must not be empty."""
    if not values:
        raise ValueError("no values to resample")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    low = means[math.floor(tail * (resamples - 1))]
    high = means[math.ceil((1 - tail) * (resamples - 1))]
    return (low, high)


def mcnemar_exact_p(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p-value: a binomial(wins + losses, 1/2) test on the discordant pairs.

    p = min(1, 2 * P[X <= min(wins, losses)]); 1.0 when there is no discordant pair."""
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be >= 0, got {wins} and {losses}")
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1))
    return min(1.0, 2 * tail / 2**n)
