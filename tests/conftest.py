"""Shared helpers: run the real `harness` command line in a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_asyncio

from harness.config import Config
from harness.errors import SandboxUnavailable

ROOT = Path(__file__).resolve().parent.parent
TEST_PLUGINS = Path(__file__).resolve().parent / "plugins"
#: The original MBPP files, beside the checkout (the product loads them with --task-opt path=).
MBPP_DATA = ROOT.parent / "shared" / "data" / "mbpp"


def harness_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TEST_PLUGINS), env.get("PYTHONPATH")]))
    env["CI"] = "true"  # plain progress lines
    env.update(extra)
    return env


def harness(*args: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        env=env or harness_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory (no harness.toml) whose results/ the runs write to."""
    return tmp_path


#: Options of the docker tier for tests that build a sandbox directly (no CLI).
DOCKER_CONFIG = Config(argparse.Namespace(sandbox_pool=2, sandbox_recycle=500), plugins=None)


def require_docker(what: str) -> None:
    """Fail (never skip) with what is missing when the docker tier cannot run here."""
    from harness_sandbox import DockerSandbox

    try:
        DockerSandbox.preflight(DOCKER_CONFIG)
    except SandboxUnavailable as exc:
        pytest.fail(f"{what} need the docker sandbox: {exc}", pytrace=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box():
    """A started docker sandbox (a pool of two containers), one per test module."""
    from harness_sandbox import DockerSandbox

    require_docker("this test module's docker tests")
    sandbox = DockerSandbox(DOCKER_CONFIG)
    await sandbox.start()
    yield sandbox
    await sandbox.close()


def score_answers(sandbox, task, answers: list[tuple[str, str]]) -> list:
    """Score (sample id, answer text) pairs through the task's own scorer in one pool (the
    sandbox is started and closed here); the Outcomes, in order."""
    import asyncio

    from harness.context import Budget, SampleContext
    from harness.types import Answer

    async def go():
        await sandbox.start()
        try:
            ctx = SampleContext(backends={}, sandbox=sandbox, budget=Budget())
            samples = {s.id: s for s in task.samples()}
            return await asyncio.gather(*(task.score(samples[sample_id], Answer(text), ctx) for sample_id, text in answers))
        finally:
            await sandbox.close()

    return asyncio.run(go())
