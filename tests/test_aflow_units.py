"""AFlow's parts that need no sandbox or model: parent selection (probabilities against numbers
computed by hand), convergence on hand-made scores, rejection of repeated modifications, the
optimizer's reply format, the tests a statement shows, the search folder's journal, options."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
from harness_aflow import settings as aflow_settings
from harness_aflow.folder import SearchFolder, SearchState
from harness_aflow.prompting import Child, experience
from harness_aflow.replies import Unusable, parse_reply
from harness_aflow.search import (
    candidate_rounds,
    choose_parent,
    convergence,
    selection_probabilities,
    tried_before,
)
from harness_aflow.system import AFlow
from harness_aflow.visible_tests import doctest_examples, visible_tests
from harness_aflow.workflows import INITIAL, INITIAL_GRAPH
from harness_humaneval import HumanEval
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError

SANDBOXED = Path(__file__).resolve().parent.parent / "plugins" / "harness_aflow" / "sandboxed"


def _sandboxed(name: str):
    """A module of the library shipped into the sandbox (plain standard library), loaded here."""
    sys.path.insert(0, str(SANDBOXED))
    try:
        spec = importlib.util.spec_from_file_location(f"aflow_sandboxed_{name}", SANDBOXED / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SANDBOXED))


# --- parent selection ---------------------------------------------------------------------------

#: scores -> probabilities, by hand: softmax(0.2 * (100 * s - max)) mixed 0.7 with 0.3 uniform.
#: e.g. [0.5, 0.4]: weights 1 and e^-2 = 0.1353353; softmax 0.8807971, 0.1192029;
#: 0.3/2 + 0.7 * 0.8807971 = 0.7665580.
HAND = [
    ([0.5, 0.4], [0.7665579546, 0.2334420454]),
    ([1.0, 2 / 3, 0.0], [0.7991102872, 0.1008897114, 0.1000000014]),
    ([2 / 3, 0.0], [0.8499988663, 0.1500011337]),
    ([0.8, 0.8, 0.8, 0.8], [0.25, 0.25, 0.25, 0.25]),
    ([0.3], [1.0]),
]


@pytest.mark.parametrize(("scores", "expected"), HAND)
def test_selection_probabilities_match_the_hand_computed_ones(scores, expected):
    assert selection_probabilities(scores) == pytest.approx(expected, rel=1e-9, abs=1e-10)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_probabilities_are_a_distribution_ordered_like_the_scores_with_a_uniform_floor(scores):
    probabilities = selection_probabilities(scores)
    assert sum(probabilities) == pytest.approx(1.0)
    assert all(p >= 0.3 / len(scores) - 1e-12 for p in probabilities)
    for (a, pa), (b, pb) in zip(zip(scores, probabilities), zip(scores[1:], probabilities[1:])):
        assert (pa >= pb - 1e-12) if a >= b else (pa <= pb + 1e-12)


def test_candidates_are_round_1_and_the_best_others():
    means = {1: 0.2, 2: 0.9, 3: 0.5, 4: 0.9, 5: 0.1, 6: 0.7}
    assert candidate_rounds(means, 4) == [(2, 0.9), (4, 0.9), (6, 0.7), (1, 0.2)]
    assert candidate_rounds(means, 1) == [(1, 0.2)]
    assert candidate_rounds({1: 0.5}, 4) == [(1, 0.5)]
    assert candidate_rounds({2: 0.5, 3: 0.6}, 1) == [(3, 0.6)], "without a scored round 1, the best one"


def test_draws_follow_the_probabilities():
    """10,000 draws of a parent among rounds scored 0.5 and 0.4: round 1 about 76.7% of the time."""
    rng = random.Random(7)
    counts = Counter(choose_parent({1: 0.5, 2: 0.4}, 4, rng).parent for _ in range(10_000))
    assert counts[1] / 10_000 == pytest.approx(0.7665579546, abs=0.015)


def test_a_choice_records_what_it_was_drawn_from():
    choice = choose_parent({1: 1.0, 2: 2 / 3, 3: 0.0}, 4, random.Random("0:4"))
    assert choice.candidates == [1, 2, 3] and choice.scores == [1.0, 2 / 3, 0.0]
    assert choice.probabilities == pytest.approx([0.7991102872, 0.1008897114, 0.1000000014])
    assert choice.parent in choice.candidates


# --- rejection of repeats -----------------------------------------------------------------------


def test_a_modification_tried_on_the_parent_is_a_repeat_whatever_its_case_and_spacing():
    earlier = ["Add a Test step after generating", "Use ScEnsemble over three candidates"]
    assert tried_before("add a test  step\nafter generating", earlier)
    assert not tried_before("Add a Test step before generating", earlier)
    assert not tried_before("anything", [])


# --- convergence ----------------------------------------------------------------------------------


def test_convergence_after_five_rounds_without_a_move_of_the_top_three():
    means = [0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]  # the top-3 mean reaches 0.7 in round 5
    rounds = list(range(1, 11))
    assert convergence(rounds[:9], means[:9], [0.0] * 9).converged is False  # rounds 6-9 held: four
    verdict = convergence(rounds, means, [0.0] * 10)
    assert (verdict.converged, verdict.first_round, verdict.last_round) == (True, 6, 10)


def test_a_better_round_resets_the_count():
    means = [0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.5, 0.5, 0.5, 0.5]
    assert convergence(list(range(1, 11)), means, [0.0] * 10).converged is False  # held 2-5, moved at 6, held 7-10: four each
    verdict = convergence(list(range(1, 12)), [*means, 0.5], [0.0] * 11)
    assert (verdict.first_round, verdict.last_round) == (7, 11)


def test_too_few_rounds_never_converge_and_round_numbers_are_reported_as_given():
    assert convergence([1, 2, 3], [0.5] * 3, [0.0] * 3).converged is False
    verdict = convergence([1, 3, 4, 6, 7, 8, 9], [0.5] * 7, [0.0] * 7)  # rounds 2 and 5 had no workflow
    assert (verdict.converged, verdict.first_round, verdict.last_round) == (True, 3, 8)  # still from the 2nd scored round on


def test_a_move_within_z_standard_errors_counts_as_still():
    means = [0.60, 0.61, 0.60, 0.61, 0.60, 0.61, 0.60]
    stds = [0.05] * 7
    assert convergence(list(range(1, 8)), means, stds).converged is False  # z = 0: any move counts
    assert convergence(list(range(1, 8)), means, stds, z=1.0).converged is True


# --- the optimizer's reply ----------------------------------------------------------------------

GRAPH = "class Workflow:\n    def __init__(self, llm):\n        self.llm = llm\n\n    async def __call__(self, problem, entry_point):\n        return await self.llm(problem)\n"


def test_a_reply_with_fenced_sections_is_read():
    reply = f"Sure.\n<modification>Ask  the model\ndirectly</modification>\n<graph>\n```python\n{GRAPH}```\n</graph>\n<prompt>\n```python\nX = 'a'\n```\n</prompt>\nDone."
    proposal = parse_reply(reply)
    assert proposal.modification == "Ask the model directly"
    assert proposal.graph == GRAPH and proposal.prompt == "X = 'a'\n"


def test_think_sections_are_ignored_and_an_unclosed_last_section_runs_to_the_end():
    reply = f"<think><graph>x = (</graph></think><modification>m</modification><graph>{GRAPH}</graph><prompt>Y = 1\n"
    proposal = parse_reply(reply)
    assert proposal.graph == GRAPH and proposal.prompt == "Y = 1\n"


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("I would improve it.", "no <modification> and no <graph>"),
        ("<modification>m</modification><prompt>X = 1</prompt>", "no <graph>"),
        (f"<modification>  </modification><graph>{GRAPH}</graph>", "no <modification>"),
        ("<modification>m</modification><graph>class Workflow(:\n</graph><prompt></prompt>", "graph.py is not valid Python: line 1"),
        (f"<modification>m</modification><graph>{GRAPH}</graph><prompt>X = 'unclosed</prompt>", "prompt.py is not valid Python"),
    ],
)
def test_an_unusable_reply_is_refused_with_the_reason(reply, why):
    with pytest.raises(Unusable, match=why):
        parse_reply(reply)


def test_a_reply_without_prompt_gets_an_empty_prompt_module():
    assert parse_reply(f"<modification>m</modification><graph>{GRAPH}</graph>").prompt == ""


def test_experience_says_how_each_modification_went():
    text = experience(0.5, [Child(2, "more tests", 0.7), Child(3, "shorter prompt", 0.2), Child(4, "rename", 0.5)])
    assert "round 2: more tests -> raised the score to 0.700" in text
    assert "round 3: shorter prompt -> lowered the score to 0.200" in text
    assert "round 4: rename -> left the score at 0.500" in text and "do not repeat" in text
    assert experience(0.5, []) == "Nothing has been tried on this workflow yet."


# --- visible tests ------------------------------------------------------------------------------


def test_humaneval_statements_give_tests_that_its_canonical_solutions_pass():
    task = HumanEval({})
    with_tests = 0
    for sample in task.samples():
        problem = task.problems[sample.id]
        tests = visible_tests(sample.prompt, sample.input["entry_point"])
        with_tests += bool(tests)
        space: dict = {}
        exec(problem["prompt"] + problem["canonical_solution"], space)
        for test in tests:
            if sample.id == "HumanEval/47":  # its docstring's example is wrong: the reference gives 8.0, not 15.0
                continue
            exec(test, space)
    assert with_tests == 112


def test_prose_examples_are_no_tests():
    prompt = 'def f(s):\n    """\n    f(a) == True\n    f("ab") ➞ 2\n    f(3) => [1, 2]\n    """\n'
    assert visible_tests(prompt, "f") == ['assert f("ab") == 2', "assert f(3) == [1, 2]"]
    assert doctest_examples(">>> g(1,\n... 2)\n3\n>>> h()\n") == [("g(1,\n2)", "3"), ("h()", "")]


def test_mbpp_asserts_are_taken_as_shown():
    prompt = "Write f. Your code should pass these tests:\n\nassert f(1) == 2\nassert f(2)==3\n\nReply with code."
    assert visible_tests(prompt, "f") == ["assert f(1) == 2", "assert f(2)==3"]


# --- the library shipped into the sandbox -------------------------------------------------------


def test_code_is_taken_from_the_block_that_defines_the_entry_point():
    operators = _sandboxed("operators")
    reply = "First:\n```python\nimport math\n```\nThen:\n```python\ndef f(x):\n    return x\n```\n```\nnot this\n```"
    assert operators.extract_code(reply, "f") == "def f(x):\n    return x\n"
    assert operators.extract_code("```py\nprint(1)\n```", "g") == "print(1)\n"
    assert operators.extract_code("def f(): pass", "f") == "def f(): pass\n"


@pytest.mark.parametrize(("reply", "letter"), [("B is best.\nAnswer: C", "C"), ("I pick (A).", "A"), ("answer is b", "B"), ("none", None), ("Answer: Z", None)])
def test_the_ensembles_choice_is_read_from_its_reply(reply, letter):
    operators = _sandboxed("operators")
    assert operators._chosen_letter(reply, ["A", "B", "C"]) == letter


def test_what_a_workflow_returns_is_read_as_the_solutions_code():
    runner = _sandboxed("runner")
    assert runner.solution_text("x = 1") == "x = 1"
    assert runner.solution_text(("def f(): pass", 0.01)) == "def f(): pass"
    assert runner.solution_text({"code": "c", "response": "r"}) == "c"
    assert runner.solution_text({"response": "r"}) == "r"
    assert runner.solution_text(None) is None and runner.solution_text("  ") is None and runner.solution_text(3) is None


# --- the search folder --------------------------------------------------------------------------


def test_the_journal_replays_a_search_and_a_torn_last_line_is_dropped(tmp_path):
    folder = SearchFolder.create(tmp_path, "s")
    folder.append("start", invocation=1)
    folder.append("workflow", round=1, parent=None, modification="initial")
    folder.append("pass", round=1, **{"pass": 1}, score=0.5, usage={"calls": 3, "cost": 0.01}, seconds=2.0)
    folder.append("pass", round=1, **{"pass": 2}, score=1.0, usage={"calls": 3, "cost": 0.01}, seconds=2.0)
    folder.append("round_done", round=1)
    folder.append("attempt", round=2, outcome="unusable", why="x", usage={"calls": 1, "cost": 0.5}, seconds=1.0)
    folder.append("no_workflow", round=2, parent=1, why="refused")
    folder.append("workflow", round=3, parent=1, modification="m")
    folder.append("pass", round=3, **{"pass": 1}, score=0.75, usage={}, seconds=1.0)
    folder.append("round_done", round=3)
    with (folder.path / "journal.jsonl").open("a") as fh:
        fh.write('{"event": "pass", "round": 3, "pass": 2, "sco')  # a kill mid-line
    state = folder.state()
    assert state.rounds[1].scores == [0.5, 1.0] and state.rounds[1].mean == 0.75 and state.rounds[1].std == 0.25
    assert state.rounds[2].no_workflow == "refused" and state.rounds[2].done and state.rounds[2].optimizer_usage()["cost"] == 0.5
    assert state.best().number == 1, "equal means: the earlier round"
    assert state.rounds[1].row()["executor"] == {"calls": 6, "input_tokens": 0, "output_tokens": 0, "cost": 0.02} and state.rounds[1].seconds == 4.0
    folder.drop_torn_tail()
    text = (folder.path / "journal.jsonl").read_text()
    assert text.endswith("\n") and json.loads(text.splitlines()[-1])["event"] == "round_done" and len(text.splitlines()) == 10
    folder.lock.release()


def test_server_time_adds_up_over_invocations():
    state = SearchState()
    state.apply({"event": "serving", "invocation": 1, "serving": {"llamacpp:x": {"server_seconds": 10.0, "hour_price": 3.6, "cost": 0.01}}})
    state.apply({"event": "serving", "invocation": 1, "serving": {"llamacpp:x": {"server_seconds": 20.0, "hour_price": 3.6, "cost": 0.02}}})  # later snapshot
    state.apply({"event": "serving", "invocation": 2, "serving": {"llamacpp:x": {"server_seconds": 5.0, "hour_price": 3.6, "cost": 0.005}}})
    assert state.server_time() == {"llamacpp:x": {"server_seconds": 25.0, "hour_price": 3.6, "cost": 0.025}}


def test_a_search_id_is_taken_once(tmp_path):
    SearchFolder.create(tmp_path, "same").lock.release()
    with pytest.raises(Exception, match="already exists.*--resume same"):
        SearchFolder.create(tmp_path, "same")


# --- system options -----------------------------------------------------------------------------


def test_without_a_workflow_the_system_runs_the_initial_one():
    system = AFlow({})
    assert system.workflow == INITIAL and system.describe()["workflow"]["graph"] == INITIAL_GRAPH and "search" not in system.describe()


def test_a_workflow_folder_is_recorded_absolute(tmp_path, monkeypatch):
    INITIAL.write(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    system = AFlow({"workflow": "mine"})
    assert system.options["workflow"] == str(tmp_path / "mine") and system.workflow == INITIAL


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"max_tokens": "0"}, "max_tokens='0': give a whole number >= 1"),
        ({"timeout": "-1"}, "timeout='-1': give a number > 0"),
        ({"temperature": "hot"}, "temperature='hot': give a number >= 0"),
        ({"workflow": "/nonexistent/x"}, "holds neither a search"),
        ({"workflow": "/nonexistent/x:3"}, "is no search folder"),
        ({"max_token": "5"}, r"unknown --system-opt \['max_token'\]"),
    ],
)
def test_bad_system_options_are_refused_by_name(options, why):
    with pytest.raises(ConfigError, match=why):
        aflow_settings.parse_settings(options)
