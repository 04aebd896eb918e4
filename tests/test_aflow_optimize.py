"""`harness optimize` with a scripted optimizer (tests/plugins/harness_test_aflow_scripted.py) and a
scripted executor, workflows in the docker sandbox: refused and repeated modifications, a workflow
that raises or fails to load scored as a failure and shown to the optimizer, parent selection
with hand-computed probabilities, kill -9 and resume, `harness show`, and the workflow found
scored on the test side with its search's cost on the leaderboard and its chart in the report."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import harness, harness_env, last_json, records

pytestmark = [pytest.mark.docker]

PLUGINS = ["-p", "harness_aflow", "-p", "harness_test_scripted", "-p", "harness_test_aflow_scripted"]
#: The first three validation problems of HumanEval; the executor answers HumanEval/2 wrongly.
VALIDATION = ["humaneval::HumanEval/2", "humaneval::HumanEval/11", "humaneval::HumanEval/18"]
EXECUTOR = "executor=scripted:canonical?wrong=HumanEval/2&cost=0.0001"


def reply(modification: str, graph: str, prompt: str = "") -> str:
    return f"<modification>{modification}</modification>\n<graph>\n```python\n{graph}```\n</graph>\n<prompt>\n{prompt}</prompt>"


RAISES = """class Workflow:
    def __init__(self, llm):
        self.generate = CustomCodeGenerate(llm)

    async def __call__(self, problem, entry_point):
        await self.generate(problem=problem, entry_point=entry_point)
        raise ValueError("scripted failure in " + entry_point)
"""
FAILS_TO_LOAD = "import no_such_module\n"
PLAIN = """import prompt


class Workflow:
    def __init__(self, llm):
        self.generate = CustomCodeGenerate(llm)

    async def __call__(self, problem, entry_point):
        return (await self.generate(problem=problem, entry_point=entry_point, instruction=prompt.ASK))["code"]
