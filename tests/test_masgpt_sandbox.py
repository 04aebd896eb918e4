"""System masgpt for real: MAS programs run in the docker sandbox, their call_llm's answered by the
embedded llama.cpp model (SmolLM2) over the RPC bridge; every failure kind has its status."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest
import pytest_asyncio
from harness_llamacpp import LlamaCppBackend
from harness_masgpt import MasGpt
from harness_masgpt.cache import ProgramCache, design_key
from harness_masgpt.prompt import DESIGNER_PROMPT

from harness import Budget, Sample, SampleContext
from harness.config import Config

pytestmark = [pytest.mark.docker, pytest.mark.model, pytest.mark.slow]

DATA = Path(__file__).resolve().parent / "data" / "masgpt"
FAST = {"agent_max_tokens": "24", "timeout": "120"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def model(tmp_path_factory):
    backend = LlamaCppBackend.from_spec("llamacpp:smollm2", Config(options=argparse.Namespace(), plugins=None))
    await backend.start(tmp_path_factory.mktemp("llama"))
    yield backend
    await backend.close()


def context(box, model) -> SampleContext:
    return SampleContext(backends={"default": model}, sandbox=box, budget=Budget())


async def solve(box, model, tmp_path, program: str | Path, query: str = "What is 6 times 7?", **options: str):
    if isinstance(program, str):
        path = tmp_path / "program.py"
        path.write_text(program)
        program = path
    system = MasGpt({**FAST, "program": str(program), "cache_dir": str(tmp_path / "cache"), **options})
    ctx = context(box, model)
    answer = await system.solve(Sample("qa", "0", query), ctx)
    return answer, ctx


@pytest.mark.asyncio(loop_scope="module")
async def test_a_program_using_every_helper_runs_with_the_real_model(box, model, tmp_path):
    answer, ctx = await solve(box, model, tmp_path, DATA / "every_helper.py")
    details = answer.details
    assert details["status"] == "answered" and not details["failed"], details["detail"]
    assert answer.text == "42" and details["run"]["answer_type"] == "int"
    seen = json.loads(details["run"]["stdout"].strip().splitlines()[-1])
    assert isinstance(seen["call_llm"], str) and seen["call_llm"], "the model's reply came back"
    assert isinstance(seen["get_function_signature"], str) and isinstance(seen["get_test_cases"], list)
    response, code = seen["generate_and_extract_code"]
    assert isinstance(response, str) and isinstance(code, str)
    assert seen["execute_code"] == "Final output: 42\nPrint during execution:\ncomputed"
    assert seen["execute_code_timeout"].startswith("Execution Time Out")
    assert seen["execute_code_numpy"].startswith("Final output: 6\n") and seen["sympy"] == "(x - 1)*(x + 1)", "the image has numpy and sympy"
    assert seen["test_code_get_feedback"][0] == 1 and "Passed 1 of 2" in seen["test_code_get_feedback"][1]
    assert seen["extract_code_solution"] == "y = 2" and seen["extract_code"] == "answer = 42"
    assert seen["parse_to_json"] == {"k": [1, 2]} and seen["websearch"] == []
    # four model calls: call_llm, the signature, the tests, generate_and_extract_code; each metered and in the transcript
    calls = [entry for entry in ctx.transcript if "request" in entry]
    assert len(calls) == 4 and {entry["role"] for entry in calls} == {"agent"}
    assert calls[0]["request"]["messages"] == [{"role": "user", "content": "Answer in one short sentence: What is 6 times 7?", "tool_calls": None, "tool_call_id": None, "name": None}]
    assert calls[0]["request"]["temperature"] == 0.0 and calls[3]["request"]["temperature"] == 0.2
    assert all(entry["request"]["max_tokens"] == 24 and entry["usage"]["output_tokens"] > 0 for entry in calls)
    usage = details["usage"]
    assert usage["execution"]["calls"] == 4 and usage["execution"]["output_tokens"] > 0 and usage["design"]["calls"] == 0
    assert details["design"]["source"] == "file" and details["run"]["agent_calls"] == 4
    assert [e.get("name", e["event"]) for e in ctx.transcript if "event" in e] == ["design", "mas_program", "run the program", "mas_run"]


FAILURES = {
    "syntax_error": ("from utils import *\nclass MAS(:\n    pass\n", "SyntaxError"),
    "no_mas": ("from utils import *\nclass Team:\n    pass\n", "defines no class MAS"),
    "no_forward": ("from utils import *\nclass MAS:\n    def __init__(self, model_list):\n        pass\n", "no callable forward"),
    "exception": (
        (
            "from utils import *\nclass MAS:\n    def __init__(self, model_list):\n        self.llm = LLM(model_list)\n"
            "    def forward(self, taskInfo):\n        return helper(taskInfo)\n\ndef helper(x):\n    return {}['missing']\n"
        ),
        "KeyError: 'missing'",
    ),
    "none_answer": ("from utils import *\nclass MAS:\n    def __init__(self, model_list):\n        pass\n    def forward(self, taskInfo):\n        print('thinking')\n", "returned None"),
    "exited": ("import os\nclass MAS:\n    def __init__(self, model_list):\n        pass\n    def forward(self, taskInfo):\n        os._exit(3)\n", "exit status 3"),
}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("status", sorted(FAILURES))
async def test_each_failure_kind_has_its_status(box, model, tmp_path, status):
    program, evidence = FAILURES[status]
    answer, _ = await solve(box, model, tmp_path, program)
    details = answer.details
    assert details["status"] == status and details["failed"] and answer.text == ""
    assert evidence in details["detail"]
    if status == "exception":
        assert 'File "mas_program.py", line 9, in helper' in details["detail"], "the traceback is kept"
        assert "run_mas.py" not in details["detail"], "the runner's own frame is not shown"
    if status == "none_answer":
        assert details["run"]["stdout"] == "thinking\n"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_program_past_its_time_limit_is_killed(box, model, tmp_path):
    started = time.monotonic()
    answer, _ = await solve(box, model, tmp_path, "import time\nclass MAS:\n    def __init__(self, m):\n        pass\n    def forward(self, q):\n        time.sleep(60)\n", timeout="2")
    assert answer.details["status"] == "timeout" and answer.text == ""
    assert time.monotonic() - started < 30


LOOP = """from utils import *
class MAS:
    def __init__(self, model_list):
        self.llm = LLM(model_list)
    def forward(self, taskInfo):
        while True:
            try:
                self.llm.call_llm("Say hi.")
            except:  # swallows everything, BudgetExhausted included
                pass
