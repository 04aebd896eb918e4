"""Accuracy versus cost, one matplotlib chart per task: pass@1 with its interval against the cost
of a sample, with the Pareto front, inlined in the report as SVG and written as PDF and PNG by
``harness report --figures DIR``.

The x axis is the cost per sample (USD) when every configuration of the task has a price: a
priced API, or local servers with a price per server-hour. Where some configuration has none
(local models are free to call but not free to run), pass@1 is plotted against tokens per
sample, or, when no token was counted, wall seconds per sample; the axis label and the chart's
note say which. Axes are scaled to the data (log x when it spans more than two decades), and
the labels are placed by adjustText so that they overlap neither each other nor the points.
"""

from __future__ import annotations

import html
import io
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from adjustText import adjust_text
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FRONT_GREEN = "#2da44e"  # points on the Pareto front
FRONT_LINE = "#17803d"
POINT_GREY = "#8c959f"
INTERVAL_GREY = "#57606a"
INK = "#1d232a"
SIZE = (9.0, 5.0)  # inches; 100 px an inch in the page
#: Longest x range (max / min) drawn on a linear axis.
LINEAR_SPAN = 100.0
LABEL_CHARS = 34


@dataclass(frozen=True)
class Axis:
    key: str  # the leaderboard row's field
    label: str  # what the axis says
    unit: str  # for tooltips


COST = Axis("cost_per_sample", "cost per sample (USD)", "USD/sample")
TOKENS = Axis("tokens_per_sample", "tokens per sample (input + output)", "tokens/sample")
SECONDS = Axis("seconds_per_sample", "wall seconds per sample", "s/sample")


@dataclass
class Point:
    x: float
    y: float  # pass@1
    low: float  # its interval
    high: float
    label: str  # drawn next to the point
    title: str  # tooltip
    href: str  # in-page link


@dataclass
class TaskChart:
    task: str
    axis: Axis
    note: str  # why this axis, for the reader
    points: list[Point]

    def figure(self) -> Figure:
        return draw(self.points, self.axis, self.task)


def pareto_front(points: list[Point]) -> list[Point]:
    """The points that no other point dominates (as cheap or cheaper and as accurate or more,
    better on one), cheapest first; of identical points, the first."""
    front: list[Point] = []
    for point in sorted(points, key=lambda p: (p.x, -p.y)):
        if not front or point.y > front[-1].y:
            front.append(point)
    return front


def choose_axis(rows: list[dict[str, Any]]) -> tuple[Axis, str]:
    """The x axis for one task's rows, and a note saying why."""
    unpriced = [f"{row['system']} · {row['models']}" for row in rows if not row["priced"]]
    if not unpriced and any((row["cost_per_sample"] or 0) > 0 for row in rows):
        return COST, "x: cost per sample in USD (tokens at their price, plus server time at its price per hour)."
    if unpriced:
        why = f"no price for {', '.join(sorted(set(unpriced)))} (give [models.NAME] hour_price, or --hour-price for vllm:)"
    else:
        why = "every configuration cost $0"
    if all((row["tokens_per_sample"] or 0) > 0 for row in rows):
        return TOKENS, f"x: tokens per sample, not cost: {why}."
    return SECONDS, f"x: wall seconds per sample, not cost: {why}, and no tokens were counted."


def task_charts(rows: list[dict[str, Any]], href: Callable[[int], str]) -> list[TaskChart]:
    """One chart per task, of the rows with a pass@1; a point's label is its leaderboard number
    (``href(i)`` links row i), system and models."""
    by_task: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for i, row in enumerate(rows):
        if row["pass@1"] is not None:
            by_task[row["task"]].append((i, row))
    charts = []
    for task, numbered in by_task.items():
        axis, note = choose_axis([row for _, row in numbered])
        points = []
        for i, row in numbered:
            x = float(row[axis.key] or 0.0)
            name = f"{row['system']} · {row['models']}"
            label = f"{i + 1} {name}"
            points.append(Point(
                x=x, y=row["pass@1"], low=row["pass@1_low"], high=row["pass@1_high"],
                label=label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
                title=f"#{i + 1} {name} {row['options']}: pass@1 {row['pass@1']:.3f}, {x:.4g} {axis.unit}",
                href=href(i),
            ))  # fmt: skip
        charts.append(TaskChart(task, axis, note, points))
    return charts