"""


def write_script(path: Path, steps: list[dict]) -> str:
    path.write_text(json.dumps({"steps": steps, "log": str(path.with_suffix(".log.jsonl"))}))
    return f"optimizer=aflowscript:{path}"


def logged(script: Path) -> list[dict]:
    return [json.loads(line) for line in script.with_suffix(".log.jsonl").read_text().splitlines()]


def journal(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]


def optimize(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return harness("optimize", *PLUGINS, "--task", "humaneval", "--limit", "3", *args, cwd=workdir, timeout=timeout)


# --- a search where the parent is always round 1 (--sample 1) -------------------------------------


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("aflow")
    script = workdir / "script.json"
    optimizer = write_script(script, [
        {"reply": "I would make the workflow better."},
        {"reply": reply("Raise after generating", RAISES)},
        {"reply": reply("raise   AFTER generating", "class Workflow:\n    pass\n")},
        {"reply": reply("Import a module that does not exist", FAILS_TO_LOAD)},
        {"reply": reply("Ask with a shorter instruction", PLAIN, 'ASK = "Write the function.\\n"\n')},
    ])  # fmt: skip
    proc = optimize(workdir, "--role", optimizer, "--role", EXECUTOR, "--max-rounds", "4", "--sample", "1", "--validation-rounds", "2", "--id", "s1", "--json")
    return workdir, script, proc


def test_the_search_completes_with_every_rounds_code_and_scores_on_disk(searched):
    workdir, _, proc = searched
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = last_json(proc.stdout)
    folder = workdir / "results" / "optimize" / "s1"
    assert summary["status"] == "finished" and summary["folder"] == str(folder)
    assert [r["scores"] for r in summary["rounds"]] == [[2 / 3, 2 / 3], [0.0, 0.0], [0.0, 0.0], [2 / 3, 2 / 3]]
    assert summary["best_round"] == 1, "round 4 ties round 1: the earlier one is best"
    for number in (1, 2, 3, 4):
        round_dir = folder / "rounds" / f"round_{number}"
        assert (round_dir / "graph.py").is_file() and (round_dir / "prompt.py").is_file()
        described = json.loads((round_dir / "round.json").read_text())
        assert described["result"]["scores"] == summary["rounds"][number - 1]["scores"]
        for validation_pass in (1, 2):
            run = folder / "runs" / f"round-{number}-pass-{validation_pass}"
            assert sorted(r["node_id"] for r in records(run)) == sorted(VALIDATION)
            assert json.loads((run / "run.json").read_text())["system"]["options"]["workflow"] == f"{folder}:{number}"
    assert (folder / "rounds" / "round_4" / "prompt.py").read_text() == 'ASK = "Write the function.\\n"\n'
    assert json.loads((folder / "rounds" / "round_2" / "experience.json").read_text()) == {
        "parent": 1, "modification": "Raise after generating", "before": 2 / 3, "after": 0.0, "improved": False,
    }  # fmt: skip
    assert (folder / "score_per_round.svg").read_text().startswith("<?xml") and (folder / "score_per_round.png").stat().st_size > 1000
    spec = json.loads((folder / "optimization.json").read_text())
    assert spec["node_ids"] == VALIDATION and spec["task_options"] == {"holdout": "validation"} and spec["dataset"]["holdout"] == "validation"


def test_unusable_and_repeated_replies_are_refused_recorded_and_asked_again(searched):
    workdir, script, _ = searched
    events = journal(workdir / "results" / "optimize" / "s1")
    attempts = [(e["round"], e["outcome"]) for e in events if e["event"] == "attempt"]
    assert attempts == [(2, "unusable"), (2, "accepted"), (3, "repeated"), (3, "accepted"), (4, "accepted")]
    refused = [e for e in events if e["event"] == "attempt" and e["outcome"] != "accepted"]
    assert refused[0]["reply"] == "I would make the workflow better." and "no <modification> and no <graph>" in refused[0]["why"]
    assert "'raise AFTER generating' was already tried on round 1 (round 2)" in refused[1]["why"]
    asked = logged(script)
    assert "Your previous reply for this round could not be used: the reply has no <modification>" in asked[1]["messages"][-1]
    assert "was already tried on round 1 (round 2); propose a different one" in asked[3]["messages"][-1]


def test_a_workflow_that_raises_or_fails_to_load_is_a_scored_failure(searched):
    workdir, _, _ = searched
    runs = workdir / "results" / "optimize" / "s1" / "runs"
    for record in records(runs / "round-2-pass-1"):
        assert record["status"] == "failed" and record["answer"] == ""
        assert record["answer_details"]["status"] == "exception"
        assert "ValueError: scripted failure in" in record["answer_details"]["detail"]
        assert record["roles"]["executor"]["calls"] == 1, "the workflow's call before it raised was made and metered"
    for record in records(runs / "round-3-pass-2"):
        assert record["status"] == "failed" and record["answer_details"]["status"] == "load_error"
        assert "ModuleNotFoundError: No module named 'no_such_module'" in record["answer_details"]["detail"]


def test_the_optimizer_is_shown_failures_and_what_was_tried_on_the_parent(searched):
    _, script, _ = searched
    asked = logged(script)
    round_2 = asked[0]["messages"][-1]
    assert "### Failure 1: humaneval::HumanEval/2" in round_2 and "AssertionError" in round_2 and "def nothing():" in round_2
    assert "Nothing has been tried on this workflow yet." in round_2 and "It solved 66.7% of the validation problems (mean of 2" in round_2
    round_3 = asked[2]["messages"][-1]
    assert "- round 2: Raise after generating -> lowered the score to 0.000 (worse: avoid it)" in round_3
    round_4 = asked[4]["messages"][-1]
    assert "round 2: Raise after generating" in round_4 and "round 3: Import a module that does not exist" in round_4


def test_costs_and_times_per_round_keep_optimizer_and_executor_apart(searched):
    workdir, _, proc = searched
    summary = last_json(proc.stdout)
    rows = {r["round"]: r for r in summary["rounds"]}
    assert [rows[n]["optimizer"]["calls"] for n in (1, 2, 3, 4)] == [0, 2, 2, 1]
    assert rows[2]["optimizer"]["cost"] == pytest.approx(0.002) and rows[4]["optimizer"]["cost"] == pytest.approx(0.001)
    assert rows[1]["executor"]["calls"] == 6 and rows[1]["executor"]["cost"] == pytest.approx(0.0006)  # 3 problems x 2 passes
    assert rows[3]["executor"]["calls"] == 0, "a workflow that does not load calls nothing"
    assert all(rows[n]["seconds"] > 0 for n in rows)
    assert summary["optimizer_cost"] == pytest.approx(0.005) and summary["executor_cost"] == pytest.approx(0.0006 + 0.0006 + 0.0006)
    assert summary["cost"] == pytest.approx(summary["optimizer_cost"] + summary["executor_cost"])
    shown = harness("show", *PLUGINS, "s1", cwd=workdir)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    row_4 = next(line for line in lines if line.strip().startswith("4 "))
    assert "0.667 ± 0.000" in row_4 and "0.0010" in row_4 and "0.0006" in row_4 and "Ask with a shorter instruction" in row_4
    assert "best round 1; cost $0.0068 (optimizer $0.0050, executor $0.0018" in shown.stdout


def test_the_found_workflow_is_scored_on_the_test_side_with_its_search_cost(searched):
    workdir, _, _ = searched
    folder = workdir / "results" / "optimize" / "s1"
    run = harness("run", *PLUGINS, "--system", "aflow", "--system-opt", f"workflow={folder}:4", "--task", "humaneval", "--task-opt", "holdout=test",
                  "--limit", "3", "--backend", "scripted:canonical", "--json", cwd=workdir)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    summary = last_json(run.stdout)
    assert summary["metrics"]["pass@1"] == 1.0
    spec = json.loads((workdir / "results" / summary["run_id"] / "run.json").read_text())
    assert spec["task"]["dataset"]["holdout"] == "test" and not set(spec["selection"]["selected"]) & set(VALIDATION)
    assert spec["system"]["options"] == {"workflow": f"{folder}:4"} and spec["system"]["workflow"]["source"] == "search s1, round 4"
    assert spec["system"]["search"]["round"] == 4 and spec["system"]["search"]["cost"] == pytest.approx(0.0068)
    assert 'ASK = "Write the function.\\n"' in spec["system"]["workflow"]["prompt"]
    board = harness("leaderboard", *PLUGINS, "--format", "json", cwd=workdir)
    row = json.loads(board.stdout)[0]
    assert row["options"] == f"workflow={folder}:4 task.holdout=test" and row["search_cost"] == pytest.approx(0.0068)
    table = harness("leaderboard", *PLUGINS, cwd=workdir).stdout
    assert "search $" in table and "0.0068" in table
    page = workdir / "report.html"
    assert harness("report", *PLUGINS, "--output", str(page), cwd=workdir).returncode == 0
    html = page.read_text()
    assert '<h2 id="searches">Searches</h2>' in html and 'aria-label="AFlow search s1: validation score per round"' in html
    default = harness("run", *PLUGINS, "--system", "aflow", "--system-opt", f"workflow={folder}", "--task", "humaneval", "--task-opt", "holdout=test",
                      "--limit", "1", "--backend", "scripted:canonical", "--json", cwd=workdir)  # fmt: skip
    spec = json.loads((workdir / "results" / last_json(default.stdout)["run_id"] / "run.json").read_text())
    assert spec["system"]["options"] == {"workflow": f"{folder}:1"}, "without a round: the best one, recorded"


def test_resume_refuses_changed_options_and_grows_the_search(searched):
    workdir, script, _ = searched
    refused = harness("optimize", *PLUGINS, "--resume", "s1", "--sample", "2", cwd=workdir)
    assert refused.returncode == 2 and "--sample cannot change" in refused.stderr
    write_script(script, [{"reply": reply("Ask twice as briefly", PLAIN, 'ASK = "Code:\\n"\n')}])
    grown = harness("optimize", *PLUGINS, "--resume", "s1", "--max-rounds", "5", "--json", cwd=workdir)
    assert grown.returncode == 0, grown.stderr[-3000:]
    summary = last_json(grown.stdout)
    assert [r["round"] for r in summary["rounds"]] == [1, 2, 3, 4, 5] and summary["rounds"][4]["scores"] == [2 / 3, 2 / 3]
    events = journal(workdir / "results" / "optimize" / "s1")
    assert [e["invocation"] for e in events if e["event"] == "start"] == [1, 2]
    assert sum(e["event"] == "pass" for e in events) == 10, "no earlier pass was run again"
    spec = json.loads((workdir / "results" / "optimize" / "s1" / "optimization.json").read_text())
    assert spec["settings"]["max_rounds"] == 5 and spec["resume_changes"][0]["max_rounds"] == {"from": 4, "to": 5}


# --- parent selection -------------------------------------------------------------------------------

#: Round 3 draws between round 1 (2/3) and round 2 (0, it raises): by hand, p = 0.3/2 + 0.7 *
#: softmax(0.2 * (66.67 - 66.67), 0.2 * (0 - 66.67)) = (0.8499988663, 0.1500011337).
ROUND_3_PROBABILITIES = [0.8499988663, 0.1500011337]


def test_parents_are_drawn_with_the_hand_computed_probabilities(tmp_path):
    # The draw is random.Random(f"{seed}:{round}").choices(candidates, weights): pick a seed whose
    # draw with the hand-computed weights is the unlikely round 2, so the test sees that the search
    # used exactly these probabilities and this generator.
    seed = next(s for s in range(200) if random.Random(f"{s}:3").choices([1, 2], weights=ROUND_3_PROBABILITIES)[0] == 2)
    script = tmp_path / "script.json"
    optimizer = write_script(script, [
        {"parent": 1, "reply": reply("Raise after generating", RAISES)},
        {"parent": 2, "reply": reply("Return the code instead of raising", PLAIN, 'ASK = ""\n')},
        {"parent": 1, "reply": reply("Never used", PLAIN, 'ASK = ""\n')},
    ])  # fmt: skip
    proc = optimize(tmp_path, "--role", optimizer, "--role", EXECUTOR, "--max-rounds", "3", "--sample", "4", "--validation-rounds", "1",
                    "--seed", str(seed), "--id", "draws", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / "results" / "optimize" / "draws"
    selection = json.loads((folder / "rounds" / "round_3" / "round.json").read_text())["selection"]
    assert selection["candidates"] == [1, 2] and selection["scores"] == [2 / 3, 0.0]
    assert selection["probabilities"] == pytest.approx(ROUND_3_PROBABILITIES, rel=1e-9)
    assert selection["parent"] == 2
    asked = logged(script)[-1]
    assert asked["parent"] == 2 and "ValueError: scripted failure in" in asked["messages"][-1], "the raising workflow's traceback is evidence"
    assert "the workflow ended with exception" in asked["messages"][-1]
    assert last_json(proc.stdout)["rounds"][2]["scores"] == [2 / 3]


# --- kill -9 and resume ------------------------------------------------------------------------------


def test_a_search_killed_with_9_resumes_with_only_its_missing_work(tmp_path):
    script = tmp_path / "script.json"
    optimizer = write_script(script, [{"reply": reply("Ask with a shorter instruction", PLAIN, 'ASK = "Write it.\\n"\n')}])
    args = [sys.executable, "-m", "harness", "optimize", *PLUGINS, "--task", "humaneval", "--limit", "3", "--role", optimizer,
            "--role", "executor=scripted:canonical?delay=0.4", "--max-rounds", "2", "--validation-rounds", "2", "--max-concurrency", "1", "--id", "k"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=tmp_path, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = tmp_path / "results" / "optimize" / "k"
    target = folder / "runs" / "round-2-pass-2" / "samples.jsonl"
    deadline = time.monotonic() + 300
    while not (target.exists() and target.read_text().count("\n") >= 1):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "timed out"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    shown = harness("show", *PLUGINS, "k", cwd=tmp_path)
    assert "status interrupted" in shown.stdout and "harness optimize --resume k" in shown.stdout
    resumed = harness("optimize", *PLUGINS, "--resume", "k", "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = last_json(resumed.stdout)
    assert summary["status"] == "finished" and [r["scores"] for r in summary["rounds"]] == [[1.0, 1.0], [1.0, 1.0]]
    events = journal(folder)
    assert [e["event"] for e in events].count("workflow") == 2 and sum(e["event"] == "pass" for e in events) == 4
    assert len(logged(script)) == 1, "round 2's workflow was kept: the optimizer was not asked again"
    for number in (1, 2):
        for validation_pass in (1, 2):
            kept = records(folder / "runs" / f"round-{number}-pass-{validation_pass}")
            assert sorted(r["node_id"] for r in kept) == sorted(VALIDATION), "each problem once: nothing lost, nothing twice"
    spec = json.loads((folder / "runs" / "round-2-pass-2" / "run.json").read_text())
    assert spec["status"] == "finished" and len(spec["resumed_at"]) == 1


# --- how a search ends -----------------------------------------------------------------------------


def test_the_budget_covers_optimizer_and_executor(tmp_path):
    script = tmp_path / "script.json"
    optimizer = write_script(script, [{"reply": "not usable"}, {"reply": reply("Ask with a shorter instruction", PLAIN, 'ASK = ""\n')}, {"reply": "x"}])
    proc = optimize(tmp_path, "--role", optimizer, "--role", EXECUTOR, "--max-rounds", "5", "--validation-rounds", "1", "--max-cost", "0.0025", "--id", "b", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = last_json(proc.stdout)
    # round 1: executor $0.0003; round 2: two replies ($0.002) then its pass ($0.0003): $0.0026 >= $0.0025
    assert summary["status"] == "budget_exhausted" and summary["stop_reason"].startswith("budget: spent $0.0026 of --max-cost $0.0025")
    assert [r["round"] for r in summary["rounds"]] == [1, 2] and len(logged(script)) == 2


def test_a_converged_search_stops(tmp_path):
    steps = [{"reply": reply(f"Variant {n} of the instruction", PLAIN, f'ASK = "Variant {n}.\\n"\n')} for n in range(2, 10)]
    optimizer = write_script(tmp_path / "script.json", steps)
    proc = optimize(tmp_path, "--role", optimizer, "--role", EXECUTOR, "--max-rounds", "10", "--validation-rounds", "1", "--check-convergence", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = last_json(proc.stdout)
    # every round scores 2/3: the top-3 mean holds still from round 2 on, five times by round 6
    assert summary["status"] == "converged" and len(summary["rounds"]) == 6
    assert summary["stop_reason"] == "the mean of the top-3 rounds held still from round 2 to round 6"


def test_an_optimizer_that_fails_for_good_stops_the_search_resumably(tmp_path):
    optimizer = write_script(tmp_path / "script.json", [])
    proc = optimize(tmp_path, "--role", optimizer, "--role", EXECUTOR, "--max-rounds", "2", "--validation-rounds", "1", "--id", "dead", "--json")
    assert proc.returncode == 1
    summary = last_json(proc.stdout)
    assert summary["status"] == "stopped" and "BackendError: aflowscript: no step left" in summary["stop_reason"] and "--resume dead" in summary["stop_reason"]
    assert summary["rounds"][0]["scores"] == [2 / 3], "round 1 is kept"
