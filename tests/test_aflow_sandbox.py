"""Workflows in the docker sandbox: the operators over the RPC bridge, each way a workflow can end,
the per-problem budget. The executor is a rule-following stand-in (a Backend answering by the
prompt's content), so that each operator's behaviour can be checked exactly; the embedded
model runs the same operators in tests/test_aflow_embedded.py."""

from __future__ import annotations

import pytest
from harness_aflow.execute import run_workflow
from harness_aflow.settings import Settings
from harness_aflow.system import AFlow
from harness_aflow.workflows import INITIAL, Workflow

from harness import Backend, Budget, Sample, SampleContext
from harness.types import Completion, CompletionRequest, Message, Usage

pytestmark = [pytest.mark.docker]

PROBLEM = 'def add(a, b):\n    """Add two numbers.\n    >>> add(1, 2)\n    3\n    """\n'
RIGHT = "```python\ndef add(a, b):\n    return a + b\n```"
WRONG = "```python\ndef add(a, b):\n    return a - b\n```"


class Rules(Backend):
    """Replies with the first rule whose key is in the prompt; records every prompt."""

    scheme = "rules"

    def __init__(self, rules: list[tuple[str, str]]) -> None:
        super().__init__("rules:test", None)
        self.rules = rules
        self.prompts: list[str] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        prompt = request.messages[-1].content or ""
        self.prompts.append(prompt)
        reply = next((reply for key, reply in self.rules if key in prompt), "no rule")
        return Completion(Message("assistant", reply), Usage(len(prompt) // 4, len(reply) // 4), "rules", "stop", cost=0.001)


def context(box, backend) -> SampleContext:
    return SampleContext(backends={"default": backend, "executor": backend}, sandbox=box, budget=Budget())


async def run(box, backend, graph: str, prompt: str = "", tests: list[str] | None = None, **settings):
    ctx = context(box, backend)
    result = await run_workflow(Workflow(graph, prompt), PROBLEM, "add", ["assert add(1, 2) == 3"] if tests is None else tests, ctx, Settings(**({"timeout": 60.0} | settings)))
    return result, ctx


@pytest.mark.asyncio(loop_scope="module")
async def test_the_initial_workflow_answers_with_the_generated_code(box):
    backend = Rules([("add", RIGHT)])
    result, ctx = await run(box, backend, INITIAL.graph, INITIAL.prompt)
    assert result.status == "answered", result.detail
    assert result.solution == "def add(a, b):\n    return a + b\n" and result.executor_calls == 1
    assert backend.prompts[0].startswith("Solve the following programming problem") and "`add`" in backend.prompts[0]
    assert ctx.meters["executor"].calls == 1 and ctx.meters["executor"].cost == pytest.approx(0.001)
    assert [e["role"] for e in ctx.transcript if "request" in e] == ["executor"]


TEST_GRAPH = """
class Workflow:
    def __init__(self, llm):
        self.generate = CustomCodeGenerate(llm)
        self.test = Test(llm)

    async def __call__(self, problem, entry_point):
        first = await self.generate(problem=problem, entry_point=entry_point)
        checked = await self.test(problem=problem, solution=first["code"], entry_point=entry_point, test_loop=2)
        return checked["solution"] if checked["result"] else "# still failing\\n" + checked["solution"]
"""


@pytest.mark.asyncio(loop_scope="module")
async def test_the_test_operator_runs_the_visible_tests_and_repairs(box):
    backend = Rules([("fails some of the problem's tests", RIGHT), ("add", WRONG)])
    result, _ = await run(box, backend, TEST_GRAPH)
    assert result.status == "answered", result.detail
    assert result.solution == "def add(a, b):\n    return a + b\n", "repaired after one failing run"
    assert result.executor_calls == 2
    assert "assert add(1, 2) == 3  # fails" in backend.prompts[1] and "return a - b" in backend.prompts[1]


@pytest.mark.asyncio(loop_scope="module")
async def test_the_test_operator_gives_up_after_test_loop_repairs(box):
    backend = Rules([("add", WRONG)])
    result, _ = await run(box, backend, TEST_GRAPH)
    assert result.solution.startswith("# still failing") and result.executor_calls == 3  # generate + 2 repairs


ENSEMBLE_GRAPH = """
import asyncio


class Workflow:
    def __init__(self, llm):
        self.llm = llm
        self.ensemble = ScEnsemble(llm)

    async def __call__(self, problem, entry_point):
        same = await self.ensemble(solutions=["x = 1", "x  =  1"], problem=problem)
        drafts = await asyncio.gather(*(self.llm(f"draft {i} of {entry_point}") for i in range(3)))
        chosen = await self.ensemble(solutions=drafts, problem=problem)
        return same["response"] + "\\n" + chosen["response"]
"""


@pytest.mark.asyncio(loop_scope="module")
async def test_ensemble_picks_the_named_candidate_and_calls_run_in_parallel(box):
    backend = Rules([("draft 0", "A0"), ("draft 1", "B1"), ("draft 2", "C2"), ("candidate solutions", "They differ. Answer: B")])
    result, _ = await run(box, backend, ENSEMBLE_GRAPH)
    assert result.status == "answered", result.detail
    assert result.solution == "x = 1\nB1", "identical candidates need no call; the named one is returned"
    assert result.executor_calls == 4
    assert "Candidate A:\nA0" in backend.prompts[-1] and "Candidate C:\nC2" in backend.prompts[-1]


@pytest.mark.parametrize(
    ("graph", "prompt", "status", "detail"),
    [
        ("class Workflow(:\n", "", "load_error", "SyntaxError"),
        ("import prompt\nX = prompt.MISSING\n", "", "load_error", "AttributeError"),
        ("def workflow():\n    pass\n", "", "load_error", "graph.py defines no class Workflow"),
        ("class Workflow:\n    def __init__(self):\n        pass\n", "", "load_error", "TypeError"),
        (INITIAL.graph, "raise RuntimeError('bad prompt module')\n", "load_error", "bad prompt module"),
        ("class Workflow:\n    def __init__(self, llm):\n        pass\n    async def __call__(self, problem, entry_point):\n        raise ValueError('broken ' + entry_point)\n", "", "exception", "ValueError: broken add"),
        ("class Workflow:\n    def __init__(self, llm):\n        pass\n    async def __call__(self, problem, entry_point):\n        return None\n", "", "no_solution", "returned NoneType"),
        ("import sys\nclass Workflow:\n    def __init__(self, llm):\n        pass\n    async def __call__(self, problem, entry_point):\n        sys.exit(3)\n", "", "exited", "sys.exit(3)"),
    ],
)
@pytest.mark.asyncio(loop_scope="module")
async def test_each_way_a_workflow_fails_has_its_status(box, graph, prompt, status, detail):
    result, _ = await run(box, Rules([]), graph, prompt)
    assert result.status == status and result.solution is None
    assert detail in result.detail


@pytest.mark.asyncio(loop_scope="module")
async def test_a_failing_workflow_is_a_scored_failure_with_its_traceback(box):
    system = AFlow({"timeout": "60"})
    system.workflow = Workflow("class Workflow:\n    def __init__(self, llm):\n        pass\n    async def __call__(self, problem, entry_point):\n        raise KeyError(entry_point)\n", "")
    answer = await system.solve(Sample("humaneval", "X", PROBLEM, {"entry_point": "add"}), context(box, Rules([])))
    assert answer.text == "" and answer.details["status"] == "exception" and answer.details["failed"]
    assert "KeyError: 'add'" in answer.details["detail"] and answer.details["visible_tests"] == ["assert add(1, 2) == 3"]


LOOP_GRAPH = """
class Workflow:
    def __init__(self, llm):
        self.llm = llm

    async def __call__(self, problem, entry_point):
        for _ in range(10):
            try:
                await self.llm("again")
            except {caught}:
                pass
        return "x = 1"
"""


@pytest.mark.parametrize("caught", ["Exception", "BaseException"])
@pytest.mark.asyncio(loop_scope="module")
async def test_the_per_problem_budget_stops_a_looping_workflow(box, caught):
    backend = Rules([("again", "ok")])
    result, _ = await run(box, backend, LOOP_GRAPH.format(caught=caught), max_calls=2)
    assert result.status == "budget_exhausted" and "max_calls" in result.detail
    assert result.executor_calls == 2 and len(backend.prompts) == 2


@pytest.mark.asyncio(loop_scope="module")
async def test_a_workflow_past_its_time_limit_is_killed(box):
    graph = "import asyncio\nclass Workflow:\n    def __init__(self, llm):\n        pass\n    async def __call__(self, problem, entry_point):\n        await asyncio.sleep(30)\n"
    result, _ = await run(box, Rules([]), graph, timeout=2.0)
    assert result.status == "timeout" and result.duration < 15
