"""Simulations per hour on tau2-mock: ``harness run`` against the package's own runner.

One llama.cpp server (SmolLM2-135M-Instruct by default) is started with ManagedServer and plays
both the agent and the simulated user, for both runners. The same tau2-mock simulations (N
tasks of the domain, T trials each, the same max_steps and max_tokens, temperature 0) are run

* through ``harness run --system direct tau2-mock::… --backend bench ...`` (``bench`` is a
  ``[models.bench]`` table pointing at that server), at concurrency C, and
* through ``tau2.run.run_domain`` (the package's runner: litellm with the ``openai/`` model
  prefix and ``api_base`` pointing at that server; ``skip_failed_samples`` so that one failed
  simulation does not abort its run), with ``max_concurrency`` C,

each in its own process, ``--rounds`` times in alternating order (the best of each side is
kept; the ratio of the median rounds is printed too, as the machine's noise is large). It prints simulations per hour of each (from the time of the run itself, and from the
whole process with interpreter start and imports), their ratio (goal:
harness / tau2 >= 1.0), and the rate of ``harness run`` at its default concurrency (4). Model
calls per simulation and terminations are printed beside: the runners do not hold identical
dialogs (the package reads only structured tool calls; the harness also reads ``<tool_call>``
text), so the number of calls per simulation says how comparable the work was, and model calls
per hour are compared too.

    python bench/tau2.py [-n 6] [--trials 1] [-c 3] [--max-steps 4] [--max-tokens 32] [--rounds 4] [--model PATH.gguf]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from harness_llamacpp import llama_server
from harness_llamacpp.model import DEFAULT_MODEL, require_server, resolve_model

MODEL_NAME = "bench"
#: The tau2-mock tasks without an initial message history: tau2's runner cannot replay one to
#: llama.cpp (it sends the history's tool-call message with a null content, which llama.cpp's
#: chat template fails on, and the simulation is skipped), so those would not be the same work.
TASK_IDS = (
    "create_task_1", "create_task_1_with_env_assertions", "create_task_1_nl_eval", "update_task_1",
    "update_task_with_initialization_data", "update_task_with_initialization_actions", "impossible_task_1",
)  # fmt: skip
#: tau2's own default concurrency (tau2.config.DEFAULT_MAX_CONCURRENCY) and the harness's.
TAU2_DEFAULT_CONCURRENCY, HARNESS_DEFAULT_CONCURRENCY = 3, 4

#: Runs the package's runner in a fresh process and prints one JSON line of figures.
TAU2_SCRIPT = textwrap.dedent(
    """
    import contextlib, io, json, os, sys, time
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    params = json.loads(sys.argv[1])
    with contextlib.redirect_stdout(io.StringIO()):
        from tau2.data_model.simulation import RunConfig
        from tau2.run import run_domain
        llm_args = {"temperature": 0.0, "max_tokens": params["max_tokens"], "api_base": params["base_url"], "api_key": "no-key"}
        config = RunConfig(
            domain="mock", task_split_name="base", task_ids=params["task_ids"], num_trials=params["trials"],
            agent="llm_agent", llm_agent="openai/" + params["alias"], llm_args_agent=dict(llm_args),
            user="user_simulator", llm_user="openai/" + params["alias"], llm_args_user=dict(llm_args),
            max_steps=params["max_steps"], max_concurrency=params["concurrency"], results_dir=params["results_dir"],
            save_to="tau2-bench-run", skip_failed_samples=True, log_level="ERROR",
            llm_args_judge={},  # run_domain copies it; the default (None) fails in 26.3
        )
        started = time.monotonic()
        results = run_domain(config)
        seconds = time.monotonic() - started
    simulations = results.simulations
    usages = [m.usage for s in simulations for m in s.messages if m.role in ("assistant", "user") and getattr(m, "usage", None)]
    calls = len(usages)
    tokens = {"input": sum(u.get("prompt_tokens") or 0 for u in usages), "output": sum(u.get("completion_tokens") or 0 for u in usages)}
    terminations = {}
    for s in simulations:
        terminations[s.termination_reason.value] = terminations.get(s.termination_reason.value, 0) + 1
    rewards = [s.reward_info.reward for s in simulations if s.reward_info is not None]
    print(json.dumps({"run_seconds": seconds, "simulations": len(simulations), "skipped": sum(s.skipped for s in simulations),
                      "calls": calls, "tokens": tokens, "terminations": terminations, "avg_reward": sum(rewards) / max(1, len(rewards))}))
    """
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=6, choices=range(1, len(TASK_IDS) + 1), metavar="N", help=f"tau2-mock tasks (the first N of {len(TASK_IDS)} without a history), default 6")
    parser.add_argument("--trials", type=int, default=1, help="simulations per task, default 1")
    parser.add_argument("-c", "--concurrency", type=int, default=TAU2_DEFAULT_CONCURRENCY, help="simulations in flight on both sides, default 3 (tau2's default)")
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32, help="per model call, agent and user")
    parser.add_argument("--rounds", type=int, default=4, help="measure each side this many times (order alternating), keep the best")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a .gguf path, or smollm2 (default)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object too")
    return parser.parse_args()


def harness_run(workdir: Path, args: argparse.Namespace, run_id: str, concurrency: int | None) -> dict[str, Any]:
    argv = [
        sys.executable, "-m", "harness", "run", "-p", "harness_tau2",
        "--config", str(workdir / "harness.toml"), "--results-dir", str(workdir / "results"), "--run-id", run_id,
        *(f"tau2-mock::{task_id}" for task_id in TASK_IDS[: args.n]), "--system", "direct", "--repeats", str(args.trials),
        "--backend", MODEL_NAME, "--sandbox", "local", "--system-opt", f"max_tokens={args.max_tokens}",
        "--task-opt", f"user_max_tokens={args.max_tokens}", "--task-opt", f"max_steps={args.max_steps}", "--json",
    ]  # fmt: skip
    if concurrency is not None:
        argv += ["--max-concurrency", str(concurrency)]
    started, cpu = time.monotonic(), _children_cpu()
    done = subprocess.run(argv, capture_output=True, text=True)
    process_seconds, cpu = time.monotonic() - started, _children_cpu() - cpu
    if done.returncode not in (0, 1):
        sys.exit(f"harness run failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    run_dir = workdir / "results" / run_id
    records = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    terminations: dict[str, int] = {}
    for record in records:
        reason = (record.get("answer_details") or {}).get("termination", record["status"])
        terminations[reason] = terminations.get(reason, 0) + 1
    return {
        "run_seconds": summary["wall_seconds"],
        "process_seconds": process_seconds,
        "cpu_seconds": cpu,
        "simulations": summary["attempts"],
        "calls": sum(role["calls"] for role in summary["cost_by_role"].values()),
        "tokens": {
            "input": sum(role["input_tokens"] for role in summary["cost_by_role"].values()),
            "output": sum(role["output_tokens"] for role in summary["cost_by_role"].values()),
        },
        "terminations": terminations,
        "counts": summary["counts"],
        "avg_reward": summary["metrics"].get("avg_reward"),
    }


def tau2_run(workdir: Path, args: argparse.Namespace, base_url: str, alias: str, round_no: int) -> dict[str, Any]:
    params = {
        "task_ids": list(TASK_IDS[: args.n]), "trials": args.trials, "max_tokens": args.max_tokens, "max_steps": args.max_steps,
        "concurrency": args.concurrency, "base_url": base_url, "alias": alias, "results_dir": str(workdir / f"tau2-results-{round_no}"),
    }  # fmt: skip
    started, cpu = time.monotonic(), _children_cpu()
    done = subprocess.run([sys.executable, "-c", TAU2_SCRIPT, json.dumps(params)], capture_output=True, text=True, cwd=workdir)
    process_seconds, cpu = time.monotonic() - started, _children_cpu() - cpu
    if done.returncode != 0:
        sys.exit(f"tau2's runner failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"process_seconds": process_seconds, "cpu_seconds": cpu}


def _children_cpu() -> float:
    """CPU seconds of the waited-for child processes (the runners; not the llama.cpp server)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _median(runs: list[dict[str, Any]]) -> float:
    return statistics.median(r["run_seconds"] for r in runs)


