"""Hand-written run records (run.json, samples.jsonl, transcripts/, summary.json) whose numbers
can be computed by hand, for the leaderboard, report, compare and show tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.store import record_key


@dataclass
class Attempt:
    sample: str  # sample id; the node id is task::sample
    status: str  # passed | failed | error | timeout | infra_error
    repeat: int = 0
    cost: float = 0.0
    latency: float = 1.0
    input_tokens: int = 100
    output_tokens: int = 10
    transcript: list[dict[str, Any]] = field(default_factory=list)


def write_run(
    results: Path,
    run_id: str,
    attempts: list[Attempt],
    *,
    task: str = "humaneval",
    system: str = "direct",
    backend: str = "fake:a",
    system_options: dict[str, str] | None = None,
    status: str = "finished",
    started_at: str = "2026-11-01T10:00:00+0000",
    ended_at: str = "2026-11-01T10:00:10+0000",
    wall_seconds: float = 10.0,
    sha256: str = "ab" * 32,
    repeats: int = 1,
    task_options: dict[str, str] | None = None,
    serving: dict[str, dict[str, Any]] | None = None,
) -> Path:
    run = results / run_id
    (run / "transcripts").mkdir(parents=True)
    node_ids = list(dict.fromkeys(f"{task}::{a.sample}" for a in attempts))
    spec = {
        "run_id": run_id,
        "status": status,
        "started_at": started_at,
        "ended_at": ended_at,
        "invocation": {"system": system, "task": task, "backend": backend, "options": {}},
        "system": {"name": system, "options": system_options or {}},
        "task": {"name": task, "version": "1", "kind": "code", "options": task_options or {}, "dataset": {"source": "fixture", "version": "1", "count": len(node_ids), "sha256": sha256}},
        "selection": {"selected": node_ids},
        "repeats": repeats,
        "seed": 0,
        "max_cost": None,
        "resolved": {"backends": {"default": {"spec": backend, "model": backend.partition(":")[2]}}, "sandbox": {"tier": "local"}},
        "versions": {"harness": "0.1.0", "python": "3.11", "plugins": {}},
        "git": {},
    }
    (run / "run.json").write_text(json.dumps(spec))
    lines = []
    for a in attempts:
        node_id = f"{task}::{a.sample}"
        key = record_key(node_id, a.repeat)
        (run / "transcripts" / f"{key}.json").write_text(json.dumps(a.transcript))
        lines.append({
            "node_id": node_id, "sample_id": a.sample, "task": task, "repeat": a.repeat, "seed": a.repeat,
            "status": a.status, "score": float(a.status == "passed"), "answer": f"answer to {a.sample}",
            "answer_details": {}, "output": f"scorer said {a.status}", "details": {}, "error": "boom" if a.status == "infra_error" else None,
            "roles": {"default": {"calls": 1, "input_tokens": a.input_tokens, "output_tokens": a.output_tokens, "tokens_estimated": False, "cost": a.cost, "latency": a.latency, "errors": 0}},
            "llm_calls": 1, "input_tokens": a.input_tokens, "output_tokens": a.output_tokens, "cost": a.cost,
            "latency": a.latency, "solve_seconds": a.latency, "score_seconds": 0.0, "transcript": f"transcripts/{key}.json",
        })  # fmt: skip
    (run / "samples.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = {"run_id": run_id, "status": status, "wall_seconds": wall_seconds} | ({"serving": serving} if serving is not None else {})
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def outcomes(spec: str, **common: Any) -> list[Attempt]:
    """Attempts from a compact spec: ``"s0:PP s1:PF s2:F-"`` gives s0 two passes (repeats 0, 1),
    s1 a pass then a failure, s2 a failure then an infra error (P passed, F failed, - infra_error)."""
    codes = {"P": "passed", "F": "failed", "-": "infra_error"}
    return [
        Attempt(sample, codes[code], repeat=repeat, **common)
        for item in spec.split()
        for sample, _, row in [item.partition(":")]
        for repeat, code in enumerate(row)
    ]


#: A transcript with what the report and `show --sample` must make readable: a model call with
#: a tool call, a document handed between roles, sandbox output, and a failed call.
RICH_TRANSCRIPT: list[dict[str, Any]] = [
    {
        "role": "engineer", "backend": "fake:a",
        "request": {"messages": [{"role": "system", "content": "You write code."}, {"role": "user", "content": "Write add(a, b)."}]},
        "response": {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "name": "run_tests", "arguments": "{\"file\": \"add.py\"}"}]},
        "usage": {"input_tokens": 12, "output_tokens": 5, "estimated": False}, "cost": 0.0005, "latency": 0.25,
    },
    {"event": "document", "from": "architect", "to": "engineer", "name": "API design", "content": "def add(a, b) -> int"},
    {"event": "sandbox", "argv": ["python3", "add.py"], "exit_code": 1, "stdout": "", "stderr": "AssertionError: add(1, 2) != 3"},
    {"role": "reviewer", "backend": "fake:a", "request": {"messages": [{"role": "user", "content": "Review it."}]}, "error": "HTTP 503 after 3 retries", "latency": 1.5},
]  # fmt: skip
