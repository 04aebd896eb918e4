"""``--max-concurrency auto`` (issue 16, item 3): samples in flight sized to the started
resources, from a models table whose replicas are real HTTP servers (scripted), through the real
command line; printed at start and recorded in run.json."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import harness
from test_openai_backend import Reply, ScriptedServer

SCRIPTED = ["-p", "harness_test_scripted"]


@pytest.fixture
def replicas() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    servers = (ScriptedServer(), ScriptedServer())
    for server in servers:
        server.default = Reply(delay=0.4)
        server.serve()
    yield servers
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()


def fleet_toml(workdir, a: ScriptedServer, b: ScriptedServer, run: str = "") -> None:
    (workdir / "harness.toml").write_text(
        f'[run]\n{run}\n[models.fleet]\nbase_url = ["{a.url}", "{b.url}"]\nmodel = "served-model"\nmax_connections = 3\nattempts = 1\n'
    )


def resolved(workdir, run_id: str) -> dict:
    return json.loads((workdir / "results" / run_id / "run.json").read_text())["resolved"]


def test_auto_from_harness_toml_is_the_replicas_connections_plus_the_sandbox_pool(workdir, replicas):
    a, b = replicas
    fleet_toml(workdir, a, b, run='max_concurrency = "auto"')
    proc = harness("run", "--backend", "fleet", "--task", "humaneval", "--limit", "12", "--sandbox", "local", "--sandbox-pool", "2",
                   "--system-opt", "max_tokens=8", "--run-id", "auto", cwd=workdir)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr  # 1: the scripted answers fail the tests
    assert "--max-concurrency auto: 8 = backend fleet 6 + sandbox local 2" in proc.stderr
    assert resolved(workdir, "auto")["max_concurrency"] == 8
    # 8 samples in flight filled every replica's 3 connections (a fixed 4 would have stopped at 2 each)
    assert a.max_active == b.max_active == 3 and len(a.requests) + len(b.requests) == 12


def test_the_command_line_wins_over_auto_and_a_number_is_kept(workdir, replicas):
    a, b = replicas
    fleet_toml(workdir, a, b, run='max_concurrency = "auto"')
    proc = harness("run", "--backend", "fleet", "--task", "humaneval", "--limit", "4", "--sandbox", "local", "--sandbox-pool", "1",
                   "--max-concurrency", "2", "--system-opt", "max_tokens=8", "--run-id", "two", cwd=workdir)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert "--max-concurrency auto" not in proc.stderr and resolved(workdir, "two")["max_concurrency"] == 2
    assert a.max_active + b.max_active <= 2 + 1  # two in flight (one may overlap the next's start)


def test_a_backend_of_unknown_capacity_counts_as_the_default(workdir):
    proc = harness("run", *SCRIPTED, "--backend", "scripted:canonical", "--task", "humaneval", "--limit", "2", "--sandbox", "local",
                   "--sandbox-pool", "3", "--max-concurrency", "AUTO", "--run-id", "unknown", cwd=workdir)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "--max-concurrency auto: 7 = backend scripted:canonical 4 (capacity unknown: the default) + sandbox local 3" in proc.stderr
    assert resolved(workdir, "unknown")["max_concurrency"] == 7


@pytest.mark.parametrize(
    ("args", "toml", "message"),
    [
        (["--max-concurrency", "many"], "", "argument --max-concurrency: 'many' is neither a whole number nor 'auto'"),
        (["--max-concurrency", "0"], "", "--max-concurrency 0: give a number >= 1"),
        ([], '[run]\nmax_concurrency = "lots"\n', "[run]: max_concurrency = 'lots': not a valid --max-concurrency"),
    ],
)
def test_bad_values_are_refused_by_name(workdir, args, toml, message):
    (workdir / "harness.toml").write_text(toml)
    proc = harness("run", *SCRIPTED, "--backend", "scripted:canonical", "--task", "humaneval", "--limit", "1", "--sandbox", "local", *args, cwd=workdir)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
