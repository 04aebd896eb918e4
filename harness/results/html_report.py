"""`harness report`: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched).

It holds the leaderboard, accuracy versus cost with the Pareto front, and a drill-down: each
leaderboard row links to its runs, each run lists its samples, each sample links to its record
and transcript. Sample sections are shown only while they are the page's target (``:target``),
so the page stays short however many transcripts it carries.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from harness import __version__
from harness.results.chart import Point, scatter_svg
from harness.results.leaderboard import (
    RunData,
    display_table,
    models_label,
    options_label,
)
from harness.results.transcripts import clip, describe
from harness.types import Record

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1280px; padding: 0 16px; color: #1d232a; background: #fff; }
h1 { font-size: 22px; } h3 { font-size: 16px; margin-top: 28px; } h2 { font-size: 18px; border-bottom: 2px solid #d5dbe1; padding-bottom: 4px; margin-top: 36px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d5dbe1; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f6; } tr:target { background: #fff4c2; }
pre { background: #f5f7f9; border: 1px solid #e1e6eb; padding: 8px; white-space: pre-wrap; word-break: break-word; max-height: 480px; overflow: auto; margin: 4px 0 10px; }
.passed { color: #17803d; font-weight: 600; } .failed, .error, .timeout { color: #b42318; font-weight: 600; } .infra_error { color: #9a6700; font-weight: 600; }
.sample { display: none; border: 2px solid #9fb3c8; padding: 8px 16px; margin: 16px 0; }
.sample:target { display: block; }
.entry { border-left: 4px solid #9fb3c8; padding-left: 10px; margin: 12px 0; }
.entry.event { border-color: #8250df; } .entry.failed-call { border-color: #b42318; }
.entry h4 { margin: 4px 0; font-size: 13px; } .label { font-size: 12px; color: #57606a; margin-top: 6px; }
.note { color: #57606a; }
svg.chart text { font: 12px system-ui, sans-serif; fill: #1d232a; } svg.chart .axis { font-weight: 600; }
svg.chart .plot { fill: #fbfcfd; stroke: #9fb3c8; } svg.chart .grid { stroke: #e1e6eb; }
svg.chart .front { fill: none; stroke: #17803d; stroke-width: 2; stroke-dasharray: 6 4; }
svg.chart .ci { stroke: #57606a; stroke-width: 2; }
svg.chart .point { fill: #8c959f; stroke: #1d232a; } svg.chart .front-point { fill: #2da44e; }
svg.chart .mark { font-weight: 700; }
"""


def _table(headers: list[str], rows: list[list[str]], row_ids: list[str] | None = None) -> str:
    """An HTML table; cells are HTML already (escape text before)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = []
    for i, cells in enumerate(rows):
        row_id = f' id="{row_ids[i]}"' if row_ids else ""
        body.append(f"<tr{row_id}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _link(href: str, text: str) -> str:
    return f'<a href="#{escape(href)}">{escape(text)}</a>'


class _Anchors:
    """Ids of the page's sections: cfg-N (leaderboard rows), run-N, run-N-sM (samples)."""

    def __init__(self, runs: list[RunData], rows: list[dict[str, Any]]) -> None:
        self.run = {run.run_id: f"run-{i}" for i, run in enumerate(runs)}
        self.row = {run_id: f"cfg-{i}" for i, row in enumerate(rows) for run_id in row["runs"]}

    def sample(self, run: RunData, index: int) -> str:
        return f"{self.run[run.run_id]}-s{index}"


def _leaderboard(rows: list[dict[str, Any]], anchors: _Anchors) -> str:
    headers, cells = display_table(rows)
    linked = [
        [str(i + 1), *(escape(c) for c in row_cells), " ".join(_link(anchors.run[r], r) for r in row["runs"])]
        for i, (row, row_cells) in enumerate(zip(rows, cells, strict=True))
    ]
    ids = [anchors.row[row["runs"][0]] for row in rows]
    return _table(["#", *map(escape, headers), "runs"], linked, ids)


def _chart(rows: list[dict[str, Any]], anchors: _Anchors) -> str:
    points = [
        Point(
            x=row["cost_per_sample"] or 0.0,
            y=row["pass@1"],
            low=row["pass@1_low"],
            high=row["pass@1_high"],
            label=str(i + 1),
            title=f"#{i + 1} {row['system']} · {row['models']} · {row['task']}: pass@1 {row['pass@1']:.3f}, ${row['cost_per_sample'] or 0:.5f}/sample",
            href="#" + anchors.row[row["runs"][0]],
        )
        for i, row in enumerate(rows)
        if row["pass@1"] is not None
    ]
    if not points:
        return '<p class="note">No configuration has a scored sample: nothing to plot.</p>'
    note = (
        '<p class="note">Numbers are leaderboard rows; bars are 95% bootstrap intervals; the dashed line is the '
        "Pareto front (green points: no other configuration is both cheaper and more accurate).</p>"
    )
    return scatter_svg(points) + note


