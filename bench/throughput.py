"""Generated tokens per second through the harness versus a bare client, on one vLLM server.

One vLLM server is launched (a `harness_vllm` fleet of one); the same N HumanEval prompts
(default 64, max_tokens 128, temperature 0) are then generated twice at the same concurrency:

* by ``harness run --system direct --task humaneval --limit N --backend bench`` (``[models.bench]``
  in a models file pointing at the server; scoring in the local sandbox), and
* by a bare ``AsyncOpenAI`` loop sending the messages the direct system sends.

Each side's figure is its output tokens (as the server counted them) over its wall time; the
harness's wall time is the run's own ``wall_seconds``. It prints both and the ratio (goal >= 0.95).

    python bench/throughput.py --model ~/.cache/mas-harness/models/smollm2-hf --vllm-python .venv-vllm/bin/python
        [-n 64] [-c 16] [--max-tokens 128] [--rounds 1] [--vllm-arg='--enforce-eager']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness_vllm.fleet import Fleet
from harness_vllm.launcher import resolve_launcher
from harness_vllm.model import resolve_model
from harness_vllm.modelsfile import write_models_file
from harness_vllm.options import FleetOptions, add_fleet_options
from openai import AsyncOpenAI

from harness.config import Config
from harness.plugins import load_plugins

MODEL_NAME = "bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2", help="what vllm:MODEL takes (default smollm2, once prepared)")
    parser.add_argument("-n", type=int, default=64, help="generations (HumanEval prompts), default 64")
    parser.add_argument("-c", "--concurrency", type=int, default=16, help="requests in flight, default 16")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=1, help="measure each side this many times, keep the best")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object too")
    add_fleet_options(parser.add_argument)
    return parser.parse_args()


def prompts(n: int) -> list[str]:
    task = load_plugins().get("tasks", "humaneval")({})
    return [sample.prompt for sample in task.samples()[:n]]


async def bare(base_url: str, model: str, texts: list[str], concurrency: int, max_tokens: int) -> dict[str, Any]:
    client = AsyncOpenAI(base_url=base_url, api_key="no-key", max_retries=0, timeout=600)
    slots = asyncio.Semaphore(concurrency)

    async def one(text: str) -> int:
        async with slots:
            reply = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": text}], temperature=0.0, max_tokens=max_tokens
            )
        return reply.usage.completion_tokens if reply.usage else 0

    started = time.monotonic()
    tokens = sum(await asyncio.gather(*(one(t) for t in texts)))
    wall = time.monotonic() - started
    await client.close()
    return {"wall_seconds": wall, "output_tokens": tokens, "tokens_per_second": tokens / wall}


def through_harness(workdir: Path, args: argparse.Namespace, round_no: int) -> dict[str, Any]:
    argv = [
        sys.executable, "-m", "harness", "run", "--config", str(workdir / "models.toml"),
        "--results-dir", str(workdir / "results"), "--run-id", f"throughput-{round_no}",
        "--system", "direct", "--task", "humaneval", "--limit", str(args.n), "--backend", MODEL_NAME,
        "--max-concurrency", str(args.concurrency), "--sandbox", "local",
        "--system-opt", f"max_tokens={args.max_tokens}", "--system-opt", "temperature=0", "--json",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"harness run failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    tokens, wall = summary["tokens"]["output"], summary["wall_seconds"]
    return {"wall_seconds": wall, "output_tokens": tokens, "tokens_per_second": tokens / wall, "counts": summary["counts"]}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    options = FleetOptions.from_config(Config(options=args, plugins=None))  # type: ignore[arg-type]
    fleet = Fleet(resolve_launcher(options.python), resolve_model(args.model), options)
    texts = prompts(args.n)
    bares, runs = [], []
    with tempfile.TemporaryDirectory(prefix="harness-throughput-") as tmp:
        workdir = Path(tmp)
        await fleet.start(workdir)
        try:
            table = {"model": fleet.served_name, "base_url": fleet.base_urls, "max_connections": args.concurrency}
            write_models_file(workdir / "models.toml", {MODEL_NAME: table})
            await bare(fleet.base_urls[0], fleet.served_name, texts[:2], 2, 8)  # warm-up
            for round_no in range(args.rounds):
                for side in ("bare", "harness") if round_no % 2 == 0 else ("harness", "bare"):  # alternate who goes first
                    if side == "bare":
                        bares.append(await bare(fleet.base_urls[0], fleet.served_name, texts, args.concurrency, args.max_tokens))
                    else:
                        runs.append(await asyncio.to_thread(through_harness, workdir, args, round_no))
        finally:
            await fleet.stop()
    best_bare = max(bares, key=lambda r: r["tokens_per_second"])
    best_run = max(runs, key=lambda r: r["tokens_per_second"])
    return {
        "generations": args.n,
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "model": args.model,
        "launcher": fleet.launcher.describe(),
        "vllm_args": list(options.vllm_args),
        "bare": best_bare,
        "harness": best_run,
        "ratio": best_run["tokens_per_second"] / best_bare["tokens_per_second"],
    }


def report(result: dict[str, Any]) -> str:
    bare_side, run = result["bare"], result["harness"]
    return "\n".join(
        [
            f"{result['generations']} generations, concurrency {result['concurrency']}, max_tokens {result['max_tokens']}, model {result['model']}",
            f"bare AsyncOpenAI loop : {bare_side['tokens_per_second']:7.1f} generated tokens/s  ({bare_side['output_tokens']} tokens in {bare_side['wall_seconds']:.2f} s)",
            f"harness run --system direct : {run['tokens_per_second']:7.1f} generated tokens/s  ({run['output_tokens']} tokens in {run['wall_seconds']:.2f} s, samples {run['counts']})",
            f"harness / bare        : {result['ratio']:.3f}  (goal >= 0.95)",
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
