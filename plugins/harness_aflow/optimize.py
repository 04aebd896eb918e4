"""The AFlow search: round after round, an optimizer model rewrites a parent workflow and the
result is scored on the validation problems.

Round 1 is the initial workflow (`workflows.INITIAL`). Round N > 1:

1. **parent**: drawn among the best ``sample`` scored rounds (`search.choose_parent`, with a
   random generator seeded by the search's seed and N, so a redone round draws the same);
2. **proposal**: the optimizer sees the parent's code and score, what was tried on it before
   and how that went (its *experience*), and up to three validation problems it got wrong
   (`prompting`); its reply (`replies`) is refused when it cannot be read or repeats a
   modification already tried on that parent, and asked again with the reason, at most
   ``max_attempts`` replies per round; a round whose replies were all refused is recorded
   without a workflow and the search goes on;
3. **validation**: the new workflow is scored ``validation_rounds`` times on the validation
   problems, each pass a run of the system ``aflow`` (`harness.subruns`) in ``runs/``; a
   workflow that fails to load or raises scores 0 on the problems it failed, and those failures
   are evidence for later rounds.

The search ends after ``max_rounds`` rounds (round 1 counted), when the budget is spent, when
it has converged (with ``check_convergence``: `search.convergence`), or on infrastructure errors
(resumable). Everything is journaled in the search folder (`folder`).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from harness import BackendError, Budget, Config, Resources, SampleContext, SandboxError
from harness.results import search as search_chart
from harness.store import RunStore
from harness.subruns import SampleRun, run_samples
from harness_aflow.folder import CHART_STEM, SearchFolder, SearchState, sync_folder
from harness_aflow.prompting import (
    Child,
    Failure,
    experience,
    failures_text,
    optimizer_messages,
)
from harness_aflow.replies import Unusable, parse_reply
from harness_aflow.search import ParentChoice, choose_parent, convergence, tried_before
from harness_aflow.summary import search_summary
from harness_aflow.workflows import INITIAL, Workflow, read_workflow

SYSTEM = "aflow"
OPTIMIZER = "optimizer"
#: Failed validation problems shown to the optimizer (AFlow shows three logged failures).
FAILURES_SHOWN = 3


@dataclass(frozen=True)
class SearchSettings:
    """How the search runs (optimization.json's ``settings``). Costs USD, tokens per reply."""

    max_rounds: int = 20  # rounds in all, round 1 (the initial workflow) included
    sample: int = 4  # parents are drawn among this many best rounds
    validation_rounds: int = 5  # validation passes per workflow
    check_convergence: bool = False  # stop once the top-3 mean holds still for 5 rounds
    max_attempts: int = 3  # optimizer replies per round before the round is given up
    optimizer_max_tokens: int = 4096
    optimizer_temperature: float = 0.7
    seed: int = 0
    max_concurrency: int | str = 4  # validation problems in flight, or "auto"
    max_cost: float | None = None  # the whole search: optimizer and executor

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    """How an invocation of the search ended."""

    status: str  # finished | converged | budget_exhausted | stopped
    reason: str


class Search:
    """One invocation of a search, on resources held open for its whole length."""

    def __init__(self, config: Config, folder: SearchFolder, spec: dict[str, Any], resources: Resources, say: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.folder = folder
        self.spec = spec
        self.resources = resources
        self.settings = SearchSettings(**spec["settings"])
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        task = config.plugins.get("tasks", spec["task"])(dict(spec["task_options"]))
        self.problems = {sample.node_id: sample for sample in task.samples()}
        self.budget = Budget(limit=self.settings.max_cost)
        self.invocation = 0

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> Outcome:
        state = self.folder.state()
        self.invocation = state.invocations + 1
        spent = search_summary(self.folder, self.spec, state)
        self.budget.spent = spent["optimizer_cost"] + spent["executor_cost"]  # --max-cost covers tokens, as for runs
        self.folder.append("start", invocation=self.invocation)
        try:
            for number in range(1, self.settings.max_rounds + 1):
                try:
                    outcome = await self._round(number)
                except (BackendError, SandboxError) as exc:  # a model or the sandbox failed for good: resumable
                    return Outcome("stopped", f"round {number}: {type(exc).__name__}: {exc}; fix it, then `harness optimize --resume {self.folder.id}`")
                if outcome is not None:
                    return outcome
            return Outcome("finished", f"{self.settings.max_rounds} rounds done (--max-rounds)")
        finally:
            self.folder.append("serving", invocation=self.invocation, serving=self.resources.serving())

    async def _round(self, number: int) -> Outcome | None:
        state = self.folder.state()
        current = state.rounds.get(number)
        if current is None or not current.done:
            if self.budget.exhausted:
                return self._budget_outcome()
            if (current is None or not current.has_workflow) and not await self._make_workflow(number, state):
                return self._budget_outcome() if self.budget.exhausted else None
            stopped = await self._validate(number)
            if stopped is not None:
                return stopped
            self._finish_round(number)
        return self._converged()

    def _budget_outcome(self) -> Outcome:
        return Outcome("budget_exhausted", f"budget: spent ${self.budget.spent:.4f} of --max-cost ${self.budget.limit:.4f}")

    def _converged(self) -> Outcome | None:
        if not self.settings.check_convergence:
            return None
        rounds = [r for r in self.folder.state().scored() if r.done]
        verdict = convergence([r.number for r in rounds], [r.mean for r in rounds], [r.std for r in rounds])
        if not verdict.converged:
            return None
        return Outcome("converged", f"the mean of the top-3 rounds held still from round {verdict.first_round} to round {verdict.last_round}")

    # --- a round's workflow ------------------------------------------------------------------

    async def _make_workflow(self, number: int, state: SearchState) -> bool:
        """Write round ``number``'s workflow; False when the optimizer's replies were all refused
        (the round is then recorded without one)."""
        if number == 1:
            self._keep_workflow(number, INITIAL, None, "the initial workflow", {})
            self.say("round 1: the initial workflow")
            return True
        means = {r.number: r.mean for r in state.scored() if r.done and r.has_workflow}
        rng = random.Random(f"{self.settings.seed}:{number}")
        choice = choose_parent(means, self.settings.sample, rng)
        parent_state = state.rounds[choice.parent]
        parent = read_workflow(self.folder.round_dir(choice.parent))
        children = [r for r in state.rounds.values() if r.parent == choice.parent and r.has_workflow and r.number != number]
        tried = experience(parent_state.mean, [Child(r.number, r.modification or "", r.mean) for r in sorted(children, key=lambda r: r.number)])
        shown_failures = self._failures([p["run_id"] for _, p in sorted(parent_state.passes.items())], rng)
        shown = {"experience": tried, "failures": [asdict(f) for f in shown_failures]}
        self.say(f"round {number}: parent round {choice.parent} (score {parent_state.mean:.3f}; drawn from rounds {choice.candidates} with p = {[round(p, 3) for p in choice.probabilities]})")
        made = state.rounds[number].attempts if number in state.rounds else []  # by an invocation that was killed
        refused = sum(a.get("outcome") != "accepted" for a in made)
        refusal = next((a["why"] for a in reversed(made) if a.get("outcome") != "accepted"), None)
        transcript = self._optimizer_calls(number)
        attempt = len(made)
        while refused < self.settings.max_attempts:
            if self.budget.exhausted:
                return False
            attempt += 1
            messages = optimizer_messages(choice.parent, parent, parent_state.mean, len(parent_state.scores), tried, failures_text(shown_failures), refusal)
            reply, usage, seconds = await self._ask(messages, number, attempt, transcript)
            self.folder.write_round_file(number, "optimizer.json", transcript)
            try:
                proposal = parse_reply(reply)
            except Unusable as exc:
                outcome, refusal = "unusable", str(exc)
            else:
                same = next((r.number for r in children if tried_before(proposal.modification, [r.modification or ""])), None)
                if same is None:
                    self.folder.append("attempt", round=number, attempt=attempt, parent=choice.parent, outcome="accepted", why="", reply=reply, usage=usage, seconds=seconds)
                    self._keep_workflow(number, Workflow(proposal.graph, proposal.prompt), choice, proposal.modification, shown)
                    self.say(f"round {number}: optimizer reply {attempt} accepted: {proposal.modification}")
                    return True
                outcome = "repeated"
                refusal = f"the modification {proposal.modification!r} was already tried on round {choice.parent} (round {same}); propose a different one"
            refused += 1
            self.folder.append("attempt", round=number, attempt=attempt, parent=choice.parent, outcome=outcome, why=refusal, reply=reply, usage=usage, seconds=seconds)
            self.say(f"round {number}: optimizer reply {attempt} refused: {refusal}")
        why = f"{self.settings.max_attempts} optimizer replies refused; the last: {refusal}"
        self.folder.write_round_file(number, "round.json", {"round": number, "parent": choice.parent, "selection": choice.describe(), "shown": shown, "no_workflow": why})
        self.folder.append("no_workflow", round=number, parent=choice.parent, why=why)
        self.say(f"round {number}: no workflow ({why})")
        return False

    def _optimizer_calls(self, number: int) -> list[dict[str, Any]]:
        """The round's optimizer transcript so far (calls of a killed invocation included)."""
        path = self.folder.round_dir(number) / "optimizer.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []

    async def _ask(self, messages: list[Any], number: int, attempt: int, transcript: list[dict[str, Any]]) -> tuple[str, dict[str, Any], float]:
        """One optimizer reply: (text, usage of the call, seconds). BackendError propagates: an
        optimizer that fails for good stops the search (resumable)."""
        ctx = SampleContext(backends=self.resources.backends, sandbox=self.resources.sandbox, budget=self.budget, transcript=transcript)
        model = ctx.llm(OPTIMIZER)
        params: dict[str, Any] = {"temperature": self.settings.optimizer_temperature, "max_tokens": self.settings.optimizer_max_tokens}
        if "seed" in model.features:
            params["seed"] = self.settings.seed * 1000 + number * 10 + attempt
        started = time.monotonic()
        try:
            completion = await model.complete(messages, **params)
        finally:
            seconds = round(time.monotonic() - started, 3)
            usage = ctx.meters[OPTIMIZER].as_dict()
        return completion.message.content or "", usage, seconds

    def _keep_workflow(self, number: int, workflow: Workflow, choice: ParentChoice | None, modification: str, shown: dict[str, Any]) -> None:
        """Write the round's files durably, then journal that the workflow exists."""
        folder = self.folder.round_dir(number)
        workflow.write(folder)
        described = {
            "round": number,
            "parent": choice.parent if choice else None,
            "selection": choice.describe() if choice else {},
            "modification": modification,
            "shown": shown,
        }
        self.folder.write_round_file(number, "round.json", described)
        sync_folder(folder)
        self.folder.append("workflow", round=number, parent=described["parent"], modification=modification, selection=described["selection"], **workflow.describe())

    def _failures(self, run_ids: list[str], rng: random.Random) -> list[Failure]:
        """Up to FAILURES_SHOWN distinct validation problems failed in the parent's runs
        ``run_ids``, drawn with ``rng``."""
        by_node: dict[str, Failure] = {}
        for run_id in run_ids:
            for record in RunStore(self.folder.runs_dir / run_id).read_records():
                if record.passed or not record.scored or record.node_id in by_node:
                    continue
                details = record.answer_details or {}
                if details.get("status") not in (None, "answered"):
                    why = f"the workflow ended with {details['status']}: {details.get('detail') or ''}"
                else:
                    why = record.output or record.error or record.status
                sample = self.problems.get(record.node_id)
                by_node[record.node_id] = Failure(record.node_id, sample.prompt if sample else "", record.answer or "", why)
        chosen = rng.sample(sorted(by_node), min(FAILURES_SHOWN, len(by_node)))
        return [by_node[node] for node in chosen]

    # --- validation --------------------------------------------------------------------------

    async def _validate(self, number: int) -> Outcome | None:
        """Score round ``number``'s workflow ``validation_rounds`` times; an Outcome when the
        search must stop (budget, infrastructure errors)."""
        done = self.folder.state().rounds[number].passes
        for validation_pass in range(1, self.settings.validation_rounds + 1):
            if validation_pass in done:
                continue
            if self.budget.exhausted:
                return self._budget_outcome()
            run_id = SearchFolder.pass_run_id(number, validation_pass)
            request = SampleRun(
                results_dir=self.folder.runs_dir,
                run_id=run_id,
                system=SYSTEM,
                system_options=dict(self.spec["system_options"]) | {"workflow": f"{self.folder.path.resolve()}:{number}"},
                task=self.spec["task"],
                task_options=dict(self.spec["task_options"]),
                node_ids=tuple(self.spec["node_ids"]),
                seed=self.settings.seed,
                max_concurrency=self.settings.max_concurrency,
                budget=self.budget,
            )
            summary = await run_samples(self.config, self.resources, request)
            if summary.get("status") == "budget_exhausted" or summary["counts"]["infra_error"] or summary.get("status") != "finished":
                if self.budget.exhausted:
                    return self._budget_outcome()
                return Outcome("stopped", f"round {number} pass {validation_pass} ({run_id}) ended {summary.get('status')} with {summary['counts']['infra_error']} infrastructure error(s); fix the backend or sandbox, then `harness optimize --resume {self.folder.id}`")
            score = summary["metrics"].get("pass@1") or 0.0
            usage = {"calls": summary["llm_calls"], "input_tokens": summary["tokens"]["input"], "output_tokens": summary["tokens"]["output"], "cost": summary["cost"]}
            self.folder.append(
                "pass", round=number, **{"pass": validation_pass}, run_id=run_id, score=score, passed=summary["counts"]["passed"],
                scored=summary["samples_scored"], usage=usage, seconds=summary["wall_seconds"], status=summary["status"],
            )  # fmt: skip
            self.say(f"round {number} pass {validation_pass}: score {score:.3f} ({summary['counts']['passed']}/{summary['samples_scored']}), executor ${summary['cost']:.4f}")
        return None

    def _finish_round(self, number: int) -> None:
        """Record the round's scores, costs, time and experience; refresh summary.json and the chart."""
        state = self.folder.state()
        current = state.rounds[number]
        parent = state.rounds.get(current.parent) if current.parent else None
        described = json.loads((self.folder.round_dir(number) / "round.json").read_text(encoding="utf-8"))
        self.folder.write_round_file(number, "round.json", described | {"result": current.row()})
        if parent is not None:
            self.folder.write_round_file(number, "experience.json", {
                "parent": parent.number, "modification": current.modification, "before": parent.mean, "after": current.mean, "improved": current.mean > parent.mean,
            })  # fmt: skip
        self.folder.append("round_done", round=number, mean=current.mean, std=current.std)
        self.folder.append("serving", invocation=self.invocation, serving=self.resources.serving())
        row = current.row()
        self.say(
            f"round {number}: mean {row['mean']:.3f} ± {row['std']:.3f} over {len(row['scores'])} pass(es); "
            f"optimizer ${row['optimizer']['cost']:.4f}, executor ${row['executor']['cost']:.4f}, {row['seconds']:.1f} s"
        )
        self.write_summary()

    def write_summary(self) -> dict[str, Any]:
        summary = search_summary(self.folder, self.folder.read_spec() | {"status": self.spec.get("status")}, self.folder.state())
        self.folder.write_summary(summary)
        if any(row["scores"] for row in summary["rounds"]):
            search_chart.save(summary, self.folder.path, CHART_STEM)
        return summary