def _x_limits(xs: list[float]) -> tuple[float, float, bool]:
    """(low, high, log scale) around the data, with a margin."""
    low, high = min(xs), max(xs)
    if low > 0 and high / low > LINEAR_SPAN:
        return low / 1.6, high * 1.6, True
    if high == low:
        pad = abs(high) * 0.25 or 1.0
        return max(0.0, low - pad) if low >= 0 else low - pad, high + pad, False
    pad = (high - low) * 0.12
    return (max(0.0, low - pad) if low >= 0 else low - pad), high + pad, False


def _y_limits(points: list[Point]) -> tuple[float, float]:
    """Around the points and their intervals, within [0, 1] plus a sliver so that a point at 0 or
    1 is not cut by the frame."""
    low = min(min(p.low, p.y) for p in points)
    high = max(max(p.high, p.y) for p in points)
    pad = max(0.05, (high - low) * 0.12)
    bottom, top = max(0.0, low - pad), min(1.0, high + pad)
    sliver = (top - bottom) * 0.04
    return bottom - sliver, top + sliver


def draw(points: list[Point], axis: Axis, task: str) -> Figure:
    """pass@1 (with its interval) against ``axis``; the front as a dashed staircase."""
    fig = Figure(figsize=SIZE, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # adjustText measures the labels with its renderer
    ax = fig.add_subplot()
    x_low, x_high, log = _x_limits([p.x for p in points])
    if log:
        ax.set_xscale("log")
    ax.set_xlim(x_low, x_high)
    y_limits = _y_limits(points)
    ax.set_ylim(*y_limits)
    ax.set_yticks([t for t in ax.get_yticks() if 0 <= t <= 1])  # no tick below 0 or above 1
    ax.set_ylim(*y_limits)
    ax.set_xlabel(axis.label, fontweight="bold", color=INK)
    ax.set_ylabel("pass@1 (95% bootstrap interval)", fontweight="bold", color=INK)
    ax.set_title(task, loc="left", color=INK)
    ax.grid(True, color="#e1e6eb", linewidth=0.8)
    ax.set_axisbelow(True)
    front = pareto_front(points)
    if front:
        xs = [front[0].x]
        ys = [front[0].y]
        for point in front[1:]:
            xs += [point.x, point.x]
            ys += [ys[-1], point.y]
        xs.append(x_high)
        ys.append(ys[-1])
        ax.plot(xs, ys, linestyle=(0, (6, 4)), color=FRONT_LINE, linewidth=2, label="Pareto front", zorder=2)
    on_front = {id(p) for p in front}
    for point in points:
        ax.plot([point.x, point.x], [point.low, point.high], color=INTERVAL_GREY, linewidth=2, zorder=3)
    colours = [FRONT_GREEN if id(p) in on_front else POINT_GREY for p in points]
    dots = ax.scatter([p.x for p in points], [p.y for p in points], s=110, c=colours, edgecolors=INK, linewidths=1, zorder=4)
    dots.set_urls([p.href for p in points])
    halo = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
    texts = [ax.text(p.x, p.y, p.label, fontsize=9, fontweight="bold", color=INK, zorder=5, bbox=halo) for p in points]
    for text, point in zip(texts, points, strict=True):
        text.set_url(point.href)
    if texts:
        fig.canvas.draw()  # the constrained layout fixes the axes before labels are placed
        adjust_text(texts, x=[p.x for p in points], y=[p.y for p in points], ax=ax,
                    expand=(1.3, 1.6), arrowprops={"arrowstyle": "-", "color": POINT_GREY, "lw": 0.8})  # fmt: skip
    return fig


def to_svg(fig: Figure, salt: str, label: str) -> str:
    """The figure as an ``<svg>`` element for inlining: text kept as text, ids unique per
    ``salt``, ``label`` its accessible name."""
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(out, format="svg")
    svg = out.getvalue()
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg[svg.index("<svg") :], flags=re.DOTALL)
    return svg.replace("<svg ", f'<svg class="chart" aria-label="{html.escape(label)}" ', 1)


def save(chart: TaskChart, folder: Path) -> list[Path]:
    """Write the chart as ``TASK.pdf`` and ``TASK.png`` (200 dpi) in ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    fig = chart.figure()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", chart.task)
    paths = [folder / f"{stem}.pdf", folder / f"{stem}.png"]
    for path in paths:
        fig.savefig(path, dpi=200)
    return paths
