from math import comb

import pytest

from harness.results.metrics import (
    mean_over_samples,
    pass_at_k,
    pass_hat_k,
)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_the_closed_form(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            expected = 1 - comb(n - c, k) / comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_known_values():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)  # 1 - C(3,2)/C(5,2) = 1 - 3/10


def test_pass_hat_k():
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(4, 4, 3) == 1.0
    assert pass_hat_k(4, 1, 2) == 0.0


def test_mean_needs_enough_attempts():
    assert mean_over_samples([(2, 1), (2, 2)], 1) == pytest.approx(0.75)
    assert mean_over_samples([(2, 1), (1, 1)], 2) is None


@pytest.mark.parametrize("bad", [(3, 4, 1), (3, 1, 0), (3, 1, 4)])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        pass_at_k(*bad)
