"""Leaderboards: finished runs -> one row per configuration -> an exporter's format.

A *configuration* is (task with its options and dataset, system with its options, models). Runs of
one configuration are merged into one row: their records are pooled per sample, so repeats of a
sample across runs count as more attempts of it. Only runs whose status is ``finished`` or
``budget_exhausted`` are listed; the others are reported as left out, with their status.

Numbers of a row, all over scored attempts (``infra_error`` records are not the system's failures
and are left out of them, as in summary.json; they still count for cost and latency):

- ``pass@1`` is the mean over samples of (passed / scored attempts), with a 95% **percentile
  bootstrap** interval over samples (``pass@1_low``, ``pass@1_high``; see `harness.stats`): the
  sample is resampled, not the attempt, because repeats of one sample are correlated.
- ``pass@k`` / ``pass^k`` (unbiased estimators, `harness.metrics`) for k in 2, 5, 10 and the
  largest k every sample allows (the fewest scored attempts of any sample).
- ``avg_reward``: the mean score of the scored attempts (a dialog task's reward; shown in the
  table when a row is a dialog task, as tau-bench reports it beside pass^k).
- ``cost`` in USD and ``cost_per_sample``: the mean cost of one attempt at one sample.
- ``median_latency``: the median seconds of one attempt; ``wall_seconds``: the runs' wall time.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import PluginError, UsageError
from harness.metrics import mean_over_samples, pass_at_k, pass_hat_k
from harness.plugins import Plugins
from harness.stats import bootstrap_mean_ci
from harness.store import RunStore, list_runs

LISTED_STATUSES = ("finished", "budget_exhausted")
#: --output suffix -> format, when --format is not given.
FORMAT_BY_SUFFIX = {".md": "github", ".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".parquet": "parquet", ".html": "html", ".tex": "latex"}
DEFAULT_FORMAT = "github"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


@dataclass
class RunData:
    """One run as read from its folder."""

    store: RunStore
    spec: dict[str, Any]
    summary: dict[str, Any] | None
    records: list[dict[str, Any]]

    @property
    def run_id(self) -> str:
        return self.store.run_id

    @property
    def task(self) -> str:
        return self.spec["task"]["name"]


def load_run(store: RunStore) -> RunData:
    return RunData(store, store.read_spec(), store.read_summary(), store.read_records())


def load_runs(results_dir: Path, task: str | None = None) -> tuple[list[RunData], list[tuple[str, str]]]:
    """The listable runs (of ``task`` if given), oldest first, and (run id, reason) for each run
    left out because it did not finish."""
    kept: list[RunData] = []
    left_out: list[tuple[str, str]] = []
    for store in list_runs(results_dir):
        try:
            run = load_run(store)
        except UsageError as exc:
            left_out.append((store.run_id, f"unreadable: {exc}"))
            continue
        if task is not None and run.task != task:
            continue
        status = run.spec.get("status")
        if status in LISTED_STATUSES:
            kept.append(run)
        else:
            left_out.append((run.run_id, f"status {status}"))
    return kept, left_out


def sample_counts(records: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """node id -> (scored attempts, passed attempts); infra errors are not scored."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        if record["status"] != "infra_error":
            counts[record["node_id"]][0] += 1
            counts[record["node_id"]][1] += record["status"] == "passed"
    return {node: (n, c) for node, (n, c) in counts.items()}


def pass_rates(records: Iterable[dict[str, Any]]) -> dict[str, float]:
    """node id -> fraction of its scored attempts that passed."""
    return {node: c / n for node, (n, c) in sample_counts(records).items()}


# --- configuration identity -------------------------------------------------------------------


def _pairs(options: dict[str, Any] | None, prefix: str = "") -> list[str]:
    return [f"{prefix}{key}={value}" for key, value in sorted((options or {}).items())]


