"""Accuracy versus cost as an inline SVG scatter plot, with the Pareto front drawn through it."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 50  # margins around the plot area


@dataclass
class Point:
    x: float  # cost per sample, USD
    y: float  # pass@1
    low: float  # its interval
    high: float
    label: str  # short mark drawn next to the point
    title: str  # tooltip
    href: str  # in-page link


def pareto_front(points: list[Point]) -> list[Point]:
    """The points that no other point dominates (as cheap or cheaper and as accurate or more,
    better on one), cheapest first; of identical points, the first."""
    front: list[Point] = []
    for point in sorted(points, key=lambda p: (p.x, -p.y)):
        if not front or point.y > front[-1].y:
            front.append(point)
    return front


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def scatter_svg(points: list[Point], x_label: str = "cost per sample (USD)", y_label: str = "pass@1") -> str:
    """The chart as an ``<svg>`` element; y runs over [0, 1], x from 0 to the dearest point."""
    x_max = max((p.x for p in points), default=0.0) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + plot_w * x / x_max

    def sy(y: float) -> float:
        return TOP + plot_h * (1 - y)

    size = f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"'
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" {size} role="img" aria-label="{escape(y_label)} versus {escape(x_label)}">']
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="plot"/>')
    for y in _ticks(0.0, 1.0):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.2f}</text>')
    for x in _ticks(0.0, x_max):
        parts.append(f'<text x="{sx(x):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{x:.3g}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle" class="axis">{escape(x_label)}</text>')
    parts.append(f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" class="axis" transform="rotate(-90 16 {TOP + plot_h / 2})">{escape(y_label)}</text>')
    front = pareto_front(points)
    if front:
        # the front as a staircase: from each front point, flat to the next cost, then up
        path = [f"M{sx(front[0].x):.1f},{sy(front[0].y):.1f}"]
        for point in front[1:]:
            path.append(f"H{sx(point.x):.1f}V{sy(point.y):.1f}")
        path.append(f"H{sx(x_max):.1f}")
        parts.append(f'<path d="{"".join(path)}" class="front"/>')
    on_front = {id(p) for p in front}
    for point in points:
        css = "point front-point" if id(point) in on_front else "point"
        parts.append(f'<a href="{escape(point.href)}"><title>{escape(point.title)}</title>')
        parts.append(f'<line x1="{sx(point.x):.1f}" x2="{sx(point.x):.1f}" y1="{sy(point.low):.1f}" y2="{sy(point.high):.1f}" class="ci"/>')
        parts.append(f'<circle cx="{sx(point.x):.1f}" cy="{sy(point.y):.1f}" r="7" class="{css}"/>')
        parts.append(f'<text x="{sx(point.x) + 10:.1f}" y="{sy(point.y) - 8:.1f}" class="mark">{escape(point.label)}</text></a>')
    parts.append("</svg>")
    return "\n".join(parts)
