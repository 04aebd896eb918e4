"""The asyncio scheduler: solve -> score -> record, for every (sample, repeat) not yet recorded.

`Run` holds what one invocation resolved (system, task, backends, sandbox, samples); `execute`
drives it. Failed samples are results; only infrastructure trouble (a backend or the sandbox
failing for good) makes a record ``infra_error``. Ctrl-C (or SIGTERM) stops scheduling, lets the
records already written stand, marks the run ``interrupted`` and closes every server and
container; ``harness run --resume RUN_ID`` then completes exactly the missing records.
"""

from __future__ import annotations

import asyncio
import signal
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.context import Budget, SampleContext
from harness.errors import BackendError, SandboxError
from harness.llm import Backend
from harness.metrics import mean_over_samples, pass_at_k, pass_hat_k, pass_hat_k_curve
from harness.plugins import Plugins
from harness.sandbox import Sandbox
from harness.store import RunStore
from harness.system import System
from harness.task import Task
from harness.types import Answer, Outcome, Sample, to_dict

OUTPUT_LIMIT = 4000  # characters of scorer output kept in a record


@dataclass
class Run:
    store: RunStore
    spec: dict[str, Any]
    plugins: Plugins
    system: System
    task: Task
    backends: dict[str, Backend]  # role -> backend
    sandbox: Sandbox
    samples: list[Sample]
    repeats: int = 1
    max_concurrency: int = 4
    seed: int | None = None
    budget: Budget = field(default_factory=Budget)
    started: float = field(default_factory=time.monotonic)
    stop_reason: str | None = None
    earlier_wall_seconds: float = 0.0  # spent by the invocations a --resume continues

    @property
    def id(self) -> str:
        return self.store.run_id

    def pending(self) -> list[tuple[Sample, int]]:
        """(sample, repeat) pairs with no record yet, in selection order."""
        done = {(r["node_id"], r["repeat"]) for r in self.store.read_records()}
        return [(s, k) for s in self.samples for k in range(self.repeats) if (s.node_id, k) not in done]


def _truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n… [{len(text) - limit} characters cut] …\n" + text[-limit // 2 :]


