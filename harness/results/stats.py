"""Uncertainty for leaderboards and comparisons, through `scipy.stats`: a seeded percentile
bootstrap of a mean (`scipy.stats.bootstrap`), and the exact McNemar test (an exact binomial
test, `scipy.stats.binomtest`, on the discordant pairs).

Both resample or count *samples*, never attempts: repeats of one sample are correlated, so the
sample is the unit that is drawn from the benchmark's population.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Resamples for an interval; fixed, like the seed, so that a table printed twice is the same table.
RESAMPLES = 2000
SEED = 0


def bootstrap_mean_ci(values: Sequence[float], *, level: float = 0.95, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval (``level``, e.g. 0.95) of the mean of ``values`` (one value
    per sample), as (low, high) floats.

    Deterministic for a given seed. One value gives the degenerate interval (value, value), as
    every resample of it does; raises ValueError when ``values`` is empty."""
    if not values:
        raise ValueError("no values to resample")
    if len(values) == 1:
        return (float(values[0]), float(values[0]))
    import numpy as np  # scipy takes a second to import: only when an interval is drawn
    from scipy import stats

    result = stats.bootstrap(
        (np.asarray(values, dtype=float),),
        np.mean,
        confidence_level=level,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def mcnemar_exact_p(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p-value: a binomial(wins + losses, 1/2) test on the discordant
    pairs, which is min(1, 2 * P[X <= min(wins, losses)]); 1.0 when there is no discordant pair.

    Raises ValueError for a negative count."""
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be >= 0, got {wins} and {losses}")
    if wins + losses == 0:
        return 1.0
    from scipy import stats

    return float(stats.binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)
