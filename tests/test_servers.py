"""ManagedServer against small real server processes: start-up, logs, failures, stopping."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.errors import ServerError
from harness.serving import managed
from harness.serving.managed import ManagedServer, free_port, stop_servers

# A tiny OpenAI-ish server: /v1/models (and /health unless --no-health). It starts a
# grandchild that shares its process group and writes that grandchild's pid to a file, so the
# tests can see that stopping reaches the whole group. --ignore-term makes it ignore SIGTERM.
FAKE_SERVER = textwrap.dedent(
    """
    import http.server, json, signal, subprocess, sys
    port, pid_file = int(sys.argv[1]), sys.argv[2]
    flags = sys.argv[3:]
    if "--ignore-term" in flags:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open(pid_file, "w").write(str(child.pid))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/v1/models":
                body = json.dumps({"data": [{"id": "fake-model"}]}).encode()
            elif self.path == "/health" and "--no-health" not in flags:
                body = b"ok"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

    print("fake server listening on", port, flush=True)
    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def fake_server(tmp_path: Path):
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    pid_file = tmp_path / "grandchild.pid"

    made: list[ManagedServer] = []

    def factory(*flags: str, **kwargs) -> ManagedServer:
        server = ManagedServer("fake", [sys.executable, str(script), "{port}", str(pid_file), *flags], **kwargs)
        made.append(server)
        return server

    factory.grandchild = lambda: int(pid_file.read_text())  # type: ignore[attr-defined]
    yield factory
    for server in made:
        stop_servers([server])


async def test_start_serves_logs_and_stop_ends_the_group(fake_server, tmp_path: Path) -> None:
    server = fake_server()
    await server.start(tmp_path / "run")
    assert server.running and server in managed._live
    assert server.model_ids == ["fake-model"]
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    out, err = server.log_paths
    assert out == tmp_path / "run" / "logs" / f"fake_port_{server.port}.out" and err.exists()
    assert "listening on" in out.read_text()
    grandchild = fake_server.grandchild()
    assert _alive(grandchild)
    await server.stop()
    assert not server.running and server.returncode == -signal.SIGTERM
    assert _wait_gone(grandchild), "the server's child survived stop()"
    assert server not in managed._live
    await server.stop()  # safe twice
    stop_servers([server])


async def test_server_without_health_path_is_judged_by_models(fake_server, tmp_path: Path) -> None:
    server = fake_server("--no-health")
    await server.start(tmp_path)
    assert server.model_ids == ["fake-model"]
    await server.stop()


async def test_exit_during_startup_raises_with_log_tail(tmp_path: Path) -> None:
    code = "import sys; print('error: unknown flag --frobnicate', file=sys.stderr); sys.exit(3)"
    server = ManagedServer("broken", [sys.executable, "-c", code])
    started = time.monotonic()
    with pytest.raises(ServerError, match="exit code 3") as info:
        await server.start(tmp_path)
    assert time.monotonic() - started < 10, "start-up failure was not detected quickly"
    assert "unknown flag --frobnicate" in str(info.value)
    assert "broken_port_" in str(info.value)  # names the log file


async def test_never_ready_times_out_and_leaves_nothing(tmp_path: Path) -> None:
    server = ManagedServer("mute", [sys.executable, "-c", "import time; time.sleep(600)"], startup_timeout=1.0)
    with pytest.raises(ServerError, match="did not become ready .* within 1s"):
        await server.start(tmp_path)
    assert server.pid is not None and not server.running


async def test_missing_executable_is_a_clear_error(tmp_path: Path) -> None:
    server = ManagedServer("ghost", ["/nonexistent/serve-model"])
    with pytest.raises(ServerError, match="cannot run '/nonexistent/serve-model'"):
        await server.start(tmp_path)


async def test_sigterm_ignored_means_sigkill_after_grace(fake_server, tmp_path: Path) -> None:
    server = fake_server("--ignore-term", stop_grace=0.5)
    await server.start(tmp_path)
    started = time.monotonic()
    await server.stop()
    assert server.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 3
    assert _wait_gone(fake_server.grandchild())


async def test_check_reports_a_server_that_died(fake_server, tmp_path: Path) -> None:
    server = fake_server()
    await server.start(tmp_path)
    server.check()
    os.kill(server.pid, signal.SIGKILL)
    server._proc.wait()  # type: ignore[union-attr]
    with pytest.raises(ServerError, match="is gone: it exited with signal SIGKILL"):
        server.check()
    await server.stop()


