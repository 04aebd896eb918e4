"""What the benchmarks in bench/ share: the HumanEval prompts the direct system sends, a bare
AsyncOpenAI loop (the peer every model benchmark measures against), ``harness run`` as a
subprocess, and the command-line frame that prints a report (and JSON on request).

The scripts import it as ``benchkit`` (Python puts the script's folder first on sys.path).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from harness.plugins import load_plugins

#: The ``[models.NAME]`` a benchmark writes for the server it measures.
MODEL_NAME = "bench"


def humaneval_prompts(n: int) -> list[str]:
    """The prompts of the first n HumanEval samples, exactly as the direct system sends them."""
    task = load_plugins().get("tasks", "humaneval")({})
    return [sample.prompt for sample in task.samples()[:n]]


def models_table(base_urls: str | Sequence[str], model: str, max_connections: int) -> str:
    """A harness.toml holding ``[models.bench]`` for the measured server."""
    urls = json.dumps(base_urls if isinstance(base_urls, str) else list(base_urls))
    return f'[models.{MODEL_NAME}]\nbase_url = {urls}\nmodel = "{model}"\nmax_connections = {max_connections}\n'


async def chat_loop(base_url: str, model: str, prompts: list[str], concurrency: int, max_tokens: int) -> dict[str, Any]:
    """Send each prompt as one user message (temperature 0) with ``concurrency`` in flight.

    Returns wall_seconds, cpu_seconds (this client's), calls, output_tokens (the server's
    count) and tokens_per_second."""
    client = AsyncOpenAI(base_url=base_url, api_key="no-key", max_retries=0, timeout=600)
    slots = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> int:
        async with slots:
            reply = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}], temperature=0.0, max_tokens=max_tokens
            )
        return reply.usage.completion_tokens if reply.usage else 0

    started, cpu = time.monotonic(), time.process_time()
    tokens = sum(await asyncio.gather(*(one(p) for p in prompts)))
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    await client.close()
    return {"wall_seconds": wall, "cpu_seconds": cpu, "calls": len(prompts), "output_tokens": tokens, "tokens_per_second": tokens / wall}


def children_cpu() -> float:
    """CPU seconds of the waited-for children (and theirs: the harness's sandbox jobs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def harness_run(config: Path, workdir: Path, run_id: str, extra: Sequence[str]) -> dict[str, Any]:
    """``harness run --config CONFIG --results-dir WORKDIR/results --run-id RUN_ID --json EXTRA…``.

    Returns its summary plus process_seconds (interpreter start included) and cpu_seconds
    (its process tree); exits with its output when the run fails."""
    argv = [sys.executable, "-m", "harness", "run", "--config", str(config), "--results-dir", str(workdir / "results"), "--run-id", run_id, "--json", *extra]
    started, cpu = time.monotonic(), children_cpu()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    process_seconds, cpu = time.monotonic() - started, children_cpu() - cpu
    if done.returncode != 0:
        sys.exit(f"harness run failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return summary | {"process_seconds": process_seconds, "cpu_seconds": cpu}


def main(parse_args: Callable[[], argparse.Namespace], bench: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]], report: Callable[[dict[str, Any]], str]) -> None:
    """Parse, measure, print the report, and the figures as one JSON line with --json."""
    args = parse_args()
    result = asyncio.run(bench(args))
    print(report(result))
    if getattr(args, "json", False):
        print(json.dumps(result))
