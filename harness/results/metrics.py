"""Estimators: unbiased pass@k (Chen et al. 2021) and pass^k (Yao et al. 2024)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k draws (without replacement) from n attempts, c of
    them correct, is correct: 1 - C(n-c, k) / C(n, k), computed as a stable product."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Probability that all of k draws from n attempts are correct: C(c, k) / C(n, k)."""
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    return math.comb(c, k) / math.comb(n, k)


def mean_over_samples(counts: Iterable[tuple[int, int]], k: int, estimator=pass_at_k) -> float | None:
    """Average an estimator over samples given (n, c) per sample; None when a sample has n < k."""
    counts = list(counts)
    if not counts or any(n < k for n, _ in counts):
        return None
    return sum(estimator(n, c, k) for n, c in counts) / len(counts)


def pass_hat_k_curve(counts: Iterable[tuple[int, int]]) -> dict[int, float]:
    """pass^k averaged over samples for every k from 1 to the fewest attempts of any sample, as
    tau-bench reports it (Yao et al. 2024, arXiv:2406.12045; tau2's
    ``tau2.metrics.agent_metrics.get_tasks_pass_hat_k``). ``counts`` holds (n, c) per sample;
    empty when there is no sample or one has no attempt."""
    counts = list(counts)
    if not counts:
        return {}
    return {k: sum(pass_hat_k(n, c, k) for n, c in counts) / len(counts) for k in range(1, min(n for n, _ in counts) + 1)}

