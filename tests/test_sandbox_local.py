"""The `local` tier: the supervisor's job handling, on the host (no isolation is claimed)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import pytest
from harness_sandbox import LocalSandbox

from harness.config import Config
from harness.errors import SandboxError
from harness.types import Limits


def make_config(**options) -> Config:
    return Config(argparse.Namespace(**options), plugins=None)


@pytest.fixture
async def sandbox():
    box = LocalSandbox(make_config(sandbox_pool=2))
    await box.start()
    yield box
    await box.close()


async def run_py(box, source: str, **kwargs):
    return await box.run({"main.py": source}, ["python3", "main.py"], **kwargs)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_runs_program_with_files_stdin_and_exit_code(sandbox):
    files = {"main.py": "import sys, helper\nprint(helper.shout(sys.stdin.read()))\nprint('oops', file=sys.stderr)\nsys.exit(3)\n",
             "helper.py": "def shout(s):\n    return s.upper()\n", "data/blob.bin": b"\x00\x01"}
    result = await sandbox.run(files, ["python3", "main.py"], stdin="hello", timeout=5)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "HELLO\n", "oops\n")
    assert result.tier == "local" and not result.timed_out and not result.oom and not result.truncated


async def test_python3_is_the_harness_interpreter(sandbox):
    result = await run_py(sandbox, "import sys; print(sys.executable)")
    assert result.stdout.strip() == sys.executable


@pytest.mark.parametrize(
    ("source", "exit_code", "stdout", "stderr_end"),
    [
        ("print('a'); exit(3)", 3, "a\n", ""),
        ("import sys; sys.exit('bye')", 1, "", "bye\n"),
        ("def f():\n    raise ValueError('boom')\nf()", 1, "", "ValueError: boom\n"),
        ("def (:", 1, "", "SyntaxError: invalid syntax\n"),
        ("import atexit, threading, time\natexit.register(print, 'atexit')\n"
         "threading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()", 0, "thread\natexit\n", ""),
        ("import sys\nprint(input() * 2, sys.argv[1:], __name__)", 0, "abab ['x'] __main__\n", ""),
    ],
)
async def test_python_scripts_behave_as_under_a_fresh_interpreter(sandbox, source, exit_code, stdout, stderr_end):
    """`python3 SCRIPT` runs in a fork of the warm supervisor: it must look like a fresh python3."""
    result = await sandbox.run({"main.py": source}, ["python3", "main.py", "x"], stdin="ab\n")
    assert (result.exit_code, result.stdout) == (exit_code, stdout)
    assert result.stderr.endswith(stderr_end) and "runpy" not in result.stderr


async def test_timeout_is_enforced_within_a_second(sandbox):
    started = time.monotonic()
    result = await run_py(sandbox, "import time; time.sleep(30)", timeout=1)
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 2.0
    assert (await run_py(sandbox, "print('next')")).stdout == "next\n"


async def test_huge_output_is_truncated_not_buffered(sandbox):
    source = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\n"
    result = await run_py(sandbox, source, limits=Limits(output_bytes=1000), timeout=20)
    assert result.exit_code == 0 and result.truncated and len(result.stdout) == 1000


async def test_memory_bomb_is_reported_as_oom(sandbox):
    result = await run_py(sandbox, "x = bytearray(8 << 30)", limits=Limits(memory_mb=256))
    assert result.oom and result.exit_code != 0


async def test_background_child_in_the_group_is_killed(sandbox):
    source = "import subprocess\np = subprocess.Popen(['sleep', '60'])\nprint(p.pid)\n"
    result = await run_py(sandbox, source)
    assert result.exit_code == 0
    assert not alive(int(result.stdout))


async def test_detached_child_is_killed_and_worker_replaced(sandbox):
    source = (
        "import os, subprocess\n"
        "p = subprocess.Popen(['sleep', '60'], start_new_session=True, stdout=subprocess.DEVNULL)\n"
        "print(p.pid, os.getppid())\n"
    )
    first = await run_py(sandbox, source)
    child, supervisor = map(int, first.stdout.split())
    assert first.exit_code == 0 and not alive(child)
    await asyncio.sleep(0.5)  # the pool retires the worker in the background
    assert not alive(supervisor)
    assert (await run_py(sandbox, "print('next')")).ok


async def test_killing_the_supervisor_is_an_infra_error_and_the_pool_recovers(sandbox):
    with pytest.raises(SandboxError, match="twice"):
        await run_py(sandbox, "import os, signal; os.kill(os.getppid(), signal.SIGKILL)")
    assert (await run_py(sandbox, "print('next')")).stdout == "next\n"


async def test_a_cancelled_job_is_killed_and_the_pool_goes_on(sandbox, tmp_path):
    probe = tmp_path / "pid"
    source = f"import os, time\nopen({str(probe)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run_py(sandbox, source), 1.0)
    await asyncio.sleep(0.5)
    assert not alive(int(probe.read_text()))
    assert (await run_py(sandbox, "print('next')")).ok


async def test_closed_stdout_and_missing_command(sandbox):
    result = await run_py(sandbox, "import os, sys; os.close(1); print('late', file=sys.stderr)")
    assert result.stderr == "late\n" and not result.timed_out
    missing = await sandbox.run({}, ["no-such-program-here"])
    assert missing.exit_code == 127 and "no-such-program-here" in missing.stderr


async def test_every_job_gets_a_fresh_directory():
    box = LocalSandbox(make_config(sandbox_pool=1))
    try:
        first = await run_py(box, "import os; open('left.txt', 'w').write('x'); print(os.getcwd())")
        second = await run_py(box, "import os; print(os.getcwd(), os.listdir('.'))")
        assert first.stdout.strip() not in second.stdout
        assert "left.txt" not in second.stdout and not os.path.exists(first.stdout.strip())
    finally:
        await box.close()


async def test_workers_are_recycled_after_n_jobs():
    box = LocalSandbox(make_config(sandbox_pool=1, sandbox_recycle=2))
    try:
        parents = [(await run_py(box, "import os; print(os.getppid())")).stdout for _ in range(3)]
        assert parents[0] == parents[1] != parents[2]
    finally:
        await box.close()


async def test_jobs_run_concurrently_across_the_pool(sandbox):
    started = time.monotonic()
    results = await asyncio.gather(*(run_py(sandbox, "import time; time.sleep(0.5)") for _ in range(4)))
    assert all(r.ok for r in results)
    assert time.monotonic() - started < 1.8  # 2 workers: two rounds, not four


async def test_unsafe_paths_are_refused(sandbox):
    for path in ("../escape.py", "/etc/passwd", "a/../../b"):
        with pytest.raises(SandboxError, match="must be relative"):
            await sandbox.run({path: "x"}, ["python3", path])


async def test_close_is_idempotent_and_describe_says_local(sandbox):
    assert sandbox.describe()["tier"] == "local"
    await sandbox.close()
    await sandbox.close()
