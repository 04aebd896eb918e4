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
import tempfile
from pathlib import Path
from typing import Any

import benchkit
from benchkit import MODEL_NAME
from harness_vllm.fleet import Fleet
from harness_vllm.launcher import resolve_launcher
from harness_vllm.model import resolve_model
from harness_vllm.modelsfile import write_models_file
from harness_vllm.options import FleetOptions, add_fleet_options

from harness.config import Config


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


def through_harness(workdir: Path, args: argparse.Namespace, round_no: int) -> dict[str, Any]:
    extra = [
        "--system", "direct", "--task", "humaneval", "--limit", str(args.n), "--backend", MODEL_NAME,
        "--max-concurrency", str(args.concurrency), "--sandbox", "local",
        "--system-opt", f"max_tokens={args.max_tokens}", "--system-opt", "temperature=0",
    ]  # fmt: skip
    summary = benchkit.harness_run(workdir / "models.toml", workdir, f"throughput-{round_no}", extra)
    tokens, wall = summary["tokens"]["output"], summary["wall_seconds"]
    return {"wall_seconds": wall, "output_tokens": tokens, "tokens_per_second": tokens / wall, "counts": summary["counts"]}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    options = FleetOptions.from_config(Config(options=args, plugins=None))  # type: ignore[arg-type]
    fleet = Fleet(resolve_launcher(options.python), resolve_model(args.model), options)
    texts = benchkit.humaneval_prompts(args.n)
    bares, runs = [], []
    with tempfile.TemporaryDirectory(prefix="harness-throughput-") as tmp:
        workdir = Path(tmp)
        await fleet.start(workdir)
        try:
            table = {"model": fleet.served_name, "base_url": fleet.base_urls, "max_connections": args.concurrency}
            write_models_file(workdir / "models.toml", {MODEL_NAME: table})
            await benchkit.chat_loop(fleet.base_urls[0], fleet.served_name, texts[:2], 2, 8)  # warm-up
            for round_no in range(args.rounds):
                for side in ("bare", "harness") if round_no % 2 == 0 else ("harness", "bare"):  # alternate who goes first
                    if side == "bare":
                        bares.append(await benchkit.chat_loop(fleet.base_urls[0], fleet.served_name, texts, args.concurrency, args.max_tokens))
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


if __name__ == "__main__":
    benchkit.main(parse_args, bench, report)