def models_label(spec: dict[str, Any]) -> str:
    """The backend spec, or ``role=spec, …`` when roles have backends of their own."""
    backends = spec.get("resolved", {}).get("backends") or {"default": {"spec": spec.get("invocation", {}).get("backend")}}
    specs = {role: str(b.get("spec")) for role, b in sorted(backends.items())}
    if len(set(specs.values())) == 1:
        return next(iter(specs.values()))
    return ", ".join(f"{role}={value}" for role, value in specs.items())


def options_label(spec: dict[str, Any]) -> str:
    """System options as ``k=v``, then task options as ``task.k=v``."""
    return " ".join(_pairs(spec["system"].get("options")) + _pairs(spec["task"].get("options"), "task."))


def config_key(spec: dict[str, Any]) -> tuple[str, ...]:
    task = spec["task"]
    return (
        task["name"],
        json.dumps(task.get("options") or {}, sort_keys=True),
        str(task.get("dataset", {}).get("sha256")),
        spec["system"]["name"],
        json.dumps(spec["system"].get("options") or {}, sort_keys=True),
        models_label(spec),
    )


# --- rows -------------------------------------------------------------------------------------


def _wall_seconds(run: RunData) -> float:
    if run.summary and run.summary.get("wall_seconds") is not None:
        return float(run.summary["wall_seconds"])
    try:
        started = datetime.strptime(run.spec["started_at"], TIME_FORMAT)
        ended = datetime.strptime(run.spec["ended_at"], TIME_FORMAT)
    except (KeyError, TypeError, ValueError):
        return 0.0
    return (ended - started).total_seconds()


def _ks(pairs: list[tuple[int, int]]) -> set[int]:
    """The k > 1 to report: 2, 5, 10 and the largest that every sample allows."""
    most = min((n for n, _ in pairs), default=0)
    return {2, 5, 10, most} & set(range(2, most + 1))


def _row(group: list[RunData], pairs: list[tuple[int, int]], ks: list[int]) -> dict[str, Any]:
    first, last = group[0], group[-1]
    records = [r for run in group for r in run.records]
    rates = [c / n for n, c in pairs]
    low, high = bootstrap_mean_ci(rates) if rates else (None, None)
    row: dict[str, Any] = {
        "task": first.task,
        "system": first.spec["system"]["name"],
        "models": models_label(first.spec),
        "options": options_label(first.spec),
        "n": len(pairs),
        "attempts": sum(n for n, _ in pairs),
        "infra_errors": sum(r["status"] == "infra_error" for r in records),
        "pass@1": mean_over_samples(pairs, 1, pass_at_k),
        "pass@1_low": low,
        "pass@1_high": high,
    }
    for k in ks:  # None where some sample has fewer than k scored attempts
        row[f"pass@{k}"] = mean_over_samples(pairs, k, pass_at_k)
        row[f"pass^{k}"] = mean_over_samples(pairs, k, pass_hat_k)
    scores = [r.get("score", 0.0) for r in records if r["status"] != "infra_error"]
    row["avg_reward"] = sum(scores) / len(scores) if scores else None
    cost = sum(r.get("cost", 0.0) for r in records)
    return row | {
        "kind": first.spec["task"].get("kind", "code"),
        "cost": round(cost, 8),
        "cost_per_sample": round(cost / len(records), 8) if records else None,
        "input_tokens": sum(r.get("input_tokens", 0) for r in records),
        "output_tokens": sum(r.get("output_tokens", 0) for r in records),
        "median_latency": statistics.median(r.get("latency", 0.0) for r in records) if records else None,
        "wall_seconds": round(sum(_wall_seconds(run) for run in group), 3),
        "sandbox": ", ".join(sorted({str(run.spec.get("resolved", {}).get("sandbox", {}).get("tier")) for run in group})),
        "harness": ", ".join(sorted({str(run.spec.get("versions", {}).get("harness")) for run in group})),
        "date": str(last.spec.get("ended_at") or last.spec.get("started_at") or "")[:10],
        "dataset": str(first.spec["task"].get("dataset", {}).get("sha256") or "")[:12],
        "runs": [run.run_id for run in group],
    }