def test_free_port_skips_taken_and_handed_out_ports() -> None:
    first, second = free_port(), free_port()
    assert first != second
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", first))  # nothing is bound there
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        after = free_port(start=busy)
        assert after > busy
        assert free_port(start=busy) > after  # handed out once, not twice


async def test_port_from_picks_the_first_free_port_upwards(fake_server, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        server = fake_server(port_from=busy)
        await server.start(tmp_path)
    assert server.port is not None and server.port > busy
    await server.stop()


HARNESS_PROCESS = textwrap.dedent(
    """
    import asyncio, signal, sys
    from harness.serving.managed import ManagedServer
    script, pid_file, run_dir, mode = sys.argv[1:5]

    async def main():
        if mode == "asyncio":  # the runner's way: the loop handles SIGTERM by cancelling the run
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
        server = ManagedServer("fake", [sys.executable, script, "{port}", pid_file])
        await server.start(run_dir)
        print(server.pid, flush=True)
        if mode != "exit":
            try:
                await asyncio.sleep(600)
            except asyncio.CancelledError:
                print("cancelled", flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(("mode", "exit_code"), [("exit", 0), ("sigterm", -signal.SIGTERM), ("asyncio", 0)])
def test_no_server_outlives_the_harness(mode: str, exit_code: int, tmp_path: Path) -> None:
    """Interpreter exit without stop(), SIGTERM to the harness, SIGTERM while an asyncio loop
    handles it: the server and its children go too, and the loop still sees the signal."""
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    pid_file = tmp_path / "grandchild.pid"
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS_PROCESS, str(script), str(pid_file), str(tmp_path), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert harness.stdout is not None
    server_pid = int(harness.stdout.readline())
    if mode != "exit":
        harness.send_signal(signal.SIGTERM)
    assert harness.wait(timeout=20) == exit_code
    if mode == "asyncio":
        assert harness.stdout.read().strip() == "cancelled"
    assert _wait_gone(server_pid), "the server outlived the harness"
    assert _wait_gone(int(pid_file.read_text())), "the server's child outlived the harness"


async def test_each_state_is_reported_and_the_uptime_measured(fake_server, tmp_path: Path, monkeypatch) -> None:
    seen: list[tuple[str, str, int | None]] = []
    server = fake_server(on_state=lambda described, state, detail: seen.append((state, detail, described["port"])))
    assert server.uptime == 0.0
    await server.start(tmp_path)
    await asyncio.sleep(0.2)
    await server.stop()
    assert [state for state, _, _ in seen] == ["starting", "ready", "stopped"]
    assert {port for _, _, port in seen} == {server.port}
    assert seen[1][1].startswith("after ") and seen[2][1].startswith("after ")
    uptime = server.uptime
    assert 0.2 <= uptime < 30 and server.uptime == uptime  # stopped: it no longer grows


async def test_a_slow_start_says_it_is_loading_with_its_newest_log_line(tmp_path: Path, monkeypatch) -> None:
    from harness.serving import managed

    monkeypatch.setattr(managed, "LOADING_EVERY", 0.3)
    code = "import sys, time; print('loading weights 3/7', file=sys.stderr, flush=True); time.sleep(600)"
    seen: list[tuple[str, str]] = []
    server = ManagedServer("slow", [sys.executable, "-c", code], startup_timeout=1.5, on_state=lambda d, state, detail: seen.append((state, detail)))
    with pytest.raises(ServerError, match="did not become ready"):
        await server.start(tmp_path)
    states = [state for state, _ in seen]
    assert states[0] == "starting" and states[-2:] == ["failed", "stopped"] and "loading" in states
    assert ("loading", "loading weights 3/7") in seen
    failure = dict(seen)["failed"]
    assert "did not become ready" in failure and "loading weights 3/7" in failure  # the tail of its log


async def test_a_failed_start_is_reported_with_the_tail_of_its_log(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    code = "import sys; print('CUDA out of memory', file=sys.stderr); sys.exit(1)"
    server = ManagedServer("oom", [sys.executable, "-c", code], on_state=lambda d, state, detail: seen.append((state, detail)))
    with pytest.raises(ServerError):
        await server.start(tmp_path)
    assert [state for state, _ in seen] == ["starting", "failed", "stopped"]
    assert "exit code 1" in seen[1][1] and "CUDA out of memory" in seen[1][1]
    ghost = ManagedServer("ghost", ["/nonexistent/serve-model"], on_state=lambda d, state, detail: seen.append((state, detail)))
    with pytest.raises(ServerError):
        await ghost.start(tmp_path)
    assert seen[-1][0] == "failed" and "cannot run '/nonexistent/serve-model'" in seen[-1][1]
