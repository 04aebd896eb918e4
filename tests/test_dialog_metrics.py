"""pass^k as tau-bench defines it (per task C(c,k)/C(n,k), averaged over tasks, k up to the fewest
trials), average reward, and costs per role in the summary of a dialog run."""

from __future__ import annotations

import math

import pytest
from harness_tau2.package import require_tau2
from hypothesis import given
from hypothesis import strategies as st

from harness.results.metrics import pass_hat_k, pass_hat_k_curve
from harness.results.summary import summarize_records
from harness.types import Record


def test_pass_hat_k_curve_against_hand_computed_values():
    # three tasks with 4 trials each: 2, 4 and 0 successes
    curve = pass_hat_k_curve([(4, 2), (4, 4), (4, 0)])
    assert list(curve) == [1, 2, 3, 4]
    assert curve[1] == pytest.approx((2 / 4 + 1 + 0) / 3)  # 0.5
    assert curve[2] == pytest.approx((1 / 6 + 1 + 0) / 3)  # C(2,2)/C(4,2) = 1/6 -> 7/18
    assert curve[3] == pytest.approx(1 / 3)  # C(2,3) = 0
    assert curve[4] == pytest.approx(1 / 3)
    # k stops at the fewest trials of any task
    assert list(pass_hat_k_curve([(5, 3), (3, 3)])) == [1, 2, 3]
    assert pass_hat_k_curve([(5, 3), (3, 3)])[3] == pytest.approx((math.comb(3, 3) / math.comb(5, 3) + 1) / 2)  # (0.1 + 1) / 2
    assert pass_hat_k_curve([]) == {}


@pytest.fixture(scope="module")
def package_pass_hat_k():
    require_tau2()
    from tau2.metrics.agent_metrics import pass_hat_k

    return pass_hat_k


@given(case=st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_hat_k_is_the_packages_own(package_pass_hat_k, case):
    n, c, k = case
    assert pass_hat_k(n, c, k) == pytest.approx(package_pass_hat_k(n, c, k))


def _record(node: str, status: str, score: float, agent_cost: float = 0.01, user_cost: float = 0.02) -> dict:
    roles = {
        "default": {"calls": 3, "input_tokens": 300, "output_tokens": 30, "cost": agent_cost},
        "user": {"calls": 2, "input_tokens": 200, "output_tokens": 20, "cost": user_cost},
    }
    return Record(node_id=node, sample_id=node.split("::")[1], task="t", repeat=0, status=status, score=score, roles=roles, cost=agent_cost, input_tokens=300, output_tokens=30, llm_calls=3)


def test_dialog_summary_has_pass_hat_k_average_reward_and_costs_by_role():
    records = [
        _record("t::a", "passed", 1.0),
        _record("t::a", "failed", 0.0),
        _record("t::a", "passed", 1.0),
        _record("t::b", "passed", 1.0),
        _record("t::b", "passed", 1.0),
        _record("t::b", "infra_error", 0.0),  # not the system's failure: left out of the metrics
    ]
    summary = summarize_records(records, repeats=3, kind="dialog")
    metrics = summary["metrics"]
    # a: 3 trials, 2 passed; b: 2 scored trials, both passed -> k up to 2
    assert metrics["pass^1"] == pytest.approx((2 / 3 + 1) / 2)
    assert metrics["pass^2"] == pytest.approx((1 / 3 + 1) / 2)
    assert metrics.get("pass^3") is None  # b has only 2 scored trials
    assert metrics["avg_reward"] == pytest.approx(4 / 5)
    assert summary["cost"] == pytest.approx(0.06)  # the agent's only
    assert summary["cost_by_role"]["user"] == {"calls": 12, "input_tokens": 1200, "output_tokens": 120, "cost": pytest.approx(0.12), "latency": 0.0, "mean_latency": 0.0}
    assert summary["cost_by_role"]["default"]["cost"] == pytest.approx(0.06)


def test_code_summary_is_unchanged_by_dialog_metrics():
    summary = summarize_records([_record("t::a", "passed", 1.0)], repeats=1)
    assert set(summary["metrics"]) == {"pass@1"}
