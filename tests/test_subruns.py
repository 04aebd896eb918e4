"""`harness.subruns.run_samples`: a plugin's command runs a system on chosen samples as an ordinary
run folder, on resources it holds open; a finished run is not run again, a killed one is
finished, one of other options is refused, and `harness run --resume` can finish it too.
(Scripted backend, local sandbox: the runs themselves are the engine's, tested elsewhere.)"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
from conftest import TEST_PLUGINS, harness, records
from harness_sandbox import LocalSandbox

from harness import Budget, Resources, UsageError
from harness.config import Config
from harness.plugins import load_plugins
from harness.subruns import SampleRun, run_samples

sys.path.insert(0, str(TEST_PLUGINS))
from harness_test_scripted import ScriptedBackend

NODES = ("humaneval::HumanEval/0", "humaneval::HumanEval/1", "humaneval::HumanEval/2")


@pytest.fixture
async def opened(tmp_path):
    config = Config(argparse.Namespace(sandbox_pool=1), plugins=load_plugins(["harness_test_scripted"]))
    backend = ScriptedBackend("scripted:canonical?cost=0.01", config)
    resources = Resources({"default": backend}, LocalSandbox(config))
    async with resources.opened(tmp_path):
        yield config, resources


def request(tmp_path: Path, **changes) -> SampleRun:
    return SampleRun(**({"results_dir": tmp_path / "runs", "run_id": "r", "system": "direct", "task": "humaneval", "node_ids": NODES} | changes))


async def test_a_run_is_made_on_the_held_resources_and_not_run_again(opened, tmp_path):
    config, resources = opened
    budget = Budget(limit=10.0)
    summary = await run_samples(config, resources, request(tmp_path, budget=budget))
    assert summary["status"] == "finished" and summary["metrics"]["pass@1"] == 1.0 and summary["serving"] == {}
    assert budget.spent == pytest.approx(0.03), "the caller's budget is charged"
    run_dir = tmp_path / "runs" / "r"
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["selection"]["started_by"] == "harness.subruns" and spec["selection"]["selected"] == list(NODES)
    assert spec["invocation"]["options"]["node_ids"] == list(NODES) and spec["invocation"]["backend"] == "scripted:canonical?cost=0.01"
    again = await run_samples(config, resources, request(tmp_path))
    assert again == summary and len(records(run_dir)) == 3


async def test_a_killed_run_is_finished_with_only_its_missing_records(opened, tmp_path):
    config, resources = opened
    await run_samples(config, resources, request(tmp_path))
    run_dir = tmp_path / "runs" / "r"
    lines = (run_dir / "samples.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "samples.jsonl").write_text("".join(lines[:2]) + lines[2][:20])  # the last record torn by a kill
    spec = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps(spec | {"status": "running"}))
    summary = await run_samples(config, resources, request(tmp_path))
    assert summary["status"] == "finished" and summary["attempts"] == 3
    assert [r["node_id"] for r in records(run_dir)] == [json.loads(line)["node_id"] for line in lines[:2]] + [json.loads(lines[2])["node_id"]]
    assert len(json.loads((run_dir / "run.json").read_text())["resumed_at"]) == 1


async def test_a_run_of_other_options_or_unknown_samples_is_refused(opened, tmp_path):
    config, resources = opened
    await run_samples(config, resources, request(tmp_path))
    with pytest.raises(UsageError, match=r"run r in .* was made with other options: samples \['humaneval::HumanEval/0'\]"):
        await run_samples(config, resources, request(tmp_path, node_ids=NODES[:1]))
    with pytest.raises(UsageError, match=r"has no sample\(s\) \['humaneval::HumanEval/999'\]"):
        await run_samples(config, resources, request(tmp_path, run_id="other", node_ids=("humaneval::HumanEval/999",)))
    assert not (tmp_path / "runs" / "other").exists(), "nothing is made for a request that is refused"


async def test_the_command_line_can_finish_such_a_run(opened, tmp_path):
    config, resources = opened
    await run_samples(config, resources, request(tmp_path))
    run_dir = tmp_path / "runs" / "r"
    first = (run_dir / "samples.jsonl").read_text().splitlines(keepends=True)[0]
    (run_dir / "samples.jsonl").write_text(first)
    spec = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps(spec | {"status": "running"}))
    proc = harness("run", "-p", "harness_test_scripted", "--results-dir", str(tmp_path / "runs"), "--resume", "r", "--sandbox", "local", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(r["node_id"] for r in records(run_dir)) == sorted(NODES)
