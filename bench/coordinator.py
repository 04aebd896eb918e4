"""How many samples per second can one harness process coordinate?

The model and the sandbox are taken out of the picture: an instant backend (answers at once) and
an instant sandbox tier (a job "runs" at once), from bench/plugins/harness_bench_instant.py. What
is left is the harness itself: scheduling, metering every model call, transcripts, records made
durable (group commit), summaries and progress. It runs ``harness run`` at 1,000 and at 10,000
samples in flight, and beside it the peer: a bare asyncio loop doing the same calls on the same
instant stand-ins and appending one JSON line per sample (no metering, no transcripts, no
durability), the floor for Python's event loop on this machine. It prints samples per second of
each, their ratio, memory per in-flight sample, and how many model hosts and Docker hosts one
coordinator keeps busy at the stated per-host rates (goal: >= 1,000 samples/s at 1,000 in flight).

    python bench/coordinator.py [--samples-per-slot 5] [--model-host-rate 2] [--sandbox-rate-per-core 95] [--docker-host-cores 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchkit

PLUGINS = Path(__file__).resolve().parent / "plugins"
sys.path.insert(0, str(PLUGINS))

from harness_bench_instant import InstantBackend, InstantSandbox, InstantTask  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1000, 10000], help="samples in flight to measure (default 1000 10000)")
    parser.add_argument("--samples-per-slot", type=int, default=5, help="samples per in-flight slot (default 5: 5,000 samples at 1,000 in flight)")
    parser.add_argument("--model-host-rate", type=float, default=2.0, help="samples/s one model host serves (default 2: e.g. 64 concurrent 30 s agent samples)")
    parser.add_argument("--sandbox-rate-per-core", type=float, default=95.0, help="sandbox jobs/s per core (default 95: bench/sandbox.py's docker figure over 2 cores)")
    parser.add_argument("--docker-host-cores", type=int, default=32, help="cores of one Docker host (default 32)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object too")
    return parser.parse_args()


def harness_side(workdir: Path, in_flight: int, samples: int) -> dict[str, Any]:
    """``harness run`` on the instant stand-ins; its summary, samples/s and peak memory."""
    argv = [sys.executable, "-m", "harness", "run", "-p", "harness_bench_instant", "-p", "no:terminal",
            "--backend", "instant:x", "--sandbox", "instant", "--task", "instant", "--task-opt", f"n={samples}",
            "--max-concurrency", str(in_flight), "--results-dir", str(workdir / "results"), "--json"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")])))
    with (workdir / "stdout").open("w") as out, (workdir / "stderr").open("w") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so its own peak memory is known
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"harness run failed:\n{(workdir / 'stderr').read_text()[-3000:]}")
    summary = json.loads((workdir / "stdout").read_text().strip().splitlines()[-1])
    return {
        "samples": summary["attempts"],
        "passed": summary["counts"]["passed"],
        "wall_seconds": summary["wall_seconds"],
        "samples_per_second": summary["attempts"] / summary["wall_seconds"],
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
    }


async def bare_side(workdir: Path, in_flight: int, samples: int) -> dict[str, Any]:
    """The peer: the same calls on the same stand-ins in a bare asyncio loop, one JSON line each."""
    backend, sandbox, task = InstantBackend("instant:x", None), InstantSandbox(None), InstantTask({"n": str(samples)})  # type: ignore[arg-type]
    slots = asyncio.Semaphore(in_flight)
    out = (workdir / "bare.jsonl").open("w")

    async def one(sample: Any) -> None:
        async with slots:
            reply = await backend.complete(None)  # type: ignore[arg-type]
            result = await sandbox.run({"x.py": "pass"}, ["python3", "x.py"])
            out.write(json.dumps({"id": sample.id, "ok": result.ok and reply.message.content == "ok"}) + "\n")

    started = time.monotonic()
    await asyncio.gather(*(one(s) for s in task.samples()))
    out.close()
    wall = time.monotonic() - started
    return {"samples": samples, "wall_seconds": wall, "samples_per_second": samples / wall}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="harness-coordinator-") as tmp:
        for in_flight in args.in_flight:
            samples = in_flight * args.samples_per_slot
            workdir = Path(tmp) / str(in_flight)
            workdir.mkdir()
            harness = await asyncio.to_thread(harness_side, workdir, in_flight, samples)
            bare = await bare_side(workdir, in_flight, samples)
            rows.append({"in_flight": in_flight, "harness": harness, "bare": bare, "ratio": harness["samples_per_second"] / bare["samples_per_second"]})
    low, high = rows[0], rows[-1]
    per_sample_kb = None
    if len(rows) > 1 and low["harness"]["peak_rss_mb"] and high["harness"]["peak_rss_mb"]:
        per_sample_kb = (high["harness"]["peak_rss_mb"] - low["harness"]["peak_rss_mb"]) * 1024 / (high["in_flight"] - low["in_flight"])
    rate = low["harness"]["samples_per_second"]
    return {
        "rows": rows,
        "memory_per_in_flight_sample_kb": per_sample_kb,
        "projection": {
            "coordinator_samples_per_second": rate,
            "model_host_rate": args.model_host_rate,
            "model_hosts": rate / args.model_host_rate,
            "docker_host_jobs_per_second": args.sandbox_rate_per_core * args.docker_host_cores,
            "docker_hosts": rate / (args.sandbox_rate_per_core * args.docker_host_cores),
        },
    }


def report(result: dict[str, Any]) -> str:
    lines = []
    for row in result["rows"]:
        h, b = row["harness"], row["bare"]
        lines.append(
            f"{row['in_flight']:>6} in flight: harness run {h['samples_per_second']:7.0f} samples/s ({h['samples']} samples, "
            f"{h['wall_seconds']:.2f} s, peak {h['peak_rss_mb']:.0f} MB) | bare asyncio loop {b['samples_per_second']:7.0f} samples/s "
            f"| harness / bare {row['ratio']:.3f}"
        )
    first = result["rows"][0]
    lines.append(f"goal >= 1,000 samples/s at {first['in_flight']} in flight: {first['harness']['samples_per_second']:.0f}")
    if result["memory_per_in_flight_sample_kb"] is not None:
        lines.append(f"memory per in-flight sample: {result['memory_per_in_flight_sample_kb']:.1f} KB")
    p = result["projection"]
    lines.append(
        f"one coordinator at {p['coordinator_samples_per_second']:.0f} samples/s keeps {p['model_hosts']:.0f} model hosts busy at "
        f"{p['model_host_rate']:g} samples/s each, and {p['docker_hosts']:.1f} Docker hosts at {p['docker_host_jobs_per_second']:.0f} jobs/s each "
        f"(one sandbox job per sample)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    benchkit.main(parse_args, bench, report)
