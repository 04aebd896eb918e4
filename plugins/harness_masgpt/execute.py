"""The execution stage: one MAS program run in the sandbox, its model calls served by the harness.

The job holds ``mas_program.py`` (the program), ``utils.py`` (the helper library),
``run_mas.py`` (its main script, `sandboxed/runner.py`) and ``task.json`` (the query). Each
``call_llm`` of the program is an RPC request that `AgentBridge` serves with the ``agent`` role's
model, within the sample's budget; the runner's last request (``finish``) says how the program
ended. The whole program, its model calls included, has ``timeout`` seconds; nested
``execute_code``/``test_code_get_feedback`` run as child processes of the job, in the same
container, under their own timeouts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from harness import BackendError, Limits, Message, RpcError, SampleContext
from harness_masgpt.options import Settings

#: What MAS(model_list) receives: one (name, url, key) entry, as MAS-GPT's model lists have.
MODEL_LIST = [["agent", "harness-rpc", ""]]
SANDBOXED = resources.files("harness_masgpt") / "sandboxed"
HELPERS = (SANDBOXED / "utils.py").read_text(encoding="utf-8")
RUNNER = (SANDBOXED / "runner.py").read_text(encoding="utf-8")
#: Output kept per stream in the record.
OUTPUT_KEEP = 20_000

#: Every way a program run can end; all but ``answered`` are failures (the answer is empty).
STATUSES = {
    "answered": "forward returned an answer",
    "none_answer": "forward returned None",
    "no_code_block": "the designer's reply held no python code block (fallback=none)",
    "syntax_error": "the program does not parse",
    "no_mas": "the program defines no class MAS",
    "no_forward": "the MAS instance has no callable forward",
    "exception": "the program raised (traceback in detail)",
    "exited": "the program ended without returning (sys.exit, os._exit, a signal, out of memory)",
    "timeout": "the program ran past its time limit and was killed",
    "budget_exhausted": "the sample's budget of agent calls, tokens or cost was spent",
    "not_executed": "design=only: the program was designed and stored, not run",
}


@dataclass
class Budget:
    """The per-sample limits on the agent's model calls (None: no limit). Tokens are input plus
    output; cost is USD."""

    max_calls: int
    max_tokens: int | None = None
    max_cost: float | None = None

    def spent(self, calls: int, tokens: int, cost: float) -> str | None:
        """Why no further call may be made, or None."""
        if calls >= self.max_calls:
            return f"{calls} agent calls made, the limit (max_calls) is {self.max_calls}"
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return f"{tokens} agent tokens used, the limit (max_sample_tokens) is {self.max_tokens}"
        if self.max_cost is not None and cost >= self.max_cost:
            return f"${cost:.6f} spent on agent calls, the limit (max_sample_cost) is ${self.max_cost}"
        return None


@dataclass
class AgentBridge:
    """Serves one program's requests: ``call_llm`` through ``ctx.llm("agent")`` (metered and in
    the transcript), ``finish`` (the runner's report). A request past the budget is refused with
    a ``budget`` error (the program's call_llm raises BudgetExhausted); a second one after that
    ends the job, since the program ignored the first."""

    ctx: SampleContext
    budget: Budget
    max_tokens: int
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    exhausted: str | None = None
    refusals: int = 0
    backend_error: BackendError | None = None
    report: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)

    async def __call__(self, method: str, params: Any) -> Any:
        if method == "call_llm":
            return await self.call_llm(params if isinstance(params, dict) else {})
        if method == "finish":
            self.report = params if isinstance(params, dict) else {"status": "exception", "detail": f"unreadable report {params!r}"}
            return True
        self.errors.append(f"unknown request {method!r}")
        raise RpcError("unknown", f"no method {method!r}; the harness serves call_llm and finish")

    async def call_llm(self, params: dict[str, Any]) -> str:
        if self.backend_error is not None:
            raise RpcError("stop", f"the agent model failed for good: {self.backend_error}", end_job=True)
        reason = self.budget.spent(self.calls, self.tokens, self.cost)
        if reason is None and self.ctx.budget.exhausted:
            reason = f"the run's --max-cost budget is spent (${self.ctx.budget.spent:.4f})"
        if reason is not None:
            self.exhausted = self.exhausted or reason
            self.refusals += 1
            raise RpcError("budget", f"budget exhausted: {reason}", end_job=self.refusals > 1)
        prompt = params.get("prompt")
        temperature = params.get("temperature", 0.5)
        if not isinstance(prompt, str) or not isinstance(temperature, (int, float)):
            raise RpcError("bad_request", "call_llm takes a string prompt and a number temperature")
        self.calls += 1
        try:
            completion = await self.ctx.llm("agent").complete(
                [Message("user", prompt)], temperature=float(temperature), max_tokens=self.max_tokens
            )
        except BackendError as exc:
            self.backend_error = exc
            raise RpcError("stop", f"the agent model failed for good: {exc}", end_job=True) from None
        self.tokens += completion.usage.input_tokens + completion.usage.output_tokens
        self.cost += completion.cost
        return completion.message.content or ""


@dataclass
class Execution:
    """How one program run ended: ``status`` (a key of STATUSES), ``detail`` (a traceback, the
    limit that was hit …), the answer's text when there is one, and the sandbox's view."""

    status: str
    detail: str = ""
    answer: str | None = None
    answer_type: str | None = None
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    duration: float = 0.0
    agent_calls: int = 0
    truncated: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "answer_type": self.answer_type,
            "stdout": self.stdout[-OUTPUT_KEEP:],
            "stderr": self.stderr[-OUTPUT_KEEP:],
            "exit_code": self.exit_code,
            "duration": round(self.duration, 3),
            "agent_calls": self.agent_calls,
            "output_truncated": self.truncated,
        }


def judge(bridge: AgentBridge, timed_out: bool, exit_code: int | None, oom: bool, stderr: str) -> tuple[str, str]:
    """(status, detail) of a finished job: the budget first (a program stopped by it may have
    ended any way), then the time limit, then the runner's report, then how the process ended."""
    report = bridge.report or {}
    if bridge.exhausted is not None:
        return "budget_exhausted", bridge.exhausted
    if timed_out:
        return "timeout", "the program ran past its time limit and was killed"
    if report.get("status") in STATUSES:
        return report["status"], str(report.get("detail") or "")
    if oom:
        return "exited", f"out of memory (exit status {exit_code})\n{stderr[-2000:]}"
    return "exited", f"the program ended without returning an answer (exit status {exit_code})\n{stderr[-2000:]}"


async def execute(program: str, query: str, ctx: SampleContext, settings: Settings) -> Execution:
    """Run ``program`` on ``query`` in ``ctx.sandbox``. Raises BackendError when the agent model
    failed for good (an infrastructure error, not the program's) and SandboxError when the
    sandbox could not run the job."""
    bridge = AgentBridge(ctx, Budget(settings.max_calls, settings.max_sample_tokens, settings.max_sample_cost), settings.agent_max_tokens)
    ctx.llm("agent")  # the record lists the agent's meter even when the program makes no call
    files = {
        "mas_program.py": program,
        "utils.py": HELPERS,
        "run_mas.py": RUNNER,
        "task.json": json.dumps({"query": query, "model_list": MODEL_LIST}),
    }
    result = await ctx.sandbox.run(files, ["python3", "run_mas.py"], timeout=settings.timeout, limits=Limits(), rpc=bridge)
    if bridge.backend_error is not None:
        raise bridge.backend_error
    status, detail = judge(bridge, result.timed_out, result.exit_code, result.oom, result.stderr)
    report = bridge.report or {}
    answered = status == "answered"
    return Execution(
        status=status,
        detail=detail,
        answer=report.get("answer") if answered else None,
        answer_type=report.get("answer_type") if answered else None,
        stdout=result.stdout,
        stderr=result.stderr,
        exit_code=result.exit_code,
        duration=result.duration,
        agent_calls=bridge.calls,
        truncated=result.truncated,
    )
