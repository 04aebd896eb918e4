"""The accuracy-versus-cost charts: which x axis, axes scaled to the data, labels that do not
overlap, the Pareto front."""

from __future__ import annotations

import itertools

import pytest

from harness.results.chart import (
    COST,
    SECONDS,
    TOKENS,
    Point,
    choose_axis,
    draw,
    pareto_front,
    task_charts,
)


def row(system: str, pass1: float | None, *, cost: float = 0.0, priced: bool = True, tokens: float = 100.0, seconds: float = 2.0, task: str = "humaneval") -> dict:
    return {
        "task": task, "system": system, "models": "m", "options": "", "pass@1": pass1,
        "pass@1_low": None if pass1 is None else max(0.0, pass1 - 0.1), "pass@1_high": None if pass1 is None else min(1.0, pass1 + 0.1), "priced": priced, "cost_per_sample": cost, "tokens_per_sample": tokens,
        "seconds_per_sample": seconds,
    }  # fmt: skip


def point(x: float, y: float, label: str = "p") -> Point:
    return Point(x, y, max(0.0, y - 0.1), min(1.0, y + 0.1), label, label, "#x")


def test_the_axis_is_cost_only_when_every_configuration_has_a_price():
    assert choose_axis([row("a", 0.5, cost=0.01), row("b", 0.6, cost=0.02)])[0] == COST
    axis, note = choose_axis([row("a", 0.5, cost=0.01), row("b", 0.6, priced=False)])
    assert axis == TOKENS and "no price for b · m" in note and "hour_price" in note
    axis, note = choose_axis([row("a", 0.5, priced=False, tokens=0.0), row("b", 0.6, priced=False)])
    assert axis == SECONDS and "no tokens were counted" in note
    assert choose_axis([row("a", 0.5, cost=0.0), row("b", 0.6, cost=0.0)])[0] == TOKENS  # all $0: cost says nothing


def test_one_chart_per_task_with_leaderboard_numbers():
    rows = [row("a", 0.5, priced=False, tokens=80), row("b", 0.7, cost=0.1), row("c", 0.4, task="mbpp", cost=0.2), row("d", None, task="tau2")]
    charts = task_charts(rows, lambda i: f"#cfg-{i}")
    assert [(c.task, c.axis) for c in charts] == [("humaneval", TOKENS), ("mbpp", COST)]  # tau2: nothing scored
    assert [(p.label, p.x, p.href) for p in charts[0].points] == [("1 a · m", 80.0, "#cfg-0"), ("2 b · m", 100.0, "#cfg-1")]


@pytest.mark.parametrize(
    ("xs", "log", "inside"),
    [
        ([1000.0, 1100.0, 1050.0], False, (980.0, 1120.0)),  # not from 0: the points spread over the axis
        ([0.001, 0.5], True, (0.0006, 0.8)),  # over two decades: log
        ([7.0, 7.0], False, (5.0, 9.0)),  # one x: still a window around it
    ],
)
def test_axes_are_scaled_to_the_data(xs, log, inside):
    points = [point(x, 0.3 + 0.1 * i) for i, x in enumerate(xs)]
    fig = draw(points, TOKENS, "t")
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    assert (ax.get_xscale() == "log") == log
    assert inside[0] <= low < min(xs) and max(xs) < high <= inside[1]
    y_low, y_high = ax.get_ylim()
    lowest, highest = min(p.low for p in points), max(p.high for p in points)
    assert y_low < lowest and highest < y_high and y_high - y_low < highest - lowest + 0.25  # the intervals, with a margin
    assert all(0 <= tick <= 1 for tick in ax.get_yticks())


CLUSTERS = {
    "identical": [(100.0, 0.5)] * 4,
    "close": [(100.0, 0.50), (101.0, 0.51), (102.0, 0.49), (100.5, 0.52), (101.5, 0.5), (99.0, 0.48)],
    "spread and close": [(50.0, 0.1), (51.0, 0.12), (300.0, 0.5), (305.0, 0.5), (1000.0, 0.9), (990.0, 0.88)],
}


@pytest.mark.parametrize("name", CLUSTERS)
def test_labels_overlap_neither_each_other_nor_leave_the_figure(name):
    points = [point(x, y, f"{i + 1} direct · llamacpp:smollm2") for i, (x, y) in enumerate(CLUSTERS[name])]
    fig = draw(points, TOKENS, "t")
    renderer = fig.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in fig.axes[0].texts]
    assert len(boxes) == len(points)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"labels overlap: {a} and {b}"
    figure_box = fig.bbox
    assert all(figure_box.x0 <= b.x0 and b.x1 <= figure_box.x1 and figure_box.y0 <= b.y0 and b.y1 <= figure_box.y1 for b in boxes)


def test_pareto_front_is_the_undominated_staircase():
    a, b, c, d, e = point(1, 0.2, "a"), point(2, 0.5, "b"), point(2, 0.4, "c"), point(3, 0.5, "d"), point(4, 0.9, "e")
    assert pareto_front([e, d, c, b, a]) == [a, b, e]  # c is worse than b at its cost; d no better than b, dearer
    assert pareto_front([point(1, 0.5, "x"), point(1, 0.5, "y")])[0].label == "x"
