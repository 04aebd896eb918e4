"""Local OpenAI-compatible server processes that the harness launches, and always stops.

A `ManagedServer` runs one command (``llama_cpp.server``, ``vllm serve`` …) on a free loopback
port, in its own process group, with its output in ``<run_dir>/logs/<name>_port_<port>.out|.err``.
``await start(run_dir)`` returns once the server answers its health path and ``/v1/models``; a
process that exits (or never answers) during start-up raises `ServerError` with the tail of its
log. ``stop()`` ends the whole process group: SIGTERM, then SIGKILL after a grace period.
Each change of state (starting, loading — every `LOADING_EVERY` seconds of a long start-up, with
the last line of its log —, ready, failed, stopped) is passed to ``on_state``, and `uptime`
measures how long the process has run, for servers billed by the hour.

Every started server is also stopped when the interpreter exits, or on SIGTERM / SIGHUP to the
harness, and the kernel sends it SIGTERM if the harness is killed outright (SIGKILL): no server
outlives the harness that launched it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ServerError

LOOPBACK = "127.0.0.1"
#: Seconds between two ``loading`` reports while a server starts.
LOADING_EVERY = 10.0
#: ``on_state(server.describe(), state, detail)``: see `ManagedServer`.
StateCallback = Callable[[dict[str, Any], str, str], None]

#: Ports this process handed out and has not released: two servers never get the same one.
_reserved_ports: set[int] = set()
#: Servers started and not yet stopped (strong references: an unreferenced server still stops).
_live: set[ManagedServer] = set()
_atexit_registered = False
#: The SIGTERM / SIGHUP handlers that were there before ours, called after our servers stop.
_previous_handlers: dict[int, Any] = {}
#: A direct, proxy-free opener: health checks must reach the loopback server itself.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(host: str = LOOPBACK, start: int | None = None) -> int:
    """A port on ``host`` that nothing is bound to now and that this process has not handed out:
    the first from ``start`` upwards, or one the OS picks when ``start`` is None."""
    candidates = range(start, 65536) if start is not None else [0] * 64
    for candidate in candidates:
        if candidate in _reserved_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue  # in use
            port = sock.getsockname()[1]
        if port not in _reserved_ports:
            _reserved_ports.add(port)
            return port
    where = f"from {start} up" if start is not None else "among those the OS offered"
    raise ServerError(f"no free TCP port on {host} {where}; stop what holds them, or start from another port")


def _http_get(url: str, timeout: float, headers: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """(status, body) of a GET; status None and the reason when nothing answered."""
    try:
        with _opener.open(urllib.request.Request(url, headers=dict(headers or {})), timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))


def _tail(path: Path, max_lines: int, max_bytes: int = 16384, width: int = 300) -> list[str]:
    """The file's last lines, each cut to ``width`` characters (servers log very long ones)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - max_bytes))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line if len(line) <= width else line[:width] + " …" for line in text.splitlines()[-max_lines:]]


