"""Task qa: MAS-GPT's dataset format, math-verify for mathematical answers, normalized exact match
otherwise, tags from tag/source, clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness_qa import QA, exact_match, final_answer, is_mathematical, normalize
from hypothesis import given, settings
from hypothesis import strategies as st
from math_verify import parse, verify

from harness import Answer, ConfigError

DATA = Path(__file__).resolve().parent / "data" / "qa"


async def _score(task: QA, sample_id: str, text: str):
    sample = next(s for s in task.samples() if s.id == sample_id)
    return await task.score(sample, Answer(text), ctx=None)


def test_loads_a_json_list_with_ids_prompts_and_tags():
    task = QA({"path": str(DATA / "math.json")})
    samples = task.samples()
    assert [s.id for s in samples] == ["0", "1", "2"]
    assert samples[0].prompt.startswith("What is 6 times 7")
    assert samples[0].tags == ("arithmetic", "handmade") and samples[2].tags == ("choice",)
    assert samples[0].input == {}, "the ground truth must not reach the system"
    identity = task.dataset_identity()
    assert identity["count"] == 3 and len(identity["sha256"]) == 64 and identity["source"].endswith("math.json")


def test_loads_json_lines():
    task = QA({"path": str(DATA / "words.jsonl")})
    assert [s.tags for s in task.samples()] == [("geography",), ()]


async def test_math_answers_are_judged_by_math_verify():
    task = QA({"path": str(DATA / "math.json")})
    assert (await _score(task, "0", "Six sevens: 6*7 = 42. The answer is \\boxed{42}.")).status == "passed"
    assert (await _score(task, "0", "The answer is \\boxed{41}.")).status == "failed"
    half = await _score(task, "1", "So one half is $0.5$.")
    assert half.status == "passed" and half.details["match"] == "math"
    assert (await _score(task, "1", "It is \\boxed{\\frac{2}{4}}")).status == "passed"


async def test_choices_and_words_use_normalized_exact_match():
    task = QA({"path": str(DATA / "math.json")})
    choice = await _score(task, "2", "Let me think. The answer is (A).")
    assert choice.status == "passed" and choice.details["match"] == "exact" and choice.details["extracted"] == "(A)."
    assert (await _score(task, "2", "The answer is (B).")).status == "failed"
    words = QA({"path": str(DATA / "words.jsonl")})
    assert (await _score(words, "0", "The capital is well known.\nAnswer: paris!")).status == "passed"
    assert (await _score(words, "0", "Answer: Lyon")).status == "failed"
    assert (await _score(words, "1", "")).status == "failed", "an empty answer never matches"


async def test_match_option_forces_the_comparison():
    exact = QA({"path": str(DATA / "math.json"), "match": "exact"})
    assert (await _score(exact, "1", "The answer is 0.5")).status == "failed"
    assert (await _score(exact, "0", "The answer is 42")).status == "passed"
    math = QA({"path": str(DATA / "math.json"), "match": "math"})
    assert (await _score(math, "0", "I got 42")).details["match"] == "math"


def test_which_answers_are_mathematical():
    assert all(is_mathematical(gt) for gt in ["42", "-3.5", "\\frac{1}{2}", "x^2+1", "1,000", "\\sqrt{2}", "$3$"])
    assert not any(is_mathematical(gt) for gt in ["A", "yes", "Paris", "(B)", "New York", ""])


@pytest.mark.parametrize(
    ("gold", "reply", "expected"),
    [("42", "The answer is \\boxed{42}", True), ("\\frac{1}{2}", "so it is 0.5", True), ("1000", "about 1,000", True),
     ("3", "\\boxed{4}", False), ("\\sqrt{2}", "\\boxed{\\sqrt 2}", True), ("10", "nothing numeric", False)],
)
async def test_math_verdicts_are_math_verifys(tmp_path, gold, reply, expected):
    path = tmp_path / "one.json"
    path.write_text(json.dumps([{"query": "q", "gt": gold}]))
    task = QA({"path": str(path), "match": "math"})
    outcome = await _score(task, "0", reply)
    assert (outcome.status == "passed") == expected
    assert expected == verify(parse(f"${gold}$"), parse(reply)), "the expected value must be math-verify's own"


def test_numbers_as_ground_truth(tmp_path):
    path = tmp_path / "n.json"
    path.write_text(json.dumps([{"query": "q", "gt": 7}]))
    assert QA({"path": str(path)}).mode_for("7") == "math"


@pytest.mark.parametrize(
    ("content", "complaint"),
    [("[{\"query\": \"q\"}]", "lacks ['gt']"), ("[{\"gt\": \"1\"}]", "lacks ['query']"), ("[]", "holds no records"),
     ("{not json", "neither a JSON list nor JSON lines"), ("[{\"query\": [1], \"gt\": \"1\"}]", "must be text"),
     ("[{\"query\": \"q\", \"gt\": true}]", "must be text")],
)
def test_bad_files_name_the_problem(tmp_path, content, complaint):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        QA({"path": str(path)}).samples()


def test_bad_options_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="path=FILE"):
        QA({})
    with pytest.raises(ConfigError, match="match='fuzzy'"):
        QA({"path": "x.json", "match": "fuzzy"})
    with pytest.raises(ConfigError, match="unknown --task-opt"):
        QA({"path": "x.json", "split": "test"})
    with pytest.raises(ConfigError, match="cannot read"):
        QA({"path": str(tmp_path / "missing.json")}).samples()


def test_final_answer_prefers_boxed_then_the_answer_line():
    assert final_answer("x \\boxed{\\frac{1}{2}} and \\boxed{7}") == "7"
    assert final_answer("so \\boxed{{a}}") == "{a}"
    assert final_answer("Reasoning...\nThe final answer is: C\nThanks") == "C"
    assert final_answer("line one\n\nlast line\n") == "last line"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_normalization_is_idempotent_and_exact_match_accepts_the_answer_itself(text):
    assert normalize(normalize(text)) == normalize(text)
    if normalize(text) and "answer" not in text.lower() and "\n" not in text and "\r" not in text and "\\boxed" not in text and not any(
        c in text for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    ):
        assert exact_match(text, f"The answer is {text}")[0]


def test_the_path_is_recorded_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(DATA)
    task = QA({"path": "math.json"})
    assert task.options["path"] == str(DATA / "math.json") and len(task.samples()) == 3
