"""Instant stand-ins for bench/coordinator.py (loaded with ``-p harness_bench_instant``): a
backend that answers at once, a sandbox tier that "runs" a job at once, and a task of N trivial
samples whose scorer makes one sandbox call. What is left to measure is the harness itself:
scheduling, metering, transcripts, records and progress."""

from __future__ import annotations

from typing import ClassVar

from harness import (
    Answer,
    Backend,
    Completion,
    CompletionRequest,
    ConfigError,
    ExecResult,
    Message,
    Outcome,
    Sample,
    Sandbox,
    Task,
    Usage,
    hookimpl,
)


class InstantBackend(Backend):
    scheme: ClassVar[str] = "instant"

    async def complete(self, request: CompletionRequest) -> Completion:
        return Completion(Message("assistant", "ok"), Usage(8, 2), "instant", "stop", cost=1e-6)


class InstantSandbox(Sandbox):
    name: ClassVar[str] = "instant"
    description: ClassVar[str] = "no isolation at all: returns at once (benchmarks only)"

    async def run(self, files, argv, *, stdin=None, timeout=10.0, limits=None) -> ExecResult:
        return ExecResult(0, "", "", False, 0.0, self.name)


class InstantTask(Task):
    name: ClassVar[str] = "instant"

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        try:
            self.n = int(options.get("n", 1000))
        except ValueError as exc:
            raise ConfigError(f"task instant: --task-opt n= takes a number ({exc})") from exc

    def samples(self) -> list[Sample]:
        return [Sample(self.name, str(i), f"say ok {i}") for i in range(self.n)]

    async def score(self, sample: Sample, answer: Answer, ctx) -> Outcome:
        result = await ctx.sandbox.run({"x.py": "pass"}, ["python3", "x.py"])
        return Outcome("passed" if result.ok and answer.text == "ok" else "failed", 1.0)


@hookimpl
def harness_add_backends() -> list[type]:
    return [InstantBackend]


@hookimpl
def harness_add_sandboxes() -> list[type]:
    return [InstantSandbox]


@hookimpl
def harness_add_tasks() -> list[type]:
    return [InstantTask]