class ManagedServer:
    """One server process on a loopback port. ``argv`` may contain ``{host}`` and ``{port}``,
    which are filled in when it starts. The port is the first free one from ``port_from`` up,
    or any free one when ``port_from`` is None. ``on_state(description, state, detail)`` hears
    of each change of state; it must return at once."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        host: str = LOOPBACK,
        health_path: str | None = "/health",
        startup_timeout: float = 120.0,
        stop_grace: float = 10.0,
        port_from: int | None = None,
        on_state: StateCallback | None = None,
        probe_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.probe_headers = dict(probe_headers or {})  # sent with the readiness probes (an API key)
        self.argv_template = list(argv)
        self.env = dict(env or {})
        self.host = host
        self.health_path = health_path
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.port_from = port_from
        self.port: int | None = None
        self.argv: list[str] = []
        self.model_ids: list[str] = []  # what /v1/models lists once the server is ready
        self.log_dir: Path | None = None
        self.on_state = on_state
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._launched: float | None = None  # time.monotonic() at launch and at exit
        self._ended: float | None = None

    # --- what it is ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``…/v1``)."""
        return f"{self.url}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_paths(self) -> tuple[Path, Path]:
        if self.log_dir is None or self.port is None:
            raise ServerError(f"{self.name}: not started, so it has no log yet")
        stem = f"{self.name}_port_{self.port}"
        return self.log_dir / f"{stem}.out", self.log_dir / f"{stem}.err"

    @property
    def uptime(self) -> float:
        """Seconds from launch to exit (or to now while it runs); 0 before launch."""
        if self._launched is None:
            return 0.0
        return (self._ended if self._ended is not None else time.monotonic()) - self._launched

    def _report(self, state: str, detail: str = "") -> None:
        if self.on_state is not None:
            self.on_state(self.describe() | {"pid": self.pid}, state, detail)

    def describe(self) -> dict[str, Any]:
        """For run.json: the command line, the port and the logs."""
        out: dict[str, Any] = {"name": self.name, "argv": self.argv or self.argv_template, "port": self.port}
        if self.log_dir is not None and self.port is not None:
            out["logs"] = [str(p) for p in self.log_paths]
        return out

    def log_tail(self, max_lines: int = 20) -> str:
        """The last lines of the server's stderr and stdout, headed by their paths."""
        if self.log_dir is None or self.port is None:
            return "(no log: the server was never started)"
        parts = []
        for path in reversed(self.log_paths):  # stderr first: that is where servers complain
            lines = _tail(path, max_lines)
            if lines:
                parts.append(f"--- last lines of {path} ---\n" + "\n".join(lines))
        return "\n".join(parts) or f"(its logs {', '.join(map(str, self.log_paths))} are empty)"

    def check(self) -> None:
        """Raise ServerError if the process has exited (it died mid-run, or was never started)."""
        if self._proc is None:
            raise ServerError(f"{self.name}: the server was never started")
        if self._stopping:
            raise ServerError(f"{self.name} ({self.url}) was stopped: the backend using it is closed")
        code = self._proc.poll()
        if code is not None:
            raise ServerError(
                f"{self.name} (pid {self._proc.pid}, {self.url}) is gone: it exited with {_exit_text(code)}. "
                f"See its log below and {self.log_dir}.\n{self.log_tail()}"
            )

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, run_dir: Path) -> None:
        """Launch the process and wait until it serves; on any failure stop it and raise."""
        if self._proc is not None:
            raise ServerError(f"{self.name}: start() was already called; make a new ManagedServer to start another")
        self.log_dir = Path(run_dir) / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.host, self.port_from)
        self.argv = [a.replace("{host}", self.host).replace("{port}", str(self.port)) for a in self.argv_template]
        out_path, err_path = self.log_paths
        with out_path.open("wb") as out, err_path.open("wb") as err:
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env={**os.environ, **self.env},
                    start_new_session=True,  # its own process group: stop() reaches its children too
                    preexec_fn=_end_with_parent,
                )
            except OSError as exc:
                _reserved_ports.discard(self.port)
                error = ServerError(f"{self.name}: cannot run {self.argv[0]!r}: {exc.strerror}. Is it installed?")
                self._report("failed", str(error))
                raise error from exc
        self._launched = time.monotonic()
        _install_exit_hooks()
        _live.add(self)
        self._report("starting")
        try:
            await self._wait_ready()
        except BaseException as exc:
            self._report("failed", str(exc) if isinstance(exc, ServerError) else f"start-up cancelled ({type(exc).__name__})")
            await self.stop()
            raise
        self._report("ready", f"after {self.uptime:.1f}s")

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        paths = [p for p in (self.health_path, "/v1/models") if p]
        delay = 0.05
        last = "nothing answered yet"
        next_report = time.monotonic() + LOADING_EVERY
        while True:
            # checked after the last answer too: what answered must not be another process's server
            if self._proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with {_exit_text(self._proc.returncode)} during start-up "
                    f"(command: {' '.join(self.argv)}).\n{self.log_tail()}"
                )
            if not paths:
                return
            status, body = await asyncio.to_thread(_http_get, self.url + paths[0], 5.0, self.probe_headers)
            if status == 200 or (status == 404 and paths[0] == self.health_path and len(paths) > 1):
                # a server without the health path is judged by /v1/models alone
                if paths[0] == "/v1/models":
                    self.model_ids = _model_ids(body)
                paths.pop(0)
                continue
            last = f"GET {paths[0]} -> {status if status is not None else body}"
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.name} did not become ready at {self.url} within {self.startup_timeout:g}s ({last}). "
                    f"Check its log, or allow it longer to start.\n{self.log_tail()}"
                )
            if time.monotonic() >= next_report:
                next_report += LOADING_EVERY
                self._report("loading", self.last_log_line())
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def last_log_line(self) -> str:
        """The newest non-empty line of its stderr, else of its stdout ("" when both are empty)."""
        if self.log_dir is None or self.port is None:
            return ""
        for path in reversed(self.log_paths):
            lines = [line for line in _tail(path, 5) if line.strip()]
            if lines:
                return lines[-1].strip()
        return ""

    async def stop(self) -> None:
        """End the whole process group (SIGTERM, SIGKILL after ``stop_grace``). Safe to repeat."""
        if not self._begin_stop():
            return
        try:
            deadline = time.monotonic() + self.stop_grace
            while self._proc is not None and self._proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            self._finish_stop()

    def _begin_stop(self) -> bool:
        if self._proc is None or self._stopping:
            return False
        self._stopping = True
        self._signal_group(signal.SIGTERM)
        return True

    def _finish_stop(self) -> None:
        assert self._proc is not None
        self._signal_group(signal.SIGKILL)  # whatever ignored SIGTERM, grandchildren included
        self._proc.wait()
        self._ended = time.monotonic()
        _live.discard(self)
        if self.port is not None:
            _reserved_ports.discard(self.port)
        self._report("stopped", f"after {self.uptime:.1f}s")

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        # The group id is the leader's pid; the kernel never reuses a pid still in use as a group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)


