"""What a search amounts to: its rounds, best round, costs and times, as summary.json holds it
and as run.json's ``system.search`` repeats it for a workflow the search made (the shape that
`harness.results.search` reads for the report's chart and the leaderboard's search cost)."""

from __future__ import annotations

from typing import Any

from harness_aflow.folder import SearchFolder, SearchState

METHOD = "AFlow"


def search_summary(folder: SearchFolder, spec: dict[str, Any], state: SearchState) -> dict[str, Any]:
    """Rounds (scores per validation pass, mean, spread, parent, modification, optimizer and
    executor usage apart, seconds), the best round, and totals. Costs are USD; ``cost`` adds the
    priced server time of launched servers to the optimizer's and executor's tokens."""
    rows = [state.rounds[number].row() for number in sorted(state.rounds)]
    best = state.best()
    optimizer = sum(row["optimizer"]["cost"] for row in rows)
    executor = sum(row["executor"]["cost"] for row in rows)
    serving = state.server_time()
    server_costs = [entry.get("cost") for entry in serving.values()]
    server_cost = sum(cost for cost in server_costs if cost is not None)
    return {
        "method": METHOD,
        "id": folder.id,
        "folder": str(folder.path.resolve()),
        "status": spec.get("status"),
        "stop_reason": spec.get("stop_reason"),
        "task": spec.get("task"),
        "task_options": spec.get("task_options"),
        "samples": len(spec.get("node_ids") or []),
        "models": spec.get("backends"),
        "best_round": best.number if best else None,
        "best_mean": best.mean if best else None,
        "rounds": rows,
        "optimizer_cost": round(optimizer, 8),
        "executor_cost": round(executor, 8),
        "server_time": serving,
        "server_cost": round(server_cost, 8),
        "priced": None not in server_costs,
        "cost": round(optimizer + executor + server_cost, 8),
        "wall_seconds": round(sum(row["seconds"] for row in rows), 3),
    }