def build_rows(runs: list[RunData]) -> list[dict[str, Any]]:
    """One row per configuration, best pass@1 first within a task (then the cheaper one); a
    configuration's records are pooled per sample (node id). Every row has the same keys: the
    pass@k / pass^k of any row appear in all (None where a row's attempts do not allow that k)."""
    groups: dict[tuple[str, ...], list[RunData]] = defaultdict(list)
    for run in runs:
        groups[config_key(run.spec)].append(run)
    pooled = [(group, list(sample_counts(r for run in group for r in run.records).values())) for group in groups.values()]
    ks = sorted(set().union(*(_ks(pairs) for _, pairs in pooled)))
    rows = [_row(group, pairs, ks) for group, pairs in pooled]
    return sorted(rows, key=lambda r: (r["task"], -(r["pass@1"] if r["pass@1"] is not None else -1.0), r["cost"]))


def k_metrics(row: dict[str, Any]) -> list[str]:
    """The pass@k / pass^k keys of a row beyond pass@1, in order."""
    return [key for key in row if key[:5] in ("pass@", "pass^") and key[5:].isdigit() and key != "pass@1"]


# --- the table people read ----------------------------------------------------------------------


def _num(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def display_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(headers, cells): the leaderboard as a person reads it, numbers formatted."""
    metrics = k_metrics(rows[0]) if rows else []
    if any(row.get("kind") == "dialog" for row in rows):
        metrics.append("avg_reward")  # tau-bench's average reward, beside its pass^k
    headers = ["task", "system", "models", "options", "n", "pass@1 [95% CI]", *metrics]
    headers += ["cost $", "$/sample", "tokens in/out", "latency p50 s", "wall s", "sandbox", "harness", "date"]
    cells = []
    for row in rows:
        pass1 = "" if row["pass@1"] is None else f"{row['pass@1']:.3f} [{row['pass@1_low']:.3f}, {row['pass@1_high']:.3f}]"
        cells.append([
            row["task"], row["system"], row["models"], row["options"], str(row["n"]), pass1,
            *(_num(row[key], ".3f") for key in metrics),
            _num(row["cost"], ".4f"), _num(row["cost_per_sample"], ".5f"),
            f"{row['input_tokens']:,}/{row['output_tokens']:,}", _num(row["median_latency"], ".2f"),
            _num(row["wall_seconds"], ".1f"), row["sandbox"], row["harness"], row["date"],
        ])  # fmt: skip
    return headers, cells


# --- exporters --------------------------------------------------------------------------------


def format_for(fmt: str | None, output: str | None) -> str:
    """--format, else the one --output's suffix names, else github."""
    if fmt:
        return fmt
    if output:
        return FORMAT_BY_SUFFIX.get(Path(output).suffix.lower(), DEFAULT_FORMAT)
    return DEFAULT_FORMAT


def exporter_for(fmt: str, plugins: Plugins) -> Any:
    """An instance of the one exporter plugin that handles ``fmt``."""
    registered = plugins.registry["exporters"]
    claiming = [name for name, entry in sorted(registered.items()) if fmt in entry.cls.formats]
    if not claiming:
        known = sorted({f for entry in registered.values() for f in entry.cls.formats})
        raise UsageError(f"unknown format {fmt!r}. Known formats: {', '.join(known) or 'none (no exporter plugin is loaded)'}")
    if len(claiming) > 1:
        owners = " and ".join(f"exporter {name!r} of plugin {registered[name].plugin.name!r}" for name in claiming)
        raise PluginError(f"format {fmt!r} is claimed by {owners}; disable one plugin with -p no:NAME")
    return registered[claiming[0]].cls()


def export(rows: list[dict[str, Any]], fmt: str, plugins: Plugins) -> str | bytes:
    return exporter_for(fmt, plugins).export(rows, fmt)