"""


@pytest.mark.asyncio(loop_scope="module")
async def test_the_budget_stops_a_program_that_loops_over_call_llm(box, model, tmp_path):
    started = time.monotonic()
    answer, ctx = await solve(box, model, tmp_path, LOOP, max_calls="3", agent_max_tokens="4")
    details = answer.details
    assert details["status"] == "budget_exhausted" and details["failed"] and "max_calls" in details["detail"]
    assert details["run"]["agent_calls"] == 3 and ctx.meters["agent"].calls == 3
    assert time.monotonic() - started < 60, "ended when the budget was spent, not at the time limit"
    # without the bare except, the program ends by itself with BudgetExhausted
    plain = LOOP.replace("            try:\n                self.llm.call_llm(\"Say hi.\")\n            except:  # swallows everything, BudgetExhausted included\n                pass\n", "            self.llm.call_llm('Say hi.')\n")
    answer, _ = await solve(box, model, tmp_path, plain, max_sample_tokens="1", agent_max_tokens="4")
    assert answer.details["status"] == "budget_exhausted" and "max_sample_tokens" in answer.details["detail"]
    assert answer.details["run"]["agent_calls"] == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_a_program_gets_no_network_and_no_host_files(box, model, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    answer, _ = await solve(box, model, tmp_path, DATA / "escape.py", query=str(secret))
    assert answer.details["status"] == "answered", answer.details["detail"]
    got = json.loads(answer.text)
    nested = json.loads(got["nested"].split("Final output: ", 1)[1].split("\nPrint during execution:", 1)[0])
    for probe in (got["direct"], nested):
        assert all(value.startswith("refused") for key, value in probe.items() if key != "/home"), probe
        assert probe["/home"] in ([], "refused: FileNotFoundError"), probe
    assert "host secret" not in answer.text


@pytest.mark.asyncio(loop_scope="module")
async def test_no_code_block_uses_the_fallback_or_fails_and_is_flagged(box, model, tmp_path):
    query = "What is 2 + 2?"
    cache = ProgramCache(tmp_path / "cache")
    key = design_key("llamacpp:smollm2", MasGpt({}).settings.prompt_sha256, query, 4096, 0.0)
    cache.store(key, {"reply": "I would use a team of agents.", "usage": {"input_tokens": 700, "output_tokens": 7, "cost": 0.0}})
    options = {**FAST, "cache_dir": str(tmp_path / "cache"), "agent_max_tokens": "8"}
    ctx = context(box, model)
    answer = await MasGpt(options).solve(Sample("qa", "0", query), ctx)
    details = answer.details
    assert details["flagged"] == ["no_code_block", "fallback_used"] and details["design"]["source"] == "cache"
    assert details["status"] == "answered" and ctx.meters["agent"].calls == 4, "three solvers and a judge"
    assert ctx.meters["designer"].calls == 0, "a cached design costs no designer call"
    assert details["design"]["usage"]["input_tokens"] == 700, "the cached design's own usage is kept"
    answer = await MasGpt({**options, "fallback": "none"}).solve(Sample("qa", "0", query), context(box, model))
    assert answer.details["status"] == "no_code_block" and answer.details["failed"] and answer.text == ""
    assert answer.details["flagged"] == ["no_code_block"]
    assert DESIGNER_PROMPT.startswith("You design multi-agent systems")