def per_hour(simulations: int, seconds: float) -> float:
    return simulations * 3600.0 / seconds


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    require_server()
    model_path = resolve_model(args.model)
    alias = DEFAULT_MODEL if args.model == DEFAULT_MODEL else model_path.stem
    with tempfile.TemporaryDirectory(prefix="harness-bench-tau2-") as tmp:
        workdir = Path(tmp)
        server = llama_server(model_path, alias)
        await server.start(workdir)
        try:
            (workdir / "harness.toml").write_text(f'[models.{MODEL_NAME}]\nbase_url = "{server.base_url}"\nmodel = "{alias}"\n')
            sides: dict[str, list[dict[str, Any]]] = {"tau2": [], "harness": [], "harness_default": []}
            for round_no in range(args.rounds):
                # alternate the order, so that no side always runs on a warmer server or a quieter machine
                order = ["tau2", "harness", "harness_default"]
                for side in order if round_no % 2 == 0 else order[::-1]:
                    if side == "tau2":
                        sides[side].append(await asyncio.to_thread(tau2_run, workdir, args, server.base_url, alias, round_no))
                    else:
                        concurrency = args.concurrency if side == "harness" else None
                        sides[side].append(await asyncio.to_thread(harness_run, workdir, args, f"{side}-{round_no}", concurrency))
        finally:
            await server.stop()
    tau2, equal, default = (min(sides[s], key=lambda r: r["run_seconds"]) for s in ("tau2", "harness", "harness_default"))
    for side in (tau2, equal, default):
        side["per_hour"] = per_hour(side["simulations"], side["run_seconds"])
        side["per_hour_process"] = per_hour(side["simulations"], side["process_seconds"])
        side["calls_per_simulation"] = side["calls"] / max(1, side["simulations"])
        side["calls_per_hour"] = per_hour(side["calls"], side["run_seconds"])
    return {
        "tasks": args.n, "trials": args.trials, "concurrency": args.concurrency, "max_steps": args.max_steps,
        "max_tokens": args.max_tokens, "model": str(model_path), "rounds": args.rounds,
        "every_round_seconds": {side: [round(r["run_seconds"], 1) for r in runs] for side, runs in sides.items()},
        "tau2": tau2, "harness": equal, "harness_default": default,
        "ratio": equal["per_hour"] / tau2["per_hour"], "ratio_process": equal["per_hour_process"] / tau2["per_hour_process"],
        "ratio_default": default["per_hour"] / tau2["per_hour"],
        "ratio_calls": equal["calls_per_hour"] / tau2["calls_per_hour"],
        "ratio_median": _median(sides["tau2"]) / _median(sides["harness"]),
        "ratio_default_median": _median(sides["tau2"]) / _median(sides["harness_default"]),
    }  # fmt: skip


