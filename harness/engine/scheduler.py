"""The asyncio scheduler: solve -> score -> record, for every (sample, repeat) not yet recorded.

`Run` holds what one invocation resolved (system, task, resources, samples); `execute` drives
it. Failed samples are results; only infrastructure trouble (a backend or the sandbox failing
for good) makes a record ``infra_error``, and ``max_infra_errors`` of those stop the run
(resumable). Ctrl-C (or SIGTERM) stops scheduling, lets the records already written stand,
marks the run ``interrupted`` and closes every server and container; ``harness run --resume
RUN_ID`` then completes exactly the missing records. The run's lock (`harness.runlock`), taken
when the run was created or resumed, is released after the last write to run.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.config import AUTO
from harness.context import PHASE_EVENT, Budget, SampleContext
from harness.errors import BackendError, SandboxError
from harness.plugins import Plugins
from harness.resources import Resources, add_serving
from harness.results.summary import summarize_records
from harness.store import RunStore
from harness.system import System
from harness.task import Task
from harness.types import Answer, Outcome, Record, RunInfo, Sample, to_dict

OUTPUT_LIMIT = 4000  # characters of scorer output kept in a record


@dataclass
class Run:
    store: RunStore
    spec: dict[str, Any]
    plugins: Plugins
    system: System
    task: Task
    resources: Resources
    samples: list[Sample]
    repeats: int = 1
    max_concurrency: int | str = 4  # samples in flight, or "auto" (resolved once the resources have started)
    max_infra_errors: int | None = None  # stop scheduling after this many infra_error records
    seed: int | None = None
    budget: Budget = field(default_factory=Budget)
    started: float = field(default_factory=time.monotonic)
    stop_reason: str | None = None
    infra_errors: int = 0
    earlier_wall_seconds: float = 0.0  # spent by the invocations a --resume continues
    earlier_serving: dict[str, dict[str, Any]] = field(default_factory=dict)  # their server time
    #: The resources are held open by the command that started the run (`harness.subruns`): the
    #: run neither starts nor closes them, leaves SIGTERM to that command, and reports no server
    #: time (the servers are the command's, their time is its to account).
    held_resources: bool = False

    @property
    def id(self) -> str:
        return self.store.run_id

    def pending(self) -> list[tuple[Sample, int]]:
        """(sample, repeat) pairs with no verdict yet, in selection order: never attempted, or
        attempted and lost to an infrastructure error (which is never the system's verdict)."""
        done = {(r.node_id, r.repeat) for r in self.store.read_records() if r.scored}
        return [(s, k) for s in self.samples for k in range(self._attempts(s)) if (s.node_id, k) not in done]

    def _attempts(self, sample: Sample) -> int:
        fixed = self.system.attempts(sample)
        return self.repeats if fixed is None else min(fixed, self.repeats)

    def info(self, pending: int) -> RunInfo:
        """The read-only view that lifecycle hooks receive."""
        return RunInfo(
            run_id=self.id,
            path=str(self.store.path),
            system=self.system.name,
            task=self.task.name,
            sandbox=self.resources.sandbox.name,
            samples=len(self.samples),
            repeats=self.repeats,
            pending=pending,
            spec=dict(self.spec),
        )


def _truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n… [{len(text) - limit} characters cut] …\n" + text[-limit // 2 :]


def _phase_reporter(run: Run, info: RunInfo, sample: Sample, repeat: int) -> Callable[[dict[str, Any]], None]:
    """The context's ``on_event``: a ``phase`` event fires `harness_sample_phase`."""

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == PHASE_EVENT:
            run.plugins.hook.harness_sample_phase(run=info, node_id=sample.node_id, repeat=repeat, phase=str(event.get("name", "")))

    return on_event


async def _attempt(run: Run, info: RunInfo, sample: Sample, repeat: int) -> tuple[Record, list[dict[str, Any]]]:
    seed = None if run.seed is None else run.seed + repeat
    ctx = SampleContext(
        backends=run.resources.backends,
        sandbox=run.resources.sandbox,
        budget=run.budget,
        prices=run.resources.prices,
        repeat=repeat,
        seed=seed,
        on_call=lambda call: run.plugins.hook.harness_llm_call(run=info, call=call),
        on_event=_phase_reporter(run, info, sample, repeat),
    )
    run.plugins.hook.harness_sample_start(run=info, node_id=sample.node_id, repeat=repeat)
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
    transcript_ref = run.store.transcript_ref(sample.node_id, repeat)
    roles = {role: meter.as_dict() for role, meter in ctx.meters.items()}
    # The system's calls, tokens and cost; a task's own roles (simulated user, judge) stay in `roles`.
    system_meters = [meter for role, meter in roles.items() if role not in run.task.roles]
    record = Record(
        node_id=sample.node_id,
        sample_id=sample.id,
        task=sample.task,
        repeat=repeat,
        seed=seed,
        status=outcome.status,
        score=outcome.score,
        answer=None if answer is None else answer.text,
        answer_details=None if answer is None else to_dict(answer.details),
        output=_truncate(outcome.output),
        details=to_dict(outcome.details),
        error=error,
        tamper=list(outcome.tamper),
        roles=roles,
        llm_calls=sum(m["calls"] for m in system_meters),
        input_tokens=sum(m["input_tokens"] for m in system_meters),
        output_tokens=sum(m["output_tokens"] for m in system_meters),
        cost=round(sum(m["cost"] for m in system_meters), 8),
        latency=round(time.monotonic() - started, 4),
        solve_seconds=round(solve_seconds, 4),
        score_seconds=round(score_seconds, 4),
        transcript=transcript_ref,
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    return record, ctx.transcript


class Committer:
    """Group commit of finished attempts: workers hand over their record and transcript and wait
    until both are durable; one task writes whatever has queued up since its last write, in a
    thread, with one flush to disk (RunStore.commit). So the event loop never blocks on the disk,
    and the price of durability is paid once per batch instead of twice per sample."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._queue: list[tuple[Record, list[dict[str, Any]], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def commit(self, record: Record, transcript: list[dict[str, Any]]) -> None:
        """Return once ``record`` and ``transcript`` are on disk; raises what writing raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((record, transcript, done))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        await asyncio.shield(done)  # a cancelled worker must not cancel the others' batch

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self.store.commit, [(record, transcript) for record, transcript, _ in batch])
            except Exception as exc:  # the disk failed: every waiter hears it
                for *_, done in batch:
                    done.set_exception(exc)
            else:
                for *_, done in batch:
                    done.set_result(None)
        self._task = None  # idle: the next commit starts a new writer

    async def close(self) -> None:
        """Return once everything handed over is on disk (also when the run was cancelled)."""
        while self._task is not None:
            await asyncio.shield(self._task)


def _stop_reason(run: Run) -> str | None:
    """Why no further sample may start, or None."""
    if run.budget.exhausted:
        return f"budget: spent ${run.budget.spent:.4f} of --max-cost ${run.budget.limit:.4f}"
    if run.max_infra_errors is not None and run.infra_errors >= run.max_infra_errors:
        return (
            f"{run.infra_errors} infrastructure error(s) reached --max-infra-errors {run.max_infra_errors}: "
            f"fix the backend or sandbox, then `harness run --resume {run.id}`"
        )
    return None


async def _worker(run: Run, info: RunInfo, queue: asyncio.Queue[tuple[Sample, int]], committer: Committer) -> None:
    while True:
        try:
            sample, repeat = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        reason = _stop_reason(run)
        if reason:
            run.stop_reason = reason
            return
        record, transcript = await _attempt(run, info, sample, repeat)
        await committer.commit(record, transcript)
        run.infra_errors += record.status == "infra_error"
        run.plugins.hook.harness_sample_finish(run=info, record=record)


async def execute(run: Run) -> dict[str, Any]:
    """Run every pending (sample, repeat); always write the summary and close resources."""
    status = "interrupted"
    loop = asyncio.get_running_loop()
    main = None if run.held_resources else asyncio.current_task()
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    info = run.info(pending=0)
    try:
        async with contextlib.nullcontext(run.resources) if run.held_resources else run.resources.opened(run.store.path):
            concurrency = resolved_concurrency(run)
            run.spec["resolved"] = {
                "backends": {role: b.describe() for role, b in run.resources.backends.items()},
                "sandbox": run.resources.sandbox.describe(),
                "max_concurrency": concurrency,
            }
            run.store.write_spec(run.spec)
            pending = run.pending()
            info = run.info(pending=len(pending))
            run.plugins.hook.harness_run_start(run=info)
            queue: asyncio.Queue[tuple[Sample, int]] = asyncio.Queue()
            for item in pending:
                queue.put_nowait(item)
            committer = Committer(run.store)
            workers = [asyncio.create_task(_worker(run, info, queue, committer)) for _ in range(concurrency)]
            try:
                await asyncio.gather(*workers)
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                await committer.close()
        status = "stopped" if run.stop_reason else "finished"
        if run.budget.exhausted:
            status = "budget_exhausted"
    except asyncio.CancelledError:
        run.stop_reason = f"Ctrl-C or SIGTERM; finish it with `harness run --resume {run.id}`"
        raise
    except BaseException as exc:
        status = "crashed"
        run.stop_reason = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if main is not None:
            loop.remove_signal_handler(signal.SIGTERM)
        summary = summarize(run, status)
        run.store.write_summary(summary)
        run.spec.update(status=status, stop_reason=run.stop_reason, ended_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        run.store.write_spec(run.spec)
        run.store.lock.release()  # the last write of this writer
        run.plugins.hook.harness_run_finish(run=info, summary=summary)
    return summary


def resolved_concurrency(run: Run) -> int:
    """Samples in flight: --max-concurrency as given, or for ``auto`` what the started resources
    can serve (`Resources.auto_concurrency`), said on stderr."""
    if run.max_concurrency != AUTO:
        return max(1, int(run.max_concurrency))
    total, reckoning = run.resources.auto_concurrency(code=run.task.kind == "code")
    print(f"--max-concurrency auto: {reckoning}", file=sys.stderr, flush=True)
    return total


def execute_blocking(run: Run) -> dict[str, Any] | None:
    """`execute` in a fresh event loop; None when Ctrl-C or SIGTERM interrupted it (the records
    written so far, run.json and summary.json are kept and the run is resumable)."""
    try:
        return asyncio.run(execute(run))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return None


def summarize(run: Run, status: str) -> dict[str, Any]:
    records = run.store.read_records()
    return summarize_records(records, repeats=run.repeats, kind=run.task.kind, system_roles=list(run.system.roles)) | {
        "run_id": run.id,
        "results": str(run.store.path),
        "status": status,
        "stop_reason": run.stop_reason,
        "selected": len(run.samples),
        "wall_seconds": round(run.earlier_wall_seconds + time.monotonic() - run.started, 3),
        "serving": {} if run.held_resources else add_serving(run.earlier_serving, run.resources.serving()),
    }
