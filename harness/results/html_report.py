"""`harness report`: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched).

It holds the leaderboard (secondary columns folded into one wrapping cell, so that it fits a
1,400 px window and a printed page), one accuracy-versus-cost chart per task (`harness.results.chart`),
for systems that a search made (an AFlow workflow) the search's score per round with its spread
(`harness.results.search`),
the runs pooled into each row, each run's facts and samples, and every sample's record and
transcript. Sample sections are ``hidden="until-found"``: folded away, yet found by the browser's
find-in-page and opened by a link to them. The markup is the Jinja2 template
``templates/report.html.j2`` (with ``report.css``), shipped as package data.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2

from harness import __version__
from harness.results import chart, search
from harness.results.leaderboard import (
    SECONDARY_COLUMNS,
    RunData,
    display_table,
    models_label,
    options_label,
    wall_label,
)
from harness.results.transcripts import Entry, clip, describe
from harness.types import Record

#: Leaderboard headers whose cells are numbers (right-aligned, never wrapped).
NUMERIC = ("runs", "samples", "attempts", "cost $", "search $", "$/sample", "tokens/sample")
#: The page's one column for every pass@k and pass^k beyond pass@1.
K_COLUMN = "pass@k / pass^k"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.results", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass
class _Sample:
    record: Record
    anchor: str
    fields: list[tuple[str, str]]
    entries: list[Entry]


@dataclass
class _Run:
    run_id: str
    anchor: str
    row_anchor: str
    status: str
    samples: int
    repeats: int
    wall: str
    started: str
    facts: list[tuple[str, Any]]
    records: list[_Sample] = field(default_factory=list)


def _sample(run: RunData, anchor: str, record: Record) -> _Sample:
    fields = [(label, clip(str(getattr(record, label)))) for label in ("error", "answer", "output") if getattr(record, label)]
    if record.details:
        fields.append(("details", clip(json.dumps(record.details, indent=2, default=str))))
    entries = [describe(raw) for raw in run.store.read_transcript(record.node_id, record.repeat)]
    return _Sample(record, anchor, fields, entries)


def _facts(run: RunData) -> list[tuple[str, Any]]:
    """The run's facts; sandbox, versions and git stay structured (the template draws tables)."""
    spec = run.spec
    dataset = spec["task"].get("dataset", {})
    serving = (run.summary or {}).get("serving") or {}
    return [
        ("status", f"{spec.get('status')}" + (f" ({spec['stop_reason']})" if spec.get("stop_reason") else "")),
        ("started / ended", f"{spec.get('started_at')} / {spec.get('ended_at')}"),
        ("system", f"{spec['system']['name']} {options_label(spec)}"),
        ("models", models_label(spec)),
        ("task", f"{spec['task']['name']} {spec['task'].get('version', '')}"),
        ("dataset", dataset),
        ("selection", f"{len(spec.get('selection', {}).get('selected', []))} samples × {spec.get('repeats')} repeats, seed {spec.get('seed')}"),
        ("server time", serving),
        ("model roles", (run.summary or {}).get("cost_by_role") or {}),
        ("sandbox", spec.get("resolved", {}).get("sandbox", {})),
        ("versions", spec.get("versions", {})),
        ("git", spec.get("git") or {}),
    ]


def _k_lines(by_header: dict[str, str], ks: list[str]) -> list[str]:
    """One line per k: ``k=5: 0.831 / 0.003`` (pass@k / pass^k), for the k this row has."""
    lines = []
    for k in ks:
        at, hat = by_header.get(f"pass@{k}", ""), by_header.get(f"pass^{k}", "")
        if at or hat:
            lines.append(f"k={k}: {at or '-'} / {hat or '-'}")
    return lines


def _board(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The leaderboard as the page draws it: the secondary columns folded into ``more``, and every
    pass@k / pass^k in one column with a line per k, so that the table keeps to the page."""
    headers, cells = display_table(rows)
    metrics = [h for h in headers if h.startswith(("pass@", "pass^")) and h[5:].isdigit()]
    ks = list(dict.fromkeys(h[5:] for h in metrics))
    primary = [h for h in headers if h not in SECONDARY_COLUMNS and h not in metrics]
    if ks:
        at = primary.index("pass@1 [95% CI]") + 1
        primary[at:at] = [K_COLUMN]
    board_rows = []
    for i, row_cells in enumerate(cells):
        by_header = dict(zip(headers, row_cells, strict=True)) | {K_COLUMN: _k_lines(dict(zip(headers, row_cells, strict=True)), ks)}
        board_rows.append({
            "anchor": f"cfg-{i}",
            "cells": [(h, by_header[h]) for h in primary],
            "more": [(h, by_header[h]) for h in SECONDARY_COLUMNS if by_header[h]],
        })  # fmt: skip
    return {"headers": primary, "numeric": NUMERIC, "rows": board_rows}


def render_report(runs: list[RunData], rows: list[dict[str, Any]], left_out: list[tuple[str, str]], source: str) -> str:
    """The whole page. ``rows`` are `build_rows(runs)`; ``left_out`` is what `load_runs` left out."""
    row_of = {run_id: i for i, row in enumerate(rows) for run_id in row["runs"]}
    by_id = {run.run_id: run for run in runs}
    page_runs = []
    for n, run in enumerate(runs):
        anchor = f"run-{n}"
        page_run = _Run(
            run_id=run.run_id,
            anchor=anchor,
            row_anchor=f"cfg-{row_of[run.run_id]}",
            status=str(run.spec.get("status")),
            samples=len(run.spec.get("selection", {}).get("selected", [])),
            repeats=int(run.spec.get("repeats") or 1),
            wall=wall_label([(run.summary or {}).get("wall_seconds") or 0.0]),
            started=str(run.spec.get("started_at", ""))[:16],
            facts=_facts(run),
        )
        page_run.records = [_sample(run, f"{anchor}-s{i}", record) for i, record in enumerate(run.records)]
        page_runs.append(page_run)
    runs_by_id = {page_run.run_id: page_run for page_run in page_runs}
    groups = [
        {
            "anchor": f"cfg-{i}",
            "number": i + 1,
            "title": f"{row['task']} · {row['system']} · {row['models']}" + (f" · {row['options']}" if row["options"] else ""),
            "runs": [runs_by_id[run_id] for run_id in row["runs"] if run_id in by_id],
        }
        for i, row in enumerate(rows)
    ]
    charts = [
        {"task": c.task, "note": c.note, "svg": chart.to_svg(c.figure(), f"chart-{k}", f"{c.task}: pass@1 versus {c.axis.label}")}
        for k, c in enumerate(chart.task_charts(rows, lambda i: f"#cfg-{i}"))
    ]
    searches = [
        {"id": found.get("id"), "method": found.get("method"), "best": found.get("best_round"), "cost": found.get("cost"), "rounds": len(found["rounds"]),
         "svg": chart.to_svg(search.figure(found), f"search-{k}", f"{found.get('method')} search {found.get('id')}: validation score per round")}
        for k, found in enumerate(search.distinct_searches(run.spec for run in runs))
    ]  # fmt: skip
    return _environment().get_template("report.html.j2").render(
        runs=page_runs,
        board=_board(rows),
        groups=groups,
        charts=charts,
        searches=searches,
        left_out=left_out,
        source=source,
        made=time.strftime("%Y-%m-%d %H:%M:%S%z"),
        version=__version__,
    )
