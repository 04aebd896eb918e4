"""The docker sandbox spread over several Docker engines: a second, real `dockerd` on this machine
(its own socket, data root, exec root and pid file; no bridge, no iptables) started and stopped by
this module, the sandbox image loaded into it with `docker save | docker load`.

A HumanEval scoring run over both engines gives the verdicts of a one-engine run and uses both;
the second engine SIGKILLed mid-run leaves a run that completes with every record, its lost jobs
run again on the first (noted in the records' details, never a verdict).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import harness, harness_env, records, require_docker
from harness_humaneval import HumanEval
from harness_sandbox.channel import Worker, WorkerDied
from harness_sandbox.engine import (
    DEFAULT_IMAGE,
    EngineSpec,
    connect,
    engine_specs,
    parse_engine,
)
from harness_sandbox.pool import Pool

from harness.config import Config, FileSettings, load_settings
from harness.errors import ConfigError, SandboxError

pytestmark = [pytest.mark.docker]

MAIN = "unix:///var/run/docker.sock"
PROBLEMS = 20
#: Each program sleeps this long once (its first call), so that jobs are in flight when the engine dies.
SLEEP = 1.0


class SecondEngine:
    """A dockerd of our own, started and stopped by PID."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"unix://{root}/docker.sock"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [
            "dockerd", "--host", self.url, "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "docker.pid"), "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
        ]
        log = (self.root / "dockerd.log").open("a")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connect(EngineSpec(self.url), timeout=5).close()
                return
            except Exception:
                assert self.proc.poll() is None, (self.root / "dockerd.log").read_text()[-3000:]
                time.sleep(0.3)
        raise AssertionError("the second dockerd did not answer within 60 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)

    def unmount(self) -> None:
        """dockerd mounts its data root on itself and leaves the mount when it stops: undo ours."""
        data = str(self.root / "data")
        if any(line.split()[1] == data for line in Path("/proc/mounts").read_text().splitlines()):
            subprocess.run(["umount", data], check=True, timeout=60)

    def docker(self, *args: str, stdin=None) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "-H", self.url, *args], check=False, stdin=stdin, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def second_engine():
    require_docker("the several-engines tests")
    if shutil.which("dockerd") is None:
        pytest.fail("these tests start a second dockerd: install docker.io (sandbox/ensure-docker.sh)", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="eng2-", dir="/tmp"))  # a short path: unix socket paths are limited to 107 bytes
    engine = SecondEngine(root)
    engine.start()
    try:
        save = subprocess.Popen(["docker", "save", DEFAULT_IMAGE], stdout=subprocess.PIPE)
        loaded = engine.docker("load", stdin=save.stdout)
        save.wait(timeout=300)
        assert save.returncode == 0 and loaded.returncode == 0, loaded.stderr
        yield engine
    finally:
        if engine.proc is not None and engine.proc.poll() is not None:
            engine.start()  # after a SIGKILL: a new dockerd on the same roots removes the orphaned containers
        engine.stop()
        engine.unmount()
        shutil.rmtree(root)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return harness_env(XDG_CACHE_HOME=str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """Canonical solutions of PROBLEMS HumanEval problems, each sleeping SLEEP seconds on its first call."""
    path = tmp_path_factory.mktemp("samples") / "samples.jsonl"
    sleep = f"    if not globals().get('_slept'):\n        globals()['_slept'] = __import__('time').sleep({SLEEP}) or 1\n"
    problems = list(HumanEval({}).problems.values())[:PROBLEMS]
    path.write_text("".join(json.dumps({"task_id": p["task_id"], "completion": sleep + p["canonical_solution"]}) + "\n" for p in problems))
    return path


def score(workdir: Path, env: dict, samples: Path, run_id: str, engines: list[str], containers: int = 2) -> subprocess.CompletedProcess:
    workdir.mkdir(exist_ok=True)
    listed = ", ".join(f'{{url = "{url}", containers = {containers}}}' for url in engines)
    (workdir / "harness.toml").write_text(f"[sandbox]\nengines = [{listed}]\n")
    return harness("score", "--task", "humaneval", str(samples), "--run-id", run_id, cwd=workdir, env=env, timeout=900)


def verdicts(run_dir: Path) -> dict[str, str]:
    return {r["sample_id"]: r["status"] for r in records(run_dir)}


# --- configuration (no engine needed) ------------------------------------------------------------


def test_sandbox_table_refuses_unknown_keys(tmp_path):
    path = tmp_path / "harness.toml"
    path.write_text('[sandbox]\nengine = ["unix:///x.sock"]\n')
    with pytest.raises(ConfigError, match=r"\[sandbox\] has unknown key\(s\) \['engine'\]; allowed: \['engines'\]"):
        load_settings(path)
    path.write_text('[sandbox]\nengines = "unix:///x.sock"\n')
    with pytest.raises(ConfigError, match="engines must be a list"):
        load_settings(path)


def test_engine_entries_are_checked():
    assert parse_engine("ssh://me@host", "here") == EngineSpec("ssh://me@host")
    table = {"url": "tcp://h:2376", "containers": 8, "tls_ca": "ca.pem", "tls_cert": "cert.pem", "tls_key": "key.pem"}
    assert parse_engine(table, "here") == EngineSpec("tcp://h:2376", 8, "ca.pem", "cert.pem", "key.pem")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['cpus'\]"):
        parse_engine({"url": "tcp://h:2376", "cpus": 4}, "here")
    with pytest.raises(ConfigError, match="containers must be a whole number >= 1"):
        parse_engine({"url": "tcp://h:2376", "containers": 0}, "here")
    with pytest.raises(ConfigError, match="TLS needs all of tls_ca, tls_cert and tls_key"):
        parse_engine({"url": "tcp://h:2376", "tls_cert": "cert.pem"}, "here")
    with pytest.raises(ConfigError, match="a URL string or a table"):
        parse_engine(5, "here")


def test_command_line_engines_win_over_the_table():
    settings = FileSettings(sandbox={"engines": ["unix:///a.sock", {"url": "unix:///b.sock", "containers": 3}]})
    from_file = Config(argparse.Namespace(sandbox_engine=None), plugins=None, settings=settings)
    assert engine_specs(from_file) == [EngineSpec("unix:///a.sock"), EngineSpec("unix:///b.sock", 3)]
    typed = Config(argparse.Namespace(sandbox_engine=["ssh://me@h"]), plugins=None, settings=settings)
    assert engine_specs(typed) == [EngineSpec("ssh://me@h")]
    assert engine_specs(Config(argparse.Namespace(), plugins=None)) == [EngineSpec()]


# --- two real engines --------------------------------------------------------------------------


def test_check_reports_each_engine(second_engine, tmp_path, env):
    result = harness("sandbox", "check", "--sandbox-engine", MAIN, "--sandbox-engine", second_engine.url, cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout
    for url in (MAIN, second_engine.url):
        assert f"engine reachable [{url}]" in text and f"memory limit [{url}]" in text and f"no network [{url}]" in text


def test_missing_image_is_named_and_shipped_by_build(second_engine, tmp_path, env, samples):
    removed = second_engine.docker("rmi", DEFAULT_IMAGE)
    assert removed.returncode == 0, removed.stderr
    refused = score(tmp_path / "w", env, samples, "refused", [MAIN, second_engine.url])
    assert refused.returncode != 0
    assert f"the sandbox image {DEFAULT_IMAGE} is missing on the engine {second_engine.url}" in refused.stderr
    shipped = harness("sandbox", "build", "--engine", second_engine.url, cwd=tmp_path, env=env, timeout=600)
    assert shipped.returncode == 0, shipped.stderr[-3000:]
    assert f"shipped image {DEFAULT_IMAGE}" in shipped.stdout and f"to {second_engine.url}" in shipped.stdout
    assert second_engine.docker("image", "inspect", DEFAULT_IMAGE).returncode == 0
    again = harness("sandbox", "build", "--engine", second_engine.url, cwd=tmp_path, env=env, timeout=600)
    assert again.returncode == 0 and "is already there on" in again.stdout


def test_run_over_two_engines_matches_one_engine(second_engine, tmp_path, env, samples):
    one = score(tmp_path / "one", env, samples, "one", [MAIN], containers=4)
    assert one.returncode == 0, one.stderr[-3000:]
    two = score(tmp_path / "two", env, samples, "two", [MAIN, second_engine.url])
    assert two.returncode == 0, two.stderr[-3000:]
    alone, spread = verdicts(tmp_path / "one" / "results" / "one"), verdicts(tmp_path / "two" / "results" / "two")
    assert len(alone) == PROBLEMS and spread == alone
    assert set(alone.values()) == {"passed"}  # canonical solutions
    used = collections.Counter(r["details"]["engine"] for r in records(tmp_path / "two" / "results" / "two"))
    assert set(used) == {MAIN, second_engine.url}, used
    spec = json.loads((tmp_path / "two" / "results" / "two" / "run.json").read_text())
    described = spec["resolved"]["sandbox"]
    assert [e["url"] for e in described["engines"]] == [MAIN, second_engine.url] and described["pool"] == 4


def test_engine_killed_mid_run(second_engine, tmp_path, env, samples):
    """Last in the module: it SIGKILLs the second engine (the fixture restarts it to clean up)."""
    workdir = tmp_path / "w"
    workdir.mkdir()
    (workdir / "harness.toml").write_text(f'[sandbox]\nengines = [{{url = "{MAIN}", containers = 2}}, {{url = "{second_engine.url}", containers = 2}}]\n')
    argv = [sys.executable, "-m", "harness", "score", "--task", "humaneval", str(samples), "--run-id", "killed"]
    run_dir = workdir / "results" / "killed"
    with subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            done = (run_dir / "samples.jsonl").read_text().count("\n") if (run_dir / "samples.jsonl").exists() else 0
            if done >= 3:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before the engine could be killed"
        second_engine.kill()
        _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    got = records(run_dir)
    assert len(got) == PROBLEMS and {r["status"] for r in got} == {"passed"}
    moved = [r for r in got if r["details"].get("infra_events")]
    assert moved, "no job was in flight on the killed engine"
    for record in moved:
        assert record["details"]["engine"] == MAIN
        assert all(f"engine {second_engine.url} stopped answering" in event for event in record["details"]["infra_events"])


# --- the pool's rule for lost engines, unit by unit (workers faked; the real thing is above) ------


class FakeWorker(Worker):
    """Answers every job with its engine's name, or dies when its engine is marked down."""

    def __init__(self, engine: str, down: set[str]) -> None:  # no supervisor behind it
        self.engine, self.down, self.jobs, self.unfit, self.name = engine, down, 0, None, f"fake on {engine}"

    async def run(self, job: dict, timeout: float, rpc=None) -> dict:
        await asyncio.sleep(0.01)
        if self.engine in self.down:
            self.unfit = "died"
            raise WorkerDied(f"{self.name} ended unexpectedly")
        self.jobs += 1
        return {"type": "result", "id": job["id"], "on": self.engine}

    async def close(self) -> None:
        pass


def fake_pool(down: set[str], answering: set[str], per_engine: int = 2) -> Pool:
    engines = ["a", "b"] * per_engine

    def spawn_on(engine: str):
        async def spawn() -> Worker:
            if engine in down:
                raise SandboxError(f"could not start a container on {engine}")
            return FakeWorker(engine, down)

        return spawn

    async def ask(engine: str) -> bool:
        return engine in answering

    return Pool([spawn_on(e) for e in engines], recycle=100, engines=engines, answering=ask)


async def test_a_lost_engines_jobs_run_on_the_other():
    down: set[str] = set()
    pool = fake_pool(down, answering={"a"})
    await pool.start()
    down.add("b")
    replies = await asyncio.gather(*(pool.run({"id": i}, 5.0) for i in range(10)))
    assert {r["on"] for r in replies} == {"a"} and {r["engine"] for r in replies} == {"a"}
    moved = [r for r in replies if "infra_events" in r]
    assert moved and all(event.startswith("engine b stopped answering") for r in moved for event in r["infra_events"])
    assert [slot.engine for slot in pool.slots] == ["a", "a"] and list(pool.lost) == ["b"]
    await pool.close()


async def test_a_death_on_an_engine_that_still_answers_is_a_try():
    down: set[str] = set()
    pool = fake_pool(down, answering={"a", "b"}, per_engine=1)
    await pool.start()
    down.update({"a", "b"})
    with pytest.raises(SandboxError, match="failed to run the job twice"):
        await pool.run({"id": 1}, 5.0)
    assert pool.lost == {}
    await pool.close()


async def test_every_engine_lost_fails_every_waiting_job():
    down: set[str] = set()
    pool = fake_pool(down, answering=set(), per_engine=1)
    await pool.start()
    down.update({"a", "b"})
    results = await asyncio.gather(*(pool.run({"id": i}, 5.0) for i in range(6)), return_exceptions=True)
    assert all(isinstance(r, SandboxError) and "no sandbox engine is left" in str(r) for r in results), results
    await pool.close()


async def test_a_job_with_an_rpc_bridge_is_not_run_again_after_its_engine_is_lost():
    down: set[str] = set()
    pool = fake_pool(down, answering={"a"}, per_engine=1)
    await pool.start()
    down.add("b")

    async def handler(method: str, params: object) -> object:
        return params

    outcomes = await asyncio.gather(*(pool.run({"id": i}, 5.0, handler) for i in range(2)), return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, SandboxError)]
    assert len(failed) == 1 and "engine b stopped answering mid-job" in str(failed[0]) and "not run again" in str(failed[0])
    await pool.close()