def _run_facts(run: RunData) -> list[list[str]]:
    spec = run.spec
    dataset = spec["task"].get("dataset", {})
    facts = [
        ("status", f"{spec.get('status')}" + (f" ({spec['stop_reason']})" if spec.get("stop_reason") else "")),
        ("started / ended", f"{spec.get('started_at')} / {spec.get('ended_at')}"),
        ("system", f"{spec['system']['name']} {options_label(spec)}"),
        ("models", models_label(spec)),
        ("task", f"{spec['task']['name']} {spec['task'].get('version', '')} · dataset {dataset.get('source', '')} {dataset.get('version', '')} sha256 {dataset.get('sha256', '')}"),
        ("selection", f"{len(spec.get('selection', {}).get('selected', []))} samples × {spec.get('repeats')} repeats, seed {spec.get('seed')}"),
        ("sandbox", json.dumps(spec.get("resolved", {}).get("sandbox", {}))),
        ("versions", json.dumps(spec.get("versions", {}))),
        ("git", json.dumps(spec.get("git", {}))),
    ]
    return [[escape(k), escape(v)] for k, v in facts]


def _run(run: RunData, anchors: _Anchors) -> str:
    rows = [
        [
            _link(anchors.sample(run, i), r.node_id),
            str(r.repeat),
            _status(r),
            escape(str(r.score)),
            str(r.llm_calls),
            f"{r.input_tokens}+{r.output_tokens}",
            f"{r.cost:.5f}",
            f"{r.latency:.2f}",
            escape((r.error or "")[:80]),
        ]
        for i, r in enumerate(run.records)
    ]
    back = _link(anchors.row[run.run_id], "leaderboard row")
    return (
        f'<section id="{anchors.run[run.run_id]}"><h3>Run {escape(run.run_id)}</h3><p>{back}</p>'
        + _table(["field", "value"], _run_facts(run))
        + _table(["sample", "repeat", "status", "score", "calls", "tokens", "cost $", "seconds", "error"], rows)
        + "</section>"
    )


def _status(record: Record) -> str:
    return f'<span class="{escape(record.status)}">{escape(record.status)}</span>'


def _pre(label: str, text: str) -> str:
    return f'<div class="label">{escape(label)}</div><pre>{escape(text)}</pre>'


def _sample(run: RunData, index: int, record: Record, anchors: _Anchors) -> str:
    head = f"{record.node_id} · repeat {record.repeat} · run {run.run_id}"
    parts = [f'<section class="sample" id="{anchors.sample(run, index)}"><h3>{escape(head)}</h3>']
    parts.append(f"<p>{_link(anchors.run[run.run_id], 'back to the run')} · status {_status(record)} · score {escape(str(record.score))}</p>")
    for label in ("error", "answer", "output"):
        if getattr(record, label):
            parts.append(_pre(label, clip(str(getattr(record, label)))))
    if record.details:
        parts.append(_pre("details", clip(json.dumps(record.details, indent=2, default=str))))
    transcript = run.store.read_transcript(record.node_id, record.repeat)
    parts.append(f"<h4>Transcript: {len(transcript)} entries</h4>")
    for number, raw in enumerate(transcript, 1):
        entry = describe(raw)
        css = "entry event" if entry.kind == "event" else "entry failed-call" if entry.failed else "entry"
        parts.append(f'<div class="{css}"><h4>{number}. {escape(entry.title)}</h4>' + "".join(_pre(b.label, b.text) for b in entry.blocks) + "</div>")
    parts.append("</section>")
    return "".join(parts)


def render_report(runs: list[RunData], rows: list[dict[str, Any]], left_out: list[tuple[str, str]], source: str) -> str:
    """The whole page. ``rows`` are `build_rows(runs)`; ``left_out`` is what `load_runs` left out."""
    anchors = _Anchors(runs, rows)
    skipped = "".join(f"<li>{escape(run_id)}: {escape(reason)}</li>" for run_id, reason in left_out)
    body = [
        "<h1>mas-harness report</h1>",
        f'<p class="note">{len(runs)} finished runs from {escape(source)}, {len(rows)} configurations; made {time.strftime("%Y-%m-%d %H:%M:%S%z")} by mas-harness {__version__}. '
        "pass@1 is the mean over samples of the share of passing attempts; its interval is a 95% percentile bootstrap over samples.</p>",
        f'<p class="note">Left out (not finished):</p><ul>{skipped}</ul>' if left_out else "",
        '<h2 id="leaderboard">Leaderboard</h2>',
        _leaderboard(rows, anchors),
        '<h2 id="chart">Accuracy versus cost</h2>',
        _chart(rows, anchors),
        '<h2 id="runs">Runs</h2>',
        *(_run(run, anchors) for run in runs),
        *(_sample(run, i, record, anchors) for run in runs for i, record in enumerate(run.records)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mas-harness report</title><style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
