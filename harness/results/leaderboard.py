"""Leaderboards: finished runs -> one row per configuration -> an exporter's format.

A *configuration* is (task with its options and dataset, system with its options, models). The
dataset is identified by its sha256 (run.json's ``task.dataset.sha256``): task options that only
say where the problems were read from (`DATA_LOCATION_OPTIONS`: ``path=``, ``source=``) are not
part of it, so one file given as an absolute and as a relative path is one configuration. Runs of
one configuration are merged into one row: their records are pooled per sample, so repeats of a
sample across runs count as more attempts of it. Only runs whose status is ``finished`` or
``budget_exhausted`` and that scored at least one sample are pooled; the others are reported as
left out, with the reason.

Numbers of a row, all over scored attempts (``infra_error`` records are not the system's failures
and are left out of them, as in summary.json; they still count for cost and latency):

- ``runs`` (the pooled run ids), ``n`` (samples scored) and ``attempts`` (scored attempts).
- ``pass@1`` is the mean over samples of (passed / scored attempts), with a 95% **percentile
  bootstrap** interval over samples (``pass@1_low``, ``pass@1_high``; see `harness.results.stats`): the
  sample is resampled, not the attempt, because repeats of one sample are correlated.
- ``pass@k`` / ``pass^k`` (unbiased estimators, `harness.results.metrics`) for k in 2, 5, 10 and the
  runs' repeats, only where *every* pooled run had at least k repeats (None otherwise).
- ``cost`` in USD: the tokens' price (``token_cost``) plus the server time of local fleets and
  endpoints that carry a price per server-hour (``server_cost``, from summary.json's ``serving``).
  ``priced`` says whether every model of every pooled run had a price; an unpriced row's cost is
  a lower bound (0 for local models without ``hour_price``). ``cost_per_sample`` is the cost of one
  attempt at one sample, ``tokens_per_sample`` and ``seconds_per_sample`` (wall time) likewise.
- ``median_latency``: the median seconds of one attempt; ``wall_seconds``: each run's wall time,
  in the order of ``runs`` (a list, never a sum: the runs may have overlapped).
- ``avg_reward``: the mean score of the scored attempts (a dialog task's reward; shown in the
  table when a row is a dialog task, as tau-bench reports it beside pass^k); ``kind`` the task kind.
- ``search_cost``: for a system that a search made (an AFlow workflow from ``harness optimize``,
  `harness.results.search`), the USD that search cost, paid once and not part of ``cost``;
  None otherwise (a column of the table only when some row has one).
- ``work_by_role``: for each model role of the system (run.json's ``system.roles``; every role of
  the records for runs older than that), its calls, tokens in/out, cost, measured mean latency per
  call and ``token_share`` (its share of the system's tokens): who did the work, e.g. how an
  orchestrator spread it over its experts. The table shows it when some row has several roles.
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
from harness.plugins import Plugins
from harness.results.metrics import mean_over_samples, pass_at_k, pass_hat_k
from harness.results.search import search_cost
from harness.results.stats import bootstrap_mean_ci
from harness.results.summary import attempts_by_sample, work_by_role, work_label
from harness.store import RunStore, list_runs
from harness.types import Record

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
    records: list[Record]

    @property
    def run_id(self) -> str:
        return self.store.run_id

    @property
    def task(self) -> str:
        return self.spec["task"]["name"]


def load_run(store: RunStore) -> RunData:
    return RunData(store, store.read_spec(), store.read_summary(), store.read_records())


def _scored(run: RunData) -> bool:
    return any(r.scored for r in run.records)


def load_runs(results_dir: Path, task: str | None = None) -> tuple[list[RunData], list[tuple[str, str]]]:
    """The runs to pool (of ``task`` if given), oldest first, and (run id, reason) for each run
    left out: one that did not finish, or that scored no sample (a budget spent before the first
    answer), which has nothing to pool."""
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
        if status not in LISTED_STATUSES:
            left_out.append((run.run_id, f"status {status}"))
        elif not _scored(run):
            left_out.append((run.run_id, f"status {status} with no scored sample"))
        else:
            kept.append(run)
    return kept, left_out


def pass_rates(records: Iterable[Record]) -> dict[str, float]:
    """node id -> fraction of its scored attempts that passed."""
    return {node: c / n for node, (n, c) in attempts_by_sample(records).items()}


# --- configuration identity -------------------------------------------------------------------


#: Task options that only say where the problems are read from (a file, the hub, a package).
#: When run.json has the dataset's sha256, the problems themselves identify the configuration.
DATA_LOCATION_OPTIONS = frozenset({"path", "source"})


def _pairs(options: dict[str, Any] | None, prefix: str = "") -> list[str]:
    """``key=value`` each; a table option (harness.toml's ``[systems.NAME.KEY.…]``) shows its
    entries' names: ``experts=big,small`` (the configuration's key still holds all of it)."""
    return [f"{prefix}{key}={','.join(map(str, value)) if isinstance(value, dict) else value}" for key, value in sorted((options or {}).items())]


def models_label(spec: dict[str, Any]) -> str:
    """The backend spec, or ``role=spec, …`` when roles have backends of their own."""
    backends = spec.get("resolved", {}).get("backends") or {"default": {"spec": spec.get("invocation", {}).get("backend")}}
    specs = {role: str(b.get("spec")) for role, b in sorted(backends.items())}
    if len(set(specs.values())) == 1:
        return next(iter(specs.values()))
    return ", ".join(f"{role}={value}" for role, value in specs.items())


def task_options(spec: dict[str, Any]) -> dict[str, Any]:
    """The task options that make a configuration: all of them, less `DATA_LOCATION_OPTIONS`
    when the dataset's sha256 is known."""
    task = spec["task"]
    options = task.get("options") or {}
    if not task.get("dataset", {}).get("sha256"):
        return dict(options)
    return {key: value for key, value in options.items() if key not in DATA_LOCATION_OPTIONS}