def stop_servers(servers: Iterable[ManagedServer], grace: float | None = None) -> None:
    """Stop several servers at once: SIGTERM to all, one shared grace period, then SIGKILL."""
    begun = [s for s in servers if s._begin_stop()]
    if not begun:
        return
    deadline = time.monotonic() + (grace if grace is not None else max(s.stop_grace for s in begun))
    for server in begun:
        assert server._proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            server._proc.wait(max(0.0, deadline - time.monotonic()))
        server._finish_stop()


def _model_ids(body: str) -> list[str]:
    try:
        return [str(m["id"]) for m in json.loads(body).get("data", [])]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def _stop_all_live() -> None:
    stop_servers(list(_live))


def _on_signal(signum: int, frame: Any) -> None:
    """Stop our servers, then do what the signal would have done without us."""
    _stop_all_live()
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In the child before exec: SIGTERM when the harness dies, even by SIGKILL (Linux), so that
    not even a killed harness leaves its servers running. Only a system call: safe after fork."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _install_exit_hooks() -> None:
    """Stop every live server at interpreter exit and on SIGTERM / SIGHUP.

    Called at each start: a handler that someone replaced since (asyncio's loop does while it
    handles a signal itself, and restores the default after) is put back, chaining to theirs.
    An ignored signal, or one whose handler is not Python's, is left alone; signal handlers can
    only be set from the main thread."""
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_stop_all_live)
        _atexit_registered = True
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        current = signal.getsignal(sig)
        if current is not _on_signal and (current == signal.SIG_DFL or callable(current)):
            _previous_handlers[sig] = current
            signal.signal(sig, _on_signal)
