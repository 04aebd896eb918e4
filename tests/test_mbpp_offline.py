"""`harness run --system sop --task mbpp --limit 2` as typed, on a machine with no network (issue
15, item 6): MBPP comes from the copy shipped with the task, and the hub is never contacted. The
"hub" here is a local socket given as HF_ENDPOINT that records any connection."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

import pytest
from conftest import harness, harness_env, records


@pytest.fixture
def hub_trap() -> Iterator[dict[str, str]]:
    """The environment of a harness that would reach the hub only through a listening socket
    that nobody answers; the test fails if anything connected to it."""
    with socket.socket() as trap:
        trap.bind(("127.0.0.1", 0))
        trap.listen(8)
        trap.setblocking(False)
        env = harness_env(HF_ENDPOINT=f"http://127.0.0.1:{trap.getsockname()[1]}")
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            env.pop(name, None)
        yield env
        try:
            connection, _ = trap.accept()
        except BlockingIOError:
            return
        connection.close()
        pytest.fail("the harness contacted the hub")


def dataset_of(workdir, run_id: str) -> dict:
    return json.loads((workdir / "results" / run_id / "run.json").read_text())["task"]["dataset"]


def test_mbpp_runs_offline_from_the_shipped_copy(workdir, hub_trap):
    proc = harness("run", "-p", "harness_test_scripted", "--sandbox", "local", "--backend", "scripted:canonical",
                   "--task", "mbpp", "--limit", "2", "--run-id", "m", cwd=workdir, env=hub_trap, timeout=120)
    assert proc.returncode == 0, proc.stderr
    dataset = dataset_of(workdir, "m")
    assert dataset["source"] == "package:harness_mbpp/data/sanitized-mbpp.json" and dataset["count"] == 257
    assert sorted(r["node_id"] for r in records(workdir / "results" / "m")) == ["mbpp::11", "mbpp::12"]


@pytest.mark.model
@pytest.mark.docker
@pytest.mark.slow
def test_the_headline_command_as_typed(workdir, hub_trap):
    """The embedded model and the docker sandbox; harness.toml keeps the team small and its
    replies short (the 135M model is slow on two shared cores), the command stays as typed."""
    (workdir / "harness.toml").write_text('[systems.sop]\nroles = ["engineer", "qa_engineer"]\nmax_tokens = 96\nmax_fix_rounds = 0\n')
    proc = harness("run", "--system", "sop", "--task", "mbpp", "--limit", "2", cwd=workdir, env=hub_trap, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (workdir / "results").iterdir()
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["status"] == "finished" and spec["task"]["dataset"]["source"] == "package:harness_mbpp/data/sanitized-mbpp.json"
    assert spec["resolved"]["backends"]["default"]["spec"] == "llamacpp:smollm2" and spec["resolved"]["sandbox"]["tier"] == "docker"
    assert spec["system"]["resolved"]["roles"] == ["engineer", "qa_engineer"]
    done = records(run_dir)
    assert sorted(r["node_id"] for r in done) == ["mbpp::11", "mbpp::12"]
    assert all(r["status"] != "infra_error" and r["llm_calls"] >= 2 and r["roles"]["engineer"]["output_tokens"] > 0 for r in done)
    assert os.path.getsize(run_dir / "samples.jsonl") > 0
