"""Verdicts do not change with the machine's load (issue 10, section 4).

Four copies of a correct HumanEval/0 answer that needs 1.5 s of CPU, with a 2 s limit, scored at
``--max-concurrency 4`` on a pool of 4 sandbox containers: more CPU demand than the machine's
cores (2 here), so each copy takes longer than its limit in wall-clock time. The limit is CPU
time, so every one of 5 scorings must say ``passed`` for all four. (The issue's shape was 3 s of
CPU with a 4 s limit; halved here to keep the test short.) The copies are the 4 repeats of one
run of the system ``external`` (`harness score`'s run, which takes no ``--sandbox-pool``). The
test fails (it does not skip) when the engine or the image is missing.
"""

from __future__ import annotations

import json
import os

import pytest
from conftest import harness, harness_env, records, require_docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CPU_SECONDS = 1.5
LIMIT = 2.0
COMPLETION = (
    "    for i, a in enumerate(numbers):\n"
    "        for b in numbers[i + 1:]:\n"
    "            if abs(a - b) < threshold:\n"
    "                return True\n"
    "    return False\n"
    "\n\n"
    "import time as _time\n"
    "_started = _time.process_time()\n"
    f"while _time.process_time() - _started < {CPU_SECONDS}:\n"
    "    pass\n"
)


def test_four_cpu_hungry_copies_pass_in_every_one_of_five_scorings(tmp_path):
    require_docker("the load test")
    assert (os.cpu_count() or 1) < 4, "the test needs more CPU demand (4 copies) than cores"
    samples = tmp_path / "samples.jsonl"
    samples.write_text((json.dumps({"task_id": "HumanEval/0", "completion": COMPLETION}) + "\n") * 4)  # 4 repeats of one problem
    env = harness_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    verdicts, durations = [], []
    for scoring in range(5):
        result = harness(
            "run", "--system", "external", "--system-opt", f"samples={samples}", "--task", "humaneval", "--limit", "1", "--repeats", "4",
            "--task-opt", f"timeout_floor={LIMIT}", "--max-concurrency", "4", "--sandbox-pool", "4", "--run-id", f"load{scoring}",
            cwd=tmp_path, env=env, timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        run = records(tmp_path / "results" / f"load{scoring}")
        verdicts.append(sorted((r["repeat"], r["status"]) for r in run))
        durations += [r["details"]["duration"] for r in run]
        assert all(r["details"]["time_limit"] == LIMIT and CPU_SECONDS <= r["details"]["cpu_seconds"] < LIMIT for r in run), run
    assert verdicts == [[(i, "passed") for i in range(4)]] * 5, verdicts
    assert max(durations) > LIMIT, "the copies never ran slower than their limit: the machine was not loaded"