def options_label(spec: dict[str, Any], *, identity: bool = False) -> str:
    """System options as ``k=v``, then task options as ``task.k=v`` (with ``identity``, only
    those of `task_options`, as a leaderboard row shows them)."""
    options = task_options(spec) if identity else spec["task"].get("options")
    return " ".join(_pairs(spec["system"].get("options")) + _pairs(options, "task."))


def config_key(spec: dict[str, Any]) -> tuple[str, ...]:
    """What makes two runs one configuration (see the module's docstring)."""
    task = spec["task"]
    return (
        task["name"],
        json.dumps(task_options(spec), sort_keys=True),
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


def _serving(run: RunData) -> list[dict[str, Any]]:
    """summary.json's server time of the run's local fleets and endpoints, one entry per backend."""
    return list(((run.summary or {}).get("serving") or {}).values())


def _run_priced(run: RunData) -> bool:
    """Whether the run's cost is known: every server it ran has a price per hour, and something
    was priced at all (tokens of a priced API, or server time)."""
    serving = _serving(run)
    if any(entry.get("hour_price") is None for entry in serving):
        return False
    return bool(serving) or any(r.cost > 0 for r in run.records)


def _repeats(run: RunData) -> int:
    return int(run.spec.get("repeats") or 1)


def _ks(group: list[RunData]) -> list[int]:
    """The k > 1 to report for a configuration: 2, 5, 10 and the runs' repeats, up to the fewest
    repeats of any pooled run."""
    most = min(_repeats(run) for run in group)
    return sorted({2, 5, 10, *(_repeats(run) for run in group)} & set(range(2, most + 1)))


def _per_attempt(total: float, attempts: int) -> float | None:
    return round(total / attempts, 8) if attempts else None


def _row(group: list[RunData], pairs: list[tuple[int, int]], ks: list[int]) -> dict[str, Any]:
    first, last = group[0], group[-1]
    records = [r for run in group for r in run.records]
    rates = [c / n for n, c in pairs]
    low, high = bootstrap_mean_ci(rates) if rates else (None, None)
    row: dict[str, Any] = {
        "task": first.task,
        "system": first.spec["system"]["name"],
        "models": models_label(first.spec),
        "options": options_label(first.spec, identity=True),
        "runs": [run.run_id for run in group],
        "n": len(pairs),
        "attempts": sum(n for n, _ in pairs),
        "infra_errors": sum(r.status == "infra_error" for r in records),
        "pass@1": mean_over_samples(pairs, 1, pass_at_k),
        "pass@1_low": low,
        "pass@1_high": high,
    }
    allowed = set(_ks(group))
    for k in ks:  # None where a pooled run had fewer than k repeats (or a sample fewer scored attempts)
        row[f"pass@{k}"] = mean_over_samples(pairs, k, pass_at_k) if k in allowed else None
        row[f"pass^{k}"] = mean_over_samples(pairs, k, pass_hat_k) if k in allowed else None
    token_cost = sum(r.cost for r in records)
    server_cost = sum(entry.get("cost") or 0.0 for run in group for entry in _serving(run))
    tokens = sum(r.input_tokens + r.output_tokens for r in records)
    walls = [round(_wall_seconds(run), 3) for run in group]
    scores = [r.score for r in records if r.scored]
    return row | {
        "kind": group[0].spec["task"].get("kind", "code"),
        "avg_reward": sum(scores) / len(scores) if scores else None,
        "cost": round(token_cost + server_cost, 8),
        "search_cost": search_cost(first.spec),
        "token_cost": round(token_cost, 8),
        "server_cost": round(server_cost, 8),
        "server_hours": round(sum(entry.get("server_seconds") or 0.0 for run in group for entry in _serving(run)) / 3600, 6),
        "priced": all(_run_priced(run) for run in group),
        "cost_per_sample": _per_attempt(token_cost + server_cost, len(records)),
        "input_tokens": sum(r.input_tokens for r in records),
        "output_tokens": sum(r.output_tokens for r in records),
        "tokens_per_sample": _per_attempt(tokens, len(records)),
        "median_latency": statistics.median(r.latency for r in records) if records else None,
        "wall_seconds": walls,
        "seconds_per_sample": _per_attempt(sum(walls), len(records)),
        "sandbox": ", ".join(sorted({str(run.spec.get("resolved", {}).get("sandbox", {}).get("tier")) for run in group})),
        "harness": ", ".join(sorted({str(run.spec.get("versions", {}).get("harness")) for run in group})),
        "date": str(last.spec.get("ended_at") or last.spec.get("started_at") or "")[:10],
        "dataset": str(first.spec["task"].get("dataset", {}).get("sha256") or "")[:12],
        "work_by_role": _work(group),
    }


def _work(group: list[RunData]) -> list[dict[str, Any]]:
    """`work_by_role` of the pooled records, for the roles the system declared (every role of the
    records for runs whose run.json predates ``system.roles``)."""
    return work_by_role([r for run in group for r in run.records], group[0].spec["system"].get("roles"))


def build_rows(runs: list[RunData]) -> list[dict[str, Any]]:
    """One row per configuration, best pass@1 first within a task (then the cheaper one); a
    configuration's records are pooled per sample (node id). Every row has the same keys: the
    pass@k / pass^k of any row appear in all (None where a row's runs do not allow that k)."""
    groups: dict[tuple[str, ...], list[RunData]] = defaultdict(list)
    for run in runs:
        groups[config_key(run.spec)].append(run)
    ks = sorted(set().union(*(_ks(group) for group in groups.values())))
    rows = [_row(group, list(attempts_by_sample(r for run in group for r in run.records).values()), ks) for group in groups.values()]
    return sorted(rows, key=lambda r: (r["task"], -(r["pass@1"] if r["pass@1"] is not None else -1.0), r["cost"]))


def k_metrics(row: dict[str, Any]) -> list[str]:
    """The pass@k / pass^k keys of a row beyond pass@1, in order."""
    return [key for key in row if key[:5] in ("pass@", "pass^") and key[5:].isdigit() and key != "pass@1"]


# --- the table people read ----------------------------------------------------------------------


def _num(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _cost(row: dict[str, Any], key: str, spec: str) -> str:
    """A cost as people should read it: ``n/a`` when nothing was priced, ``>= x`` when a part was."""
    value = row[key]
    if value is None or row["priced"]:
        return _num(value, spec)
    return f">={value:{spec}}" if value > 0 else "n/a"


def wall_label(walls: list[float]) -> str:
    """Each run's wall seconds (up to three runs), else their median and total."""
    if len(walls) <= 3:
        return " + ".join(f"{w:.1f}" for w in walls)
    return f"median {statistics.median(walls):.1f}, total {sum(walls):.1f} ({len(walls)} runs)"


#: Headers of `display_table` that a narrow page may fold away (the HTML report does).
SECONDARY_COLUMNS = ("tokens in/out", "latency p50 s", "wall s per run", "sandbox", "harness", "date")
#: The column of `work_label`, shown when some row's system has more than one model role.
WORK_COLUMN = "work by role: calls, % of tokens"


def display_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(headers, cells): the leaderboard as a person reads it, numbers formatted. The pass@k
    columns are those that some row has a value for."""
    metrics = [key for key in (k_metrics(rows[0]) if rows else []) if any(row[key] is not None for row in rows)]
    if any(row.get("kind") == "dialog" for row in rows):
        metrics.append("avg_reward")  # tau-bench's average reward, beside its pass^k
    headers = ["task", "system", "models", "options", "runs", "samples", "attempts", "pass@1 [95% CI]", *metrics]
    searched = any(row.get("search_cost") is not None for row in rows)
    headers += ["cost $", *(["search $"] if searched else []), "$/sample", "tokens/sample"]
    with_work = any(len(row.get("work_by_role") or []) > 1 for row in rows)
    headers += [WORK_COLUMN] if with_work else []
    headers += SECONDARY_COLUMNS
    cells = []
    for row in rows:
        pass1 = "" if row["pass@1"] is None else f"{row['pass@1']:.3f} [{row['pass@1_low']:.3f}, {row['pass@1_high']:.3f}]"
        cells.append([
            row["task"], row["system"], row["models"], row["options"], str(len(row["runs"])), str(row["n"]), str(row["attempts"]), pass1,
            *(_num(row[key], ".3f") for key in metrics),
            _cost(row, "cost", ".4f"), *([_num(row.get("search_cost"), ".4f")] if searched else []),
            _cost(row, "cost_per_sample", ".5f"), _num(row["tokens_per_sample"], ".0f"),
            *([work_label(row.get("work_by_role") or [])] if with_work else []),
            f"{row['input_tokens']:,}/{row['output_tokens']:,}", _num(row["median_latency"], ".2f"),
            wall_label(row["wall_seconds"]), row["sandbox"], row["harness"], row["date"],
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