def report(result: dict[str, Any]) -> str:
    def line(label: str, side: dict[str, Any]) -> str:
        return (
            f"{label}: {side['per_hour']:8.1f} simulations/hour ({side['simulations']} in {side['run_seconds']:.1f} s; "
            f"whole process {side['per_hour_process']:.1f}/hour), {side['calls_per_simulation']:.1f} model calls per simulation, "
            f"tokens in/out {side['tokens']['input']:,}/{side['tokens']['output']:,}, runner CPU {side['cpu_seconds']:.1f} s, "
            f"terminations {side['terminations']}, average reward {side['avg_reward']}"
        )

    return "\n".join(
        [
            f"tau2-mock: {result['tasks']} task(s) x {result['trials']} trial(s), max_steps {result['max_steps']}, max_tokens "
            f"{result['max_tokens']}, model {Path(result['model']).name}, one llama.cpp server for agent and user",
            line(f"tau2 run_domain, concurrency {result['concurrency']}        ", result["tau2"]),
            line(f"harness run, concurrency {result['concurrency']}            ", result["harness"]),
            line(f"harness run, default concurrency {HARNESS_DEFAULT_CONCURRENCY}    ", result["harness_default"]),
            f"harness / tau2 at equal concurrency: {result['ratio']:.2f} (goal >= 1.0); whole processes: {result['ratio_process']:.2f}; "
            f"harness at its default concurrency / tau2: {result['ratio_default']:.2f}; model calls per hour, harness / tau2 at "
            f"equal concurrency: {result['ratio_calls']:.2f}",
            f"best of {result['rounds']} round(s); every round (s): {result['every_round_seconds']}; ratios of the median rounds: "
            f"{result['ratio_median']:.2f} at equal concurrency, {result['ratio_default_median']:.2f} at the harness's default",
        ]
    )


def main() -> None:
    args = parse_args()
    result = asyncio.run(bench(args))
    print(report(result))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
