"""`harness compare RUN_A RUN_B`: a paired comparison on the samples both runs scored.

Each sample contributes its pass rate in A and in B (the share of its scored attempts that
passed; 0 or 1 without repeats). A *win* is a sample where A's rate is higher, a *loss* one where
it is lower. The difference in pass rate (A - B) gets a paired bootstrap interval (the shared
samples are resampled together, seeded so the numbers are reproducible), and the wins and losses
(the discordant pairs) an exact McNemar test.
"""

from __future__ import annotations

from typing import Any

from harness.errors import UsageError
from harness.results.leaderboard import (
    LISTED_STATUSES,
    RunData,
    models_label,
    pass_rates,
)
from harness.results.stats import bootstrap_mean_ci, mcnemar_exact_p

RESAMPLES = 10_000
LEVEL = 0.95


def _side(run: RunData, rates: dict[str, float], shared: list[str]) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "system": run.spec["system"]["name"],
        "models": models_label(run.spec),
        "samples": len(rates),
        "pass_rate": sum(rates[node] for node in shared) / len(shared),
    }


def compare_runs(a: RunData, b: RunData, *, seed: int = 0, resamples: int = RESAMPLES) -> dict[str, Any]:
    if a.task != b.task:
        raise UsageError(
            f"runs {a.run_id} and {b.run_id} are of different tasks ({a.task!r} and {b.task!r}); "
            "a paired comparison needs the same samples: compare two runs of one task"
        )
    rates_a, rates_b = pass_rates(a.records), pass_rates(b.records)
    shared = sorted(set(rates_a) & set(rates_b))
    if not shared:
        raise UsageError(f"runs {a.run_id} and {b.run_id} scored no sample in common; run the same selection (or node ids) with both")
    differences = [rates_a[node] - rates_b[node] for node in shared]
    wins = [node for node, d in zip(shared, differences, strict=True) if d > 0]
    losses = [node for node, d in zip(shared, differences, strict=True) if d < 0]
    low, high = bootstrap_mean_ci(differences, level=LEVEL, resamples=resamples, seed=seed)
    sha = [run.spec["task"].get("dataset", {}).get("sha256") for run in (a, b)]
    warnings = [f"run {run.run_id} is {run.spec.get('status')}: its records may be partial" for run in (a, b) if run.spec.get("status") not in LISTED_STATUSES]
    if sha[0] != sha[1]:
        warnings.append(f"the runs' datasets differ (sha256 {str(sha[0])[:12]} and {str(sha[1])[:12]})")
    return {
        "task": a.task,
        "a": _side(a, rates_a, shared),
        "b": _side(b, rates_b, shared),
        "shared": len(shared),
        "wins": len(wins),
        "losses": len(losses),
        "ties": len(shared) - len(wins) - len(losses),
        "difference": sum(differences) / len(shared),
        "ci_low": low,
        "ci_high": high,
        "level": LEVEL,
        "resamples": resamples,
        "seed": seed,
        "mcnemar_p": mcnemar_exact_p(len(wins), len(losses)),
        "won": wins,
        "lost": losses,
        "warnings": warnings,
    }


def format_comparison(result: dict[str, Any], listed: int = 20) -> str:
    a, b = result["a"], result["b"]
    lines = [
        f"task {result['task']}: {result['shared']} samples scored by both runs",
        f"A {a['run_id']}  {a['system']} · {a['models']}  pass rate {a['pass_rate']:.3f}  ({a['samples']} samples)",
        f"B {b['run_id']}  {b['system']} · {b['models']}  pass rate {b['pass_rate']:.3f}  ({b['samples']} samples)",
        f"A wins {result['wins']}, loses {result['losses']}, ties {result['ties']}",
        f"difference A - B {result['difference']:+.3f}, {result['level']:.0%} paired bootstrap CI "
        f"[{result['ci_low']:+.3f}, {result['ci_high']:+.3f}] ({result['resamples']} resamples, seed {result['seed']})",
        f"exact McNemar p = {result['mcnemar_p']:.4g} (on {result['wins'] + result['losses']} discordant samples)",
    ]
    for label, nodes in (("A better on", result["won"]), ("B better on", result["lost"])):
        if nodes:
            more = f" … and {len(nodes) - listed} more" if len(nodes) > listed else ""
            lines.append(f"{label}: {' '.join(nodes[:listed])}{more}")
    lines += [f"warning: {w}" for w in result["warnings"]]
    return "\n".join(lines) + "\n"
