"""The sandbox's RPC bridge (harness_sandbox.rpc): a running job's requests reach an async handler
on the host and the replies come back, on the docker tier and the local tier alike."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import pytest
import pytest_asyncio

from harness import RpcError, SandboxError
from harness.config import Config

CLIENT = r'''
import json, os, sys, threading
REQ, REP = (int(x) for x in os.environ["HARNESS_RPC_FDS"].split(","))
replies = open(REP, "rb")
def send(obj):
    data = (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n"
    os.write(REQ, data)
def receive():
    return json.loads(replies.readline())
'''


def job(body: str) -> dict[str, str]:
    return {"job.py": CLIENT + body}


async def echo(method, params):
    if method == "echo":
        return {"echo": params}
    if method == "slow":
        await asyncio.sleep(params)
        return params
    if method == "refuse":
        raise RpcError("budget", "spent", end_job=bool(params))
    if method == "crash":
        raise ValueError("handler bug")
    raise RpcError("unknown", f"no method {method!r}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def local_tier():
    from harness_sandbox.local import LocalSandbox

    sandbox = LocalSandbox(Config(argparse.Namespace(sandbox_pool=1, sandbox_recycle=500), plugins=None))
    await sandbox.start()
    yield sandbox
    await sandbox.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["docker", "local"])
async def tier(request, box, local_tier):
    yield box if request.param == "docker" else local_tier


pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="module")]


async def test_requests_and_replies_round_trip(tier):
    result = await tier.run(job(
        "for i in range(3):\n    send({'id': i, 'method': 'echo', 'params': [i, 'é' * i]})\n    print(json.dumps(receive()))\n"
        "send({'id': 9, 'method': 'nope'})\nprint(json.dumps(receive()))\n"
    ), ["python3", "job.py"], timeout=20, rpc=echo)
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[:3] == [{"id": i, "result": {"echo": [i, "é" * i]}} for i in range(3)]
    assert lines[3] == {"id": 9, "error": {"type": "unknown", "message": "no method 'nope'"}}


async def test_concurrent_requests_are_served_concurrently_and_matched_by_id(tier):
    started = time.monotonic()
    result = await tier.run(job(
        "for i in range(6):\n    send({'id': i, 'method': 'slow', 'params': 1.0})\n"
        "print(json.dumps(sorted(receive()['id'] for _ in range(6))))\n"
    ), ["python3", "job.py"], timeout=20, rpc=echo)
    assert json.loads(result.stdout) == list(range(6)), result.stderr
    assert time.monotonic() - started < 5, "six 1-second requests overlap"


async def test_bad_lines_are_refused_and_the_job_goes_on(tier):
    result = await tier.run(job(
        "send(b'not json')\nprint(json.dumps(receive()))\nsend([1, 2])\nprint(json.dumps(receive()))\n"
        "send({'id': 1})\nprint(json.dumps(receive()))\n"
    ), ["python3", "job.py"], timeout=20, rpc=echo)
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["error"]["type"] for r in replies] == ["bad_request"] * 3, result.stderr
    assert replies[2]["id"] == 1


async def test_a_handler_can_refuse_and_end_the_job(tier):
    started = time.monotonic()
    result = await tier.run(job(
        "send({'id': 1, 'method': 'refuse', 'params': False})\nprint(json.dumps(receive()), flush=True)\n"
        "send({'id': 2, 'method': 'refuse', 'params': True})\nimport time\ntime.sleep(60)\n"
    ), ["python3", "job.py"], timeout=30, rpc=echo)
    assert json.loads(result.stdout.splitlines()[0]) == {"id": 1, "error": {"type": "budget", "message": "spent"}}
    assert result.exit_code == -9 and not result.timed_out
    assert time.monotonic() - started < 10


async def test_a_failing_handler_ends_the_job_and_its_exception_is_raised(tier):
    with pytest.raises(ValueError, match="handler bug"):
        await tier.run(job("send({'id': 1, 'method': 'crash'})\nprint(receive(), flush=True)\nimport time\ntime.sleep(60)\n"),
                       ["python3", "job.py"], timeout=30, rpc=echo)
    after = await tier.run({"a.py": "print('next job')"}, ["python3", "a.py"], timeout=10)
    assert after.stdout == "next job\n", "the worker serves the next job"


async def test_late_replies_do_not_confuse_the_next_job(tier):
    result = await tier.run(job("send({'id': 1, 'method': 'slow', 'params': 0.5})\n"), ["python3", "job.py"], timeout=10, rpc=echo)
    assert result.exit_code == 0
    await asyncio.sleep(1.0)  # the reply was dropped when the job ended
    for _ in range(3):
        after = await tier.run({"a.py": "print('ok')"}, ["python3", "a.py"], timeout=10)
        assert after.stdout == "ok\n" and after.exit_code == 0


async def test_the_timeout_covers_time_spent_in_requests(tier):
    result = await tier.run(job("send({'id': 1, 'method': 'slow', 'params': 30})\nreceive()\n"), ["python3", "job.py"], timeout=2, rpc=echo)
    assert result.timed_out


async def test_jobs_without_a_handler_get_no_bridge(tier):
    result = await tier.run({"a.py": "import os\nprint(os.environ.get('HARNESS_RPC_FDS'))\nos.fstat(3)"}, ["python3", "a.py"], timeout=10)
    assert result.stdout == "None\n" and "Bad file descriptor" in result.stderr


async def test_exec_jobs_get_the_bridge_too(tier):
    result = await tier.run(job("send({'id': 5, 'method': 'echo', 'params': 'sh'})\nprint(json.dumps(receive()))\n"),
                            ["sh", "-c", "exec python3 job.py"], timeout=20, rpc=echo)
    assert json.loads(result.stdout) == {"id": 5, "result": {"echo": "sh"}}, result.stderr


async def test_the_request_bridge_is_the_only_way_out(box):
    """Only the docker tier isolates the network, so this is its test alone."""
    result = await box.run(job(
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('connected')\n"
        "except OSError as exc:\n    print('no network:', type(exc).__name__)\n"
        "send({'id': 1, 'method': 'echo', 'params': 'still here'})\nprint(json.dumps(receive()))\n"
    ), ["python3", "job.py"], timeout=20, rpc=echo)
    first, second = result.stdout.splitlines()
    assert first.startswith("no network") and json.loads(second)["result"] == {"echo": "still here"}


async def test_a_job_whose_worker_dies_is_not_run_twice(local_tier):
    """On the local tier (a container's supervisor is its pid 1, which a job cannot kill)."""
    tier = local_tier
    calls = []

    async def count(method, params):
        calls.append(method)

    # the job kills its supervisor, its parent on the local tier
    with pytest.raises(SandboxError, match="not retried"):
        await tier.run(job("send({'id': 1, 'method': 'once'})\nreceive()\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(5)\n"),
                       ["python3", "job.py"], timeout=20, rpc=count)
    assert calls == ["once"]


async def test_a_job_holds_only_its_standard_streams_and_the_bridge(tier):
    listing = "import os\nprint(sorted(int(fd) for fd in os.listdir('/proc/self/fd'))[:-1])\n"  # the last: listdir's own
    bridged = await tier.run({"a.py": listing}, ["python3", "a.py"], timeout=10, rpc=echo)
    plain = await tier.run({"a.py": listing}, ["python3", "a.py"], timeout=10)
    assert (bridged.stdout, plain.stdout) == ("[0, 1, 2, 3, 4]\n", "[0, 1, 2]\n"), (bridged.stderr, plain.stderr)
