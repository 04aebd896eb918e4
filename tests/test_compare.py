"""`harness compare`: wins/losses/ties, paired bootstrap interval, exact McNemar p."""

from __future__ import annotations

import json
import math
import random

import pytest
from fake_runs import Attempt, outcomes, write_run
from hypothesis import given
from hypothesis import strategies as st

from harness.cli.main import main
from harness.results.stats import bootstrap_mean_ci, mcnemar_exact_p


@pytest.mark.parametrize(
    ("wins", "losses", "p"),
    [
        (0, 0, 1.0),  # no discordant pair: no evidence
        (5, 0, 2 / 32),  # 2 * P[X = 0], X ~ Bin(5, 1/2)
        (10, 2, 2 * (1 + 12 + 66) / 4096),  # 2 * P[X <= 2], X ~ Bin(12, 1/2)
        (1, 9, 2 * (1 + 10) / 1024),
        (3, 3, 1.0),  # capped at 1
    ],
)
def test_mcnemar_exact_p(wins, losses, p):
    assert mcnemar_exact_p(wins, losses) == pytest.approx(p)
    assert mcnemar_exact_p(losses, wins) == pytest.approx(p)


def test_bootstrap_interval_covers_the_true_difference_about_95_percent_of_the_time():
    """Paired outcomes drawn from a population where A passes with p 0.7, B with p 0.5."""
    rng = random.Random(1)
    covered = 0
    for trial in range(100):
        pairs = [(rng.random() < 0.7, rng.random() < 0.5) for _ in range(60)]
        low, high = bootstrap_mean_ci([a - b for a, b in pairs], resamples=1000, seed=trial)
        covered += low <= 0.2 <= high
    assert 88 <= covered <= 100


def _compare(results, capsys, *args):
    code = main(["compare", "--results-dir", str(results), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_paired_comparison_of_two_runs(tmp_path, capsys):
    results = tmp_path / "results"
    # A passes samples 0-59, B passes 20-49 and 90-99: A wins 30 (0-19, 50-59), loses 10, ties 60
    write_run(results, "a", [Attempt(f"s{i}", "passed" if i < 60 else "failed") for i in range(100)])
    write_run(results, "b", [Attempt(f"s{i}", "passed" if 20 <= i < 50 or i >= 90 else "failed") for i in range(100)], backend="fake:b")
    code, out, _ = _compare(results, capsys, "a", "b", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["shared"], result["wins"], result["losses"], result["ties"]) == (100, 30, 10, 60)
    assert (result["a"]["pass_rate"], result["b"]["pass_rate"]) == (0.6, 0.4)
    assert result["difference"] == pytest.approx(0.2)
    assert result["mcnemar_p"] == pytest.approx(2 * sum(math.comb(40, i) for i in range(11)) / 2**40)
    # the normal approximation: differences are +1 (30), -1 (10), 0 (60): sd 0.6, se 0.06
    assert result["ci_low"] == pytest.approx(0.2 - 1.96 * 0.06, abs=0.03)
    assert result["ci_high"] == pytest.approx(0.2 + 1.96 * 0.06, abs=0.03)
    assert _compare(results, capsys, "a", "b", "--json")[1] == out  # seeded: reproducible
    text = _compare(results, capsys, "a", "b")[1]
    assert "A wins 30, loses 10, ties 60" in text and "exact McNemar p = 0.00222" in text


def test_repeats_compare_pass_rates_on_shared_samples_only(tmp_path, capsys):
    results = tmp_path / "results"
    write_run(results, "a", outcomes("s0:PP s1:PF s2:FF s3:P"), repeats=2)
    write_run(results, "b", outcomes("s0:PF s1:FP s2:P- s4:P"), repeats=2)  # s2: the infra error does not count
    result = json.loads(_compare(results, capsys, "a", "b", "--json")[1])
    # rates A (1, 1/2, 0), B (1/2, 1/2, 1) on s0, s1, s2
    assert (result["shared"], result["wins"], result["losses"], result["ties"]) == (3, 1, 1, 1)
    assert (result["won"], result["lost"]) == (["humaneval::s0"], ["humaneval::s2"])
    assert result["a"]["pass_rate"] == pytest.approx(0.5) and result["b"]["pass_rate"] == pytest.approx(2 / 3)
    assert result["difference"] == pytest.approx(-1 / 6) and result["mcnemar_p"] == 1.0


def test_runs_of_different_tasks_are_refused(tmp_path, capsys):
    results = tmp_path / "results"
    write_run(results, "a", outcomes("s0:P"))
    write_run(results, "m", outcomes("s0:P"), task="mbpp")
    code, _, err = _compare(results, capsys, "a", "m")
    assert code == 2 and "different tasks ('humaneval' and 'mbpp')" in err
    code, _, err = _compare(results, capsys, "a", "nope")
    assert code == 2 and "no run 'nope'" in err


def test_partial_runs_and_other_datasets_are_flagged(tmp_path, capsys):
    results = tmp_path / "results"
    write_run(results, "a", outcomes("s0:P s1:F"))
    write_run(results, "b", outcomes("s0:F"), status="interrupted", sha256="cd" * 32)
    code, out, _ = _compare(results, capsys, "a", "b")
    assert code == 0 and "warning: run b is interrupted" in out and "warning: the runs' datasets differ" in out


@given(st.integers(0, 80), st.integers(0, 80))
def test_mcnemar_through_scipy_equals_the_exact_binomial_formula(wins, losses):
    n = wins + losses
    expected = 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n)
    assert mcnemar_exact_p(wins, losses) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_bootstrap_interval_of_hand_countable_cases():
    # two values 0 and 1: resampled means are 0 (1/4), 1/2 (1/2), 1 (1/4); the 2.5% and 97.5% points are 0 and 1
    assert bootstrap_mean_ci([0.0, 1.0]) == (0.0, 1.0)
    # twenty ones and one zero: P(no zero drawn) = (20/21)^21 = 36% > 2.5%, so the upper end is 1
    assert bootstrap_mean_ci([1.0] * 20 + [0.0])[1] == 1.0
    assert bootstrap_mean_ci([0.25]) == (0.25, 0.25)  # one sample: every resample is that sample
    with pytest.raises(ValueError, match="no values"):
        bootstrap_mean_ci([])
    with pytest.raises(ValueError, match=">= 0"):
        mcnemar_exact_p(-1, 3)