async def _attempt(run: Run, sample: Sample, repeat: int) -> dict[str, Any]:
    seed = None if run.seed is None else run.seed + repeat
    ctx = SampleContext(
        backends=run.backends,
        sandbox=run.sandbox,
        budget=run.budget,
        repeat=repeat,
        seed=seed,
        on_call=lambda call: run.plugins.hook.harness_llm_call(run=run, call=call),
    )
    started = time.monotonic()
    answer: Answer | None = None
    error: str | None = None
    solve_seconds = score_seconds = 0.0
    try:
        if run.task.kind == "dialog":  # the task plays the episode; the system is its agent
            answer = await run.task.play(sample, run.system, ctx)
        else:
            answer = await run.system.solve(sample, ctx)
        solve_seconds = time.monotonic() - started
        scored = time.monotonic()
        outcome = await run.task.score(sample, answer, ctx)
        score_seconds = time.monotonic() - scored
    except (BackendError, SandboxError) as exc:
        outcome = Outcome("infra_error", output=str(exc))
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # the system (or scorer) crashed on this sample: a result, recorded
        outcome = Outcome("error" if answer is None else "infra_error", output=traceback.format_exc(limit=8))
        error = f"{type(exc).__name__}: {exc}"
    if answer is not None and not solve_seconds:
        solve_seconds = time.monotonic() - started
    transcript_ref = run.store.write_transcript(sample.node_id, repeat, ctx.transcript)
    roles = {role: meter.as_dict() for role, meter in ctx.meters.items()}
    # The system's calls, tokens and cost; a task's own roles (simulated user, judge) stay in `roles`.
    system_meters = [meter for role, meter in roles.items() if role not in run.task.roles]
    return {
        "node_id": sample.node_id,
        "sample_id": sample.id,
        "task": sample.task,
        "repeat": repeat,
        "seed": seed,
        "status": outcome.status,
        "score": outcome.score,
        "answer": None if answer is None else answer.text,
        "answer_details": None if answer is None else to_dict(answer.details),
        "output": _truncate(outcome.output),
        "details": to_dict(outcome.details),
        "error": error,
        "roles": roles,
        "llm_calls": sum(m["calls"] for m in system_meters),
        "input_tokens": sum(m["input_tokens"] for m in system_meters),
        "output_tokens": sum(m["output_tokens"] for m in system_meters),
        "cost": round(sum(m["cost"] for m in system_meters), 8),
        "latency": round(time.monotonic() - started, 4),
        "solve_seconds": round(solve_seconds, 4),
        "score_seconds": round(score_seconds, 4),
        "transcript": transcript_ref,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


async def _worker(run: Run, queue: asyncio.Queue[tuple[Sample, int]]) -> None:
    while True:
        try:
            sample, repeat = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        if run.budget.exhausted:
            run.stop_reason = f"budget: spent ${run.budget.spent:.4f} of --max-cost ${run.budget.limit:.4f}"
            return
        record = await _attempt(run, sample, repeat)
        run.store.append_record(record)
        run.plugins.hook.harness_sample_finish(run=run, record=record)


async def _start_resources(run: Run) -> None:
    await run.sandbox.start()
    for backend in dict.fromkeys(run.backends.values()):
        await backend.start(run.store.path)


async def _close_resources(run: Run) -> None:
    for backend in dict.fromkeys(run.backends.values()):
        try:
            await asyncio.shield(backend.close())
        except Exception:  # closing must go on for the others
            traceback.print_exc()
    try:
        await asyncio.shield(run.sandbox.close())
    except Exception:
        traceback.print_exc()


async def execute(run: Run) -> dict[str, Any]:
    """Run every pending (sample, repeat); always write the summary and close resources."""
    status = "interrupted"
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        await _start_resources(run)
        run.spec["resolved"] = {
            "backends": {role: b.describe() for role, b in run.backends.items()},
            "sandbox": run.sandbox.describe(),
        }
        run.store.write_spec(run.spec)
        run.plugins.hook.harness_run_start(run=run)
        queue: asyncio.Queue[tuple[Sample, int]] = asyncio.Queue()
        for item in run.pending():
            queue.put_nowait(item)
        workers = [asyncio.create_task(_worker(run, queue)) for _ in range(max(1, run.max_concurrency))]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        status = "budget_exhausted" if run.stop_reason else "finished"
    except asyncio.CancelledError:
        run.stop_reason = "interrupted (Ctrl-C or SIGTERM): resume with `harness run --resume " + run.id + "`"
        raise
    except BaseException as exc:
        status = "crashed"
        run.stop_reason = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if main is not None:
            loop.remove_signal_handler(signal.SIGTERM)
        await _close_resources(run)
        summary = summarize(run, status)
        run.store.write_summary(summary)
        run.spec.update(status=status, stop_reason=run.stop_reason, ended_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        run.store.write_spec(run.spec)
        run.plugins.hook.harness_run_finish(run=run, summary=summary)
    return summary


def summarize(run: Run, status: str) -> dict[str, Any]:
    records = run.store.read_records()
    return summarize_records(records, repeats=run.repeats, kind=run.task.kind) | {
        "run_id": run.id,
        "results": str(run.store.path),
        "status": status,
        "stop_reason": run.stop_reason,
        "selected": len(run.samples),
        "wall_seconds": round(run.earlier_wall_seconds + time.monotonic() - run.started, 3),
    }


def summarize_records(records: list[dict[str, Any]], repeats: int = 1, kind: str = "code") -> dict[str, Any]:
    """Counts, pass@k / pass^k over scored attempts (infra errors are not the system's), tokens,
    cost (the system's roles; ``cost_by_role`` has every role, a task's simulated user and judge
    included). For dialog tasks, pass^k for every k up to the fewest scored attempts of any
    sample and ``avg_reward`` (the mean score of the scored attempts), as tau-bench reports them."""
    counts = Counter(r["status"] for r in records)
    per_sample: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        if r["status"] != "infra_error":
            per_sample[r["node_id"]].append(r["status"] == "passed")
    pairs = [(len(v), sum(v)) for v in per_sample.values()]
    metrics: dict[str, float | None] = {}
    for k in sorted({1, 2, 5, 10, repeats} & set(range(1, repeats + 1))):
        metrics[f"pass@{k}"] = mean_over_samples(pairs, k, pass_at_k)
        if k > 1:
            metrics[f"pass^{k}"] = mean_over_samples(pairs, k, pass_hat_k)
    if kind == "dialog":
        metrics |= {f"pass^{k}": value for k, value in pass_hat_k_curve(pairs).items()}
        scores = [r.get("score", 0.0) for r in records if r["status"] != "infra_error"]
        metrics["avg_reward"] = sum(scores) / len(scores) if scores else None
    return {
        "counts": {status: counts.get(status, 0) for status in ("passed", "failed", "error", "timeout", "infra_error")},
        "attempts": len(records),
        "samples_scored": len(per_sample),
        "metrics": metrics,
        "tokens": {
            "input": sum(r.get("input_tokens", 0) for r in records),
            "output": sum(r.get("output_tokens", 0) for r in records),
        },
        "llm_calls": sum(r.get("llm_calls", 0) for r in records),
        "cost": round(sum(r.get("cost", 0.0) for r in records), 8),
        "cost_by_role": _by_role(records),
    }


def _by_role(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Role -> calls, tokens in/out and cost (USD) summed over the records."""
    totals: dict[str, dict[str, Any]] = {}
    for record in records:
        for role, meter in (record.get("roles") or {}).items():
            total = totals.setdefault(role, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0})
            for key in ("calls", "input_tokens", "output_tokens"):
                total[key] += meter.get(key, 0)
            total["cost"] = round(total["cost"] + meter.get("cost", 0.0), 8)
    return totals
