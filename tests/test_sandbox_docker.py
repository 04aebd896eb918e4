"""The `docker` tier against a real engine: hostile programs are contained, the pool survives.

These tests fail (they do not skip) when no engine answers or the image is missing: the failure
says what to run. All tests share one pool of two containers, so each hostile program is also
a check that the next job on the same pool still works.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import DOCKER_CONFIG, require_docker
from harness_sandbox import DockerSandbox
from harness_sandbox.engine import LABEL, connect

from harness.errors import SandboxUnavailable
from harness.types import Limits

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="module")]



@pytest.fixture(scope="module", autouse=True)
def engine_and_image():
    require_docker("the docker sandbox tests")



async def run_py(box, source: str, **kwargs):
    return await box.run({"main.py": source}, ["python3", "main.py"], **kwargs)


async def assert_pool_works(box) -> None:
    """Both containers (fresh or not) answer, and each sees an empty /tmp but for its job dir."""
    source = "import os; print(sorted(os.listdir('/tmp')) == [os.path.basename(os.getcwd())], len(os.listdir('/proc')))"
    results = await asyncio.gather(*(run_py(box, source) for _ in range(4)))
    assert all(r.ok and r.stdout.startswith("True") for r in results), results


def pool_containers(box) -> list:
    return connect().containers.list(filters={"label": f"{LABEL}.run={box.run_id}"})


async def test_round_trip_and_description(box):
    result = await box.run({"main.py": "import sys; print(sys.stdin.read()[::-1])"}, ["python3", "main.py"], stdin="abc")
    assert (result.exit_code, result.stdout, result.tier) == (0, "cba\n", "docker")
    described = box.describe()
    assert described["image_id"].startswith("sha256:") and described["pool"] == 2
    assert described["container"]["network_mode"] == "none"


async def test_no_network(box):
    source = (
        "import socket\n"
        "for action in (lambda: socket.create_connection(('1.1.1.1', 80), timeout=3),\n"
        "               lambda: socket.getaddrinfo('example.com', 443)):\n"
        "    try:\n"
        "        action()\n"
        "        print('connected')\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
    )
    result = await run_py(box, source)
    assert result.exit_code == 0 and "connected" not in result.stdout, result
    await assert_pool_works(box)


async def test_cannot_write_outside_the_work_dir_or_see_the_host(box):
    source = (
        "import os\n"
        "for path in ('/probe', '/etc/probe', '/usr/probe', '/var/tmp/probe', '/root/probe'):\n"
        "    try:\n"
        "        open(path, 'w').close()\n"
        "        print('wrote', path)\n"
        "    except OSError:\n"
        "        pass\n"
        "for path in ('/proc/1/environ', '/proc/1/mem'):\n"
        "    try:\n"
        "        open(path, 'rb').read(1)\n"
        "        print('read', path)\n"
        "    except OSError:\n"
        "        pass\n"
        "print(os.getuid(), os.path.exists('/work/main'), os.path.exists('/var/run/docker.sock'))\n"
    )
    result = await run_py(box, source)
    uid, host_tree, engine_socket = result.stdout.split()
    assert int(uid) >= 200_000 and host_tree == engine_socket == "False", result
    assert "wrote" not in result.stdout and "read" not in result.stdout, result
    await assert_pool_works(box)


async def test_fork_bomb_is_contained(box):
    source = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    started = time.monotonic()
    result = await run_py(box, source, timeout=3)
    assert result.timed_out and time.monotonic() - started < 8
    await assert_pool_works(box)


async def test_memory_bomb_under_rlimit_and_under_the_cgroup_limit(box):
    capped = await run_py(box, "x = b'1' * (4 << 30)", limits=Limits(memory_mb=256))
    assert capped.oom and "MemoryError" in capped.stderr
    uncapped = await run_py(box, "x = b'1' * (4 << 30)", limits=Limits(memory_mb=None), timeout=30)
    assert uncapped.oom and uncapped.exit_code == -9, uncapped
    await assert_pool_works(box)


async def test_filling_the_tmpfs(box):
    source = (
        "import os\n"
        "block = b'0' * (1 << 20)\n"
        "n = 0\n"
        "try:\n"
        "    while True:\n"
        "        with open(f'/tmp/fill{n}', 'wb') as fh:\n"
        "            for _ in range(32):\n"
        "                fh.write(block)\n"
        "        n += 1\n"
        "except OSError as exc:\n"
        "    print('full', exc.errno)\n"
    )
    result = await run_py(box, source, timeout=30)
    assert result.exit_code == 0 and result.stdout.startswith("full 28"), result  # ENOSPC
    await assert_pool_works(box)


async def test_a_hundred_megabytes_of_output(box):
    source = "import sys\nchunk = 'y' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\n"
    result = await run_py(box, source, timeout=30)
    assert result.exit_code == 0 and result.truncated and len(result.stdout) == Limits().output_bytes
    await assert_pool_works(box)


async def test_timeout_is_enforced_within_a_second(box):
    started = time.monotonic()
    result = await run_py(box, "import time; time.sleep(60)", timeout=1.5)
    elapsed = time.monotonic() - started
    assert result.timed_out and result.duration < 2.5 and elapsed < 2.5, (result, elapsed)
    await assert_pool_works(box)


async def test_background_children_do_not_outlive_the_job(box):
    source = (
        "import subprocess\n"
        "subprocess.Popen(['sleep', '300'])\n"
        "subprocess.Popen(['sleep', '300'], start_new_session=True, stdout=subprocess.DEVNULL)\n"
        "print('left them')\n"
    )
    result = await run_py(box, source)
    assert result.exit_code == 0 and result.stdout == "left them\n"
    await assert_pool_works(box)  # it also counts processes: only pid 1 and the job's own


async def test_killing_the_supervisor_and_signalling_pid_1(box):
    source = (
        "import os, signal\n"
        "for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL):\n"
        "    os.kill(1, sig)\n"
        "os.kill(os.getppid(), signal.SIGKILL)\n"
        "try:\n"
        "    os.kill(-1, signal.SIGKILL)  # everyone but pid 1 and the caller\n"
        "except ProcessLookupError:\n"
        "    pass\n"
        "print('still here')\n"
    )
    result = await run_py(box, source)
    assert result.exit_code == 0 and result.stdout == "still here\n", result
    await assert_pool_works(box)


async def test_closing_stdout_and_stderr(box):
    result = await run_py(box, "import os, time\nos.close(1)\nos.close(2)\ntime.sleep(0.2)\n")
    assert not result.timed_out and result.stdout == result.stderr == ""
    await assert_pool_works(box)


async def test_setuid_and_ptrace_are_refused(box):
    source = (
        "import ctypes, os\n"
        "try:\n"
        "    os.setuid(0)\n"
        "    print('setuid worked')\n"
        "except PermissionError:\n"
        "    pass\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())  # PTRACE_ATTACH to the supervisor\n"
    )
    result = await run_py(box, source)
    assert "setuid worked" not in result.stdout and result.stdout.split()[0] == "-1", result
    await assert_pool_works(box)


async def test_jobs_never_see_each_others_files(box):
    writer = (
        "import os, time\n"
        "for path in ('secret', '/tmp/secret', '/dev/shm/secret'):\n"
        "    open(path, 'w').write('s3cr3t')\n"
        "time.sleep(1)\n"
    )
    reader = (
        "import os\n"
        "print([d for d in ('/tmp', '/dev/shm') for name in os.listdir(d) if name != os.path.basename(os.getcwd())])\n"
    )
    together = await asyncio.gather(run_py(box, writer), run_py(box, reader))
    after = await asyncio.gather(*(run_py(box, reader) for _ in range(4)))
    assert together[0].ok and all(r.stdout == "[]\n" for r in [together[1], *after]), (together, after)


async def test_pool_recovers_when_a_container_is_killed(box):
    jobs = [asyncio.ensure_future(run_py(box, "import time; time.sleep(2); print('done')")) for _ in range(2)]
    await asyncio.sleep(0.7)
    pool_containers(box)[0].kill()
    results = await asyncio.gather(*jobs)
    assert all(r.stdout == "done\n" for r in results)  # the killed one's job ran again elsewhere
    await assert_pool_works(box)
    assert len(pool_containers(box)) == 2


async def test_check_reports_isolation_holds():
    rows = await asyncio.to_thread(DockerSandbox.check, DOCKER_CONFIG)
    failed = [row for row in rows if not row.ok]
    assert len(rows) >= 10 and not failed, failed


async def test_cleanup_removes_labelled_containers():
    image = DockerSandbox(DOCKER_CONFIG).tag
    client = connect()
    leftover = client.containers.run(image, ["sleep", "300"], detach=True, labels={LABEL: "1"}, network_mode="none")
    assert DockerSandbox.cleanup(DOCKER_CONFIG) >= 1
    assert leftover.id not in [c.id for c in client.containers.list(all=True, filters={"label": LABEL})]


async def test_offline_build_reads_the_mirror_from_apt_configuration(tmp_path, monkeypatch):
    from harness_sandbox.image import MIRROR_ENV, debian_mirror

    monkeypatch.delenv(MIRROR_ENV, raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.mirror.invalid/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb deb-src\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.invalid/debian"
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text("# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://other.invalid/debian bookworm main\n")
    assert debian_mirror(tmp_path) == "http://other.invalid/debian"
    (tmp_path / "sources.list").write_text("")
    with pytest.raises(SandboxUnavailable, match=MIRROR_ENV):
        debian_mirror(tmp_path)
