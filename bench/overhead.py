"""What does the harness cost on top of the model traffic itself?

One llama.cpp server (SmolLM2-135M-Instruct by default) is started with ManagedServer; the same N
HumanEval prompts are then sent to it twice at the same concurrency:

* through ``harness run --system direct --task humaneval --limit N --backend bench ...``, where
  ``bench`` is a ``[models.bench]`` table pointing at that server, and
* through a bare ``AsyncOpenAI`` loop with the messages the direct system sends (one user
  message, the sample's prompt; temperature 0; max_tokens M).

It prints both wall times and their ratio (goal: harness / raw <= 1.05). The harness figure is
the run's own ``wall_seconds`` (backend start, requests, sandbox scoring, records); the time of
the whole process, interpreter start included, is printed beside it, and so is the CPU time
each client used (on a busy machine it says more about overhead than wall time does).

    python bench/overhead.py [-n 24] [-c 4] [--max-tokens 64] [--rounds 2] [--model PATH.gguf]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import benchkit
from benchkit import MODEL_NAME
from harness_llamacpp import llama_server
from harness_llamacpp.model import DEFAULT_MODEL, require_server, resolve_model


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=24, help="requests (HumanEval samples), default 24")
    parser.add_argument("-c", "--concurrency", type=int, default=4, help="requests in flight, default 4")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="measure each side this many times, keep the best")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a .gguf path, or smollm2 (default)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object too")
    return parser.parse_args()


def harness_side(workdir: Path, args: argparse.Namespace, round_no: int) -> dict[str, Any]:
    extra = [
        "--system", "direct", "--task", "humaneval", "--limit", str(args.n), "--backend", MODEL_NAME,
        "--max-concurrency", str(args.concurrency), "--sandbox", "local", "--system-opt", f"max_tokens={args.max_tokens}",
    ]  # fmt: skip
    summary = benchkit.harness_run(workdir / "harness.toml", workdir, f"overhead-{round_no}", extra)
    return {
        "wall_seconds": summary["wall_seconds"],
        "process_seconds": summary["process_seconds"],
        "cpu_seconds": summary["cpu_seconds"],
        "calls": summary["llm_calls"],
        "output_tokens": summary["tokens"]["output"],
        "counts": summary["counts"],
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    require_server()
    model_path = resolve_model(args.model)
    alias = DEFAULT_MODEL if args.model == DEFAULT_MODEL else model_path.stem
    prompts = benchkit.humaneval_prompts(args.n)
    with tempfile.TemporaryDirectory(prefix="harness-overhead-") as tmp:
        workdir = Path(tmp)
        server = llama_server(model_path, alias)
        await server.start(workdir)
        try:
            (workdir / "harness.toml").write_text(benchkit.models_table(server.base_url, alias, args.concurrency))
            await benchkit.chat_loop(server.base_url, alias, prompts[:1], 1, args.max_tokens)  # warm-up: load pages, build caches
            raws, runs = [], []
            for round_no in range(args.rounds):
                # alternate the order, so neither side always runs on the warmer server
                if round_no % 2 == 0:
                    raws.append(await benchkit.chat_loop(server.base_url, alias, prompts, args.concurrency, args.max_tokens))
                    runs.append(await asyncio.to_thread(harness_side, workdir, args, round_no))
                else:
                    runs.append(await asyncio.to_thread(harness_side, workdir, args, round_no))
                    raws.append(await benchkit.chat_loop(server.base_url, alias, prompts, args.concurrency, args.max_tokens))
        finally:
            await server.stop()
    raw = min(raws, key=lambda r: r["wall_seconds"])
    run = min(runs, key=lambda r: r["wall_seconds"])
    return {
        "requests": args.n,
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "model": str(model_path),
        "rounds": args.rounds,
        "raw": raw,
        "harness": run,
        "raw_rounds": [round(r["wall_seconds"], 3) for r in raws],
        "harness_rounds": [round(r["wall_seconds"], 3) for r in runs],
        "ratio": run["wall_seconds"] / raw["wall_seconds"],
        "ratio_process": run["process_seconds"] / raw["wall_seconds"],
    }


def report(result: dict[str, Any]) -> str:
    raw, run = result["raw"], result["harness"]
    return "\n".join(
        [
            f"{result['requests']} requests, concurrency {result['concurrency']}, max_tokens {result['max_tokens']}, "
            f"best of {result['rounds']} round(s), model {Path(result['model']).name}",
            f"raw AsyncOpenAI loop : {raw['wall_seconds']:7.2f} s  ({raw['calls']} calls, {raw['output_tokens']} output tokens, "
            f"client CPU {raw['cpu_seconds']:.2f} s)",
            f"harness run          : {run['wall_seconds']:7.2f} s  ({run['calls']} calls, {run['output_tokens']} output tokens, "
            f"samples {run['counts']})",
            f"harness process      : {run['process_seconds']:7.2f} s  (interpreter start and plugin loading included; "
            f"CPU {run['cpu_seconds']:.2f} s with scoring)",
            f"harness / raw        : {result['ratio']:.3f}  (goal <= 1.05); whole process / raw: {result['ratio_process']:.3f}",
            f"every round (s)      : raw {result['raw_rounds']}, harness {result['harness_rounds']}",
        ]
    )


if __name__ == "__main__":
    benchkit.main(parse_args, bench, report)
