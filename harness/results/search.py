"""Systems made by a search: what run.json says of the search, and its chart.

A system whose configuration came out of a search (an AFlow workflow that ``harness optimize``
found) describes that search in run.json under ``system.search``::

    {"method": "AFlow", "id": "...", "round": 4,          # the round this run's system is
     "best_round": 4, "cost": 0.42,                       # USD, the whole search
     "rounds": [{"round": 1, "scores": [0.6, 0.64], ...}, ...]}   # validation score per pass

The leaderboard shows the search's cost beside the run's own (`search_cost`), and the report
draws each search's score per round with its spread (`figure`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INK = "#1d232a"
MEAN_BLUE = "#0b5cad"
PASS_GREY = "#8c959f"
CHOSEN_GREEN = "#2da44e"
SIZE = (9.0, 4.2)  # inches


def search_of(spec: dict[str, Any]) -> dict[str, Any] | None:
    """run.json's ``system.search``, or None for a system that no search made."""
    search = spec.get("system", {}).get("search")
    return search if isinstance(search, dict) and search.get("rounds") is not None else None


def search_cost(spec: dict[str, Any]) -> float | None:
    """The USD the search behind the run's system cost, or None."""
    search = search_of(spec)
    return None if search is None or search.get("cost") is None else float(search["cost"])


def distinct_searches(specs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One description per search (method and id), the one with the most rounds (the latest)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for spec in specs:
        search = search_of(spec)
        if search is None:
            continue
        key = (str(search.get("method")), str(search.get("id")))
        if key not in found or len(search["rounds"]) >= len(found[key]["rounds"]):
            found[key] = search
    return [found[key] for key in sorted(found)]


def figure(search: dict[str, Any], chosen: Iterable[int] = ()) -> Figure:
    """Validation score per round: every pass as a grey dot, the mean as a line, the spread
    (lowest to highest pass) as a bar; the rounds in ``chosen`` (and the best one) ringed."""
    from matplotlib.backends.backend_agg import (
        FigureCanvasAgg,  # matplotlib loads only to draw
    )
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rounds = [row for row in search["rounds"] if row.get("scores")]
    numbers = [row["round"] for row in rounds]
    for row in rounds:
        scores = row["scores"]
        ax.scatter([row["round"]] * len(scores), scores, s=14, color=PASS_GREY, zorder=3, label="one validation pass" if row is rounds[0] else None)
        ax.plot([row["round"]] * 2, [min(scores), max(scores)], color=PASS_GREY, linewidth=2, zorder=2)
    means = [statistics.fmean(row["scores"]) for row in rounds]
    ax.plot(numbers, means, marker="o", color=MEAN_BLUE, linewidth=1.6, label="mean of the validation passes", zorder=4)
    ringed = set(chosen) | ({search["best_round"]} if search.get("best_round") is not None else set())
    for number, mean in zip(numbers, means, strict=True):
        if number in ringed:
            ax.scatter([number], [mean], s=160, facecolors="none", edgecolors=CHOSEN_GREEN, linewidths=2, zorder=5)
    failed = [row["round"] for row in search["rounds"] if not row.get("scores")]
    ax.set_xlim(0.5, max([*numbers, *failed, 1]) + 0.5)
    ax.set_xticks(sorted({*numbers, *failed}))
    ax.set_ylim(-0.04, 1.04)
    ax.set_xlabel("round", fontweight="bold", color=INK)
    ax.set_ylabel("validation score (pass@1)", fontweight="bold", color=INK)
    title = f"{search.get('method')} search {search.get('id')}"
    if failed:
        title += f" (no workflow in round{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))})"
    ax.set_title(title, loc="left", color=INK, fontsize=10)
    ax.grid(True, color="#e1e6eb", linewidth=0.8)
    ax.set_axisbelow(True)
    if rounds:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig


def save(search: dict[str, Any], folder: Path, stem: str | None = None) -> list[Path]:
    """Write the chart as ``STEM.svg`` and ``STEM.png`` (200 dpi) in ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or re.sub(r"[^A-Za-z0-9._-]+", "_", f"search-{search.get('id')}")
    fig = figure(search)
    paths = [folder / f"{stem}.svg", folder / f"{stem}.png"]
    for path in paths:
        fig.savefig(path, dpi=200)
    return paths
