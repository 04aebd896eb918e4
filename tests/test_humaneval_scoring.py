"""The HumanEval scorer, through the real docker sandbox: canonical solutions pass, bad ones do not."""

from __future__ import annotations

import pytest
from conftest import DOCKER_CONFIG, require_docker, score_answers
from harness_humaneval import HumanEval
from harness_sandbox import DockerSandbox


@pytest.fixture(scope="module")
def docker_sandbox():
    require_docker("the HumanEval scorer tests")
    return DockerSandbox(DOCKER_CONFIG)


def score_all(sandbox, task, answers):
    """Score {sample_id: reply} in one pool; returns {sample_id: Outcome}."""
    return dict(zip(answers, score_answers(sandbox, task, list(answers.items()))))


def test_every_canonical_solution_passes(docker_sandbox):
    task = HumanEval({})
    answers = {tid: p["prompt"] + p["canonical_solution"] for tid, p in task.problems.items()}
    outcomes = score_all(docker_sandbox, task, answers)
    failing = {tid: o.output[-300:] for tid, o in outcomes.items() if o.status != "passed"}
    assert not failing, failing
    assert len(outcomes) == 164
    flagged = {tid: o.details["tamper"] for tid, o in outcomes.items() if o.details["tamper"]}
    assert flagged == {}, "a canonical solution carries tamper evidence"


def test_wrong_crashing_looping_and_memory_hungry_completions_fail(docker_sandbox):
    task = HumanEval({"timeout_floor": "2"})
    answers = {
        "HumanEval/0": "def has_close_elements(numbers, threshold):\n    return False\n",  # clearly wrong
        "HumanEval/2": "def truncate_number(number):\n    return number - int(number) + 0.001\n",  # subtly wrong
        "HumanEval/4": "def mean_absolute_deviation(numbers):\n    raise RuntimeError('boom')\n",  # crashing
        "HumanEval/7": "def filter_by_substring(strings, substring):\n    while True:\n        pass\n",  # looping
        "HumanEval/8": "def sum_product(numbers):\n    hog = bytearray(8 * 1024 ** 3)\n    return (0, 1)\n",  # memory
        "HumanEval/12": "def longest(strings):\n    import sys; print('noise'); sys.exit(3)\n",  # exits non-zero
        "HumanEval/13": "I am not sure how to do this.",  # no code at all
    }
    outcomes = score_all(docker_sandbox, task, answers)
    assert {tid: o.status for tid, o in outcomes.items()} == {
        "HumanEval/0": "failed",
        "HumanEval/2": "failed",
        "HumanEval/4": "error",
        "HumanEval/7": "timeout",
        "HumanEval/8": "error",
        "HumanEval/12": "error",
        "HumanEval/13": "failed",
    }
    assert "RuntimeError: boom" in outcomes["HumanEval/4"].output
    assert outcomes["HumanEval/8"].details["oom"] or "MemoryError" in outcomes["HumanEval/8"].output
    assert all(o.details["tier"] == "docker" for o in outcomes.values())
