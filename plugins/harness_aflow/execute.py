"""One workflow on one problem, in the sandbox; its executor calls served by the harness.

The job holds ``graph.py`` and ``prompt.py`` (the workflow), ``operators.py`` and
``harness_rpc.py`` (our library), ``run_workflow.py`` (its main script, `sandboxed/runner.py`)
and ``problem.json``. Each operator's model call is an RPC request (``llm``) that
`ExecutorBridge` serves with the ``executor`` role's model, metered and within the problem's
budget; the runner's last request (``finish``) says how the workflow ended. The whole job, its
model calls included, has ``timeout`` seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from harness import BackendError, Limits, Message, RpcError, SampleContext
from harness_aflow.settings import Settings
from harness_aflow.workflows import GRAPH_FILE, PROMPT_FILE, Workflow

ROLE = "executor"
SANDBOXED = resources.files("harness_aflow") / "sandboxed"
LIBRARY = {name: (SANDBOXED / name).read_text(encoding="utf-8") for name in ("operators.py", "harness_rpc.py")}
RUNNER = (SANDBOXED / "runner.py").read_text(encoding="utf-8")
#: Characters of the job's output kept per stream.
OUTPUT_KEEP = 20_000

#: Every way a workflow run ends; all but ``answered`` are failures (the answer is empty).
STATUSES = {
    "answered": "the workflow returned the solution's code",
    "no_solution": "the workflow returned None or no text",
    "load_error": "prompt.py or graph.py failed to load, graph.py has no class Workflow, or Workflow(llm) raised",
    "exception": "the workflow raised while solving (traceback in detail)",
    "exited": "the job ended without a report (sys.exit, a signal, out of memory)",
    "timeout": "the workflow ran past its time limit and was killed",
    "budget_exhausted": "the problem's budget of executor calls (or the run's --max-cost) was spent",
    "stopped": "the harness ended the workflow",
}


@dataclass
class ExecutorBridge:
    """Serves a job's requests: ``llm`` through ``ctx.llm("executor")`` (metered, in the
    transcript) and ``finish`` (the runner's report). A call past the budget is refused with a
    ``budget`` error; a second one after that ends the job, since the workflow went on anyway."""

    ctx: SampleContext
    settings: Settings
    calls: int = 0
    refusals: int = 0
    exhausted: str | None = None
    backend_error: BackendError | None = None
    report: dict[str, Any] | None = None

    async def __call__(self, method: str, params: Any) -> Any:
        if method == "llm":
            return await self.llm(params if isinstance(params, dict) else {})
        if method == "finish":
            self.report = params if isinstance(params, dict) else {"status": "exited", "detail": f"unreadable report {params!r}"}
            return True
        raise RpcError("unknown", f"no method {method!r}; the harness serves llm and finish")

    def _refusal(self) -> str | None:
        if self.calls >= self.settings.max_calls:
            return f"{self.calls} executor calls made, the limit (max_calls) is {self.settings.max_calls}"
        if self.ctx.budget.exhausted:
            return f"the run's --max-cost budget is spent (${self.ctx.budget.spent:.4f})"
        return None

    async def llm(self, params: dict[str, Any]) -> str:
        if self.backend_error is not None:
            raise RpcError("stop", f"the executor model failed for good: {self.backend_error}", end_job=True)
        reason = self._refusal()
        if reason is not None:
            self.exhausted = self.exhausted or reason
            self.refusals += 1
            raise RpcError("budget", f"budget exhausted: {reason}", end_job=self.refusals > 1)
        prompt, temperature = params.get("prompt"), params.get("temperature", self.settings.temperature)
        if not isinstance(prompt, str) or not isinstance(temperature, (int, float)):
            raise RpcError("bad_request", "llm takes a string prompt and a number temperature")
        self.calls += 1
        try:
            completion = await self.ctx.llm(ROLE).complete([Message("user", prompt)], temperature=float(temperature), max_tokens=self.settings.max_tokens)
        except BackendError as exc:
            self.backend_error = exc
            raise RpcError("stop", f"the executor model failed for good: {exc}", end_job=True) from None
        return completion.message.content or ""


@dataclass
class WorkflowRun:
    """How one workflow run ended: ``status`` (a key of STATUSES), ``detail`` (a traceback, the
    limit hit), the solution's code when there is one, and the sandbox's view."""

    status: str
    detail: str = ""
    solution: str | None = None
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    duration: float = 0.0
    executor_calls: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "failed": self.status != "answered",
            "detail": self.detail,
            "stdout": self.stdout[-OUTPUT_KEEP:],
            "stderr": self.stderr[-OUTPUT_KEEP:],
            "exit_code": self.exit_code,
            "duration": round(self.duration, 3),
            "executor_calls": self.executor_calls,
        }


def verdict(bridge: ExecutorBridge, timed_out: bool, exit_code: int | None, oom: bool, stderr: str) -> tuple[str, str]:
    """(status, detail) of a finished job: the budget first (a workflow stopped by it may have
    ended any way), then the time limit, then the runner's report, then how the process ended."""
    report = bridge.report or {}
    if bridge.exhausted is not None:
        return "budget_exhausted", bridge.exhausted
    if timed_out:
        return "timeout", "the workflow ran past its time limit and was killed"
    if report.get("status") in STATUSES:
        return report["status"], str(report.get("detail") or "")
    why = "out of memory" if oom else "the job ended without a report"
    return "exited", f"{why} (exit status {exit_code})\n{stderr[-2000:]}"


async def run_workflow(workflow: Workflow, problem: str, entry_point: str, tests: list[str], ctx: SampleContext, settings: Settings) -> WorkflowRun:
    """Run ``workflow`` on one problem in ``ctx.sandbox``. Raises BackendError when the executor
    failed for good (an infrastructure error, not the workflow's) and SandboxError when the
    sandbox could not run the job."""
    bridge = ExecutorBridge(ctx, settings)
    ctx.llm(ROLE)  # the record lists the executor's meter even when the workflow makes no call
    files = {
        GRAPH_FILE: workflow.graph,
        PROMPT_FILE: workflow.prompt,
        **LIBRARY,
        "run_workflow.py": RUNNER,
        "problem.json": json.dumps({"problem": problem, "entry_point": entry_point, "tests": tests, "test_timeout": settings.test_timeout}),
    }
    result = await ctx.sandbox.run(files, ["python3", "run_workflow.py"], timeout=settings.timeout, limits=Limits(), rpc=bridge)
    if bridge.backend_error is not None:
        raise bridge.backend_error
    status, detail = verdict(bridge, result.timed_out, result.exit_code, result.oom, result.stderr)
    solution = (bridge.report or {}).get("solution") if status == "answered" else None
    return WorkflowRun(status, detail, solution if isinstance(solution, str) else None, result.stdout, result.stderr, result.exit_code, result.duration, bridge.calls)
