"""Extraction scored for real, in the docker sandbox: every reply style of the corpus
(tests/reply_styles.py) rendered from all 164 correct HumanEval solutions, the inputs of issue 10
(section 2) as filed, and the MBPP reference solutions extraction changes.

A rendered reply goes through the task's own extraction (``extract=auto``); the programs it
yields are scored in one batch, once per distinct program (same problem, same AST).
"""

from __future__ import annotations

import ast
import json

import pytest
from conftest import (
    DOCKER_CONFIG,
    MBPP_DATA,
    harness,
    harness_env,
    last_json,
    records,
    require_docker,
    score_answers,
)
from harness_humaneval import HumanEval
from harness_mbpp import MBPP
from harness_sandbox import DockerSandbox
from reply_styles import ISSUE10, STYLES
from test_extract import ISSUE10_INPUTS

from harness.codetasks.extraction import parse_python

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def sandbox():
    require_docker("the extraction scoring tests")
    return DockerSandbox(DOCKER_CONFIG)


def program_key(task_id: str, prompt: str, code: str) -> tuple[str, str]:
    """Programs with the same key get the same verdict: same problem, same AST."""
    tree = parse_python(prompt + code)
    return task_id, ast.dump(tree) if tree else code


@pytest.fixture(scope="module")
def style_verdicts(sandbox):
    """{style: {task id: (status, last output)}} for every style and problem."""
    task, raw = HumanEval({}), HumanEval({"extract": "raw"})
    extracted: dict[tuple[str, str], str] = {}
    rendered: dict[str, dict[str, tuple[str, str]]] = {}
    for name, style in STYLES.items():
        for task_id, problem in task.problems.items():
            code, _ = task.extract_answer(problem, style(problem))
            key = program_key(task_id, problem["prompt"], code)
            extracted.setdefault(key, code)
            rendered.setdefault(name, {})[task_id] = key
    keys = list(extracted)
    outcomes = dict(zip(keys, score_answers(sandbox, raw, [(task_id, extracted[task_id, tree]) for task_id, tree in keys])))
    return {name: {task_id: (outcomes[key].status, outcomes[key].output[-300:]) for task_id, key in by_task.items()} for name, by_task in rendered.items()}


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES, ids=lambda s: s + (" [issue10]" if s in ISSUE10 else ""))
def test_every_canonical_solution_passes_in_every_reply_style(style_verdicts, style):
    verdicts = style_verdicts[style]
    assert len(verdicts) == 164
    failing = {task_id: verdict for task_id, verdict in verdicts.items() if verdict[0] != "passed"}
    assert not failing, failing


def test_issue10_inputs_pass_through_the_task_scorer(sandbox):
    outcomes = score_answers(sandbox, HumanEval({}), list(ISSUE10_INPUTS.values()))
    statuses = {name: (o.status, o.output[-300:]) for name, o in zip(ISSUE10_INPUTS, outcomes)}
    assert all(status == "passed" for status, _ in statuses.values()), statuses
    assert all(o.details["tier"] == "docker" for o in outcomes)


def test_issue10_inputs_pass_through_harness_score(tmp_path):
    """`harness score` as typed (its default, extract=completion) on a samples file of every
    input of the issue: several completions for one problem are its repeats."""
    samples = tmp_path / "issue10.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in ISSUE10_INPUTS.values()))
    env = harness_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    result = harness("score", "--task", "humaneval", str(samples), "--run-id", "issue10", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert last_json(result.stdout)["counts"]["passed"] == len(ISSUE10_INPUTS)
    assert {r["status"] for r in records(tmp_path / "results" / "issue10")} == {"passed"}


@pytest.mark.parametrize("config", ["full", "sanitized"])
def test_no_mbpp_reference_is_mangled(sandbox, config):
    """Extraction leaves every MBPP reference as it is, or changes it into a program that
    still passes (it drops unused imports and constants)."""
    options = {"path": str(MBPP_DATA), "config": config, "split": "all"}
    task, raw = MBPP(options), MBPP(options | {"extract": "raw"})
    changed = {}
    for sample_id, problem in task.problems.items():
        code, _ = task.extract_answer(problem, task.reference(problem))
        if code.strip() != problem["code"].replace("\r\n", "\n").strip():
            changed[sample_id] = code
    assert len(task.problems) == (974 if config == "full" else 427) and 0 < len(changed) < 30
    outcomes = score_answers(sandbox, raw, list(changed.items()))
    failing = {sample_id: o.output[-300:] for sample_id, o in zip(changed, outcomes) if o.status != "passed"}
    assert not failing, failing
