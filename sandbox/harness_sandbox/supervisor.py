"""Run untrusted jobs one at a time: fresh directory, rlimits, own session, hard timeout.

Stdlib only, on purpose: the docker tier runs this source inside every pool container with the
image's interpreter (see ``docker_tier.BOOTSTRAP``), the local tier starts it as a host
subprocess. Either way the host talks to it over the supervisor's stdin/stdout, one JSON
object per line; ``encode``/``decode``/``job_message`` below are imported by the host side too, so
the protocol lives in this one file. Every message has a ``type``:

host -> supervisor
    ``{"type": "job", "id", "files": {relpath: base64}, "argv": [...], "stdin": base64 | null,
    "timeout": seconds, "limits": {memory_mb, cpu_seconds, processes, file_size_mb, output_bytes}}``;
    ``{"type": "preload", "id", "name", "source"}``: execute a runner module's source once, here
    (a program runner: it defines ``REPORT_FD``, ``prepare(source)`` and
    ``child_main(prepared, options)``, which never returns);
    ``{"type": "program", "id", "runner", "program", "options", "cpu_limit", "wall_limit",
    "limits"}``: a program judged from outside its process (below);
    ``{"type": "batch", "id", "jobs": [message, ...]}``: several of the above, run one after
    the other and answered together (one round trip for all of them).
supervisor -> host
    ``{"type": "hello", "protocol", "pid", "uid", "python"}`` once, when ready;
    ``{"type": "preloaded", "id", "name"}``;
    ``{"type": "batch", "id", "results": [answer, ...]}``, in the order of the batch's jobs;
    ``{"type": "result", "id", "exit_code", "stdout", "stderr", "timed_out", "limit", "oom",
    "truncated", "duration", "cpu_seconds", "anomalies": [...]}`` per job (a program's also has
    ``"reports": [packet text, ...]``, ``"reports_dropped"`` and ``"waiting_seconds"``);
    ``limit`` is "cpu" or "wall" when the job was stopped at that limit; ``anomalies`` lists
    what makes this supervisor unfit for further jobs (processes that outlived the job, a full
    work filesystem …);
    ``{"type": "error", "id", "message"}`` when a message could not be handled.

A job whose argv is ``python3 SCRIPT.py ...`` runs in a fork of the supervisor itself, which
skips the interpreter's start-up (see `_run_script`); any other argv is exec'd as given, with
``python3`` meaning the supervisor's own interpreter.

A program job runs the same way, in a forked child, but the child calls the preloaded runner's
``child_main`` with what ``prepare`` (run here, before the fork) made of the program; the child
writes its report on ``REPORT_FD``, a packet-mode pipe that only this supervisor reads, and
every packet that arrives is handed back. The child's CPU time (kernel accounting of the child
and the children it reaped) is held to ``cpu_limit``; ``wall_limit`` is the wall-clock backstop.
``waiting_seconds`` is how long the child was runnable but had no CPU (from
/proc/PID/schedstat; null where unknown), read when the backstop stopped it.

A message of unknown type is answered with an error, so new kinds can be added to both sides
without confusing an older peer.

A job with ``"rpc": true`` may make requests back to the host while it runs (the RPC bridge):
``{"type": "rpc", "id", "request"}`` goes up for each request line the job writes, and the host
answers with ``{"type": "rpc_reply", "id", "reply"}`` or ends the job with ``{"type": "cancel",
"id", "reason"}`` (its result then says ``"cancelled": reason``). The protocol, the job's side of
it and the host's are documented in ``harness_sandbox.rpc``; `_RpcRelay` below is the
supervisor's part.

When the supervisor is the init of a PID namespace (pid 1: inside a container) every other
process in sight belongs to the job, so after each job it kills them all and empties the whole
work root and /dev/shm. On the host (local tier) it becomes a child subreaper instead, so that
processes the job detached from its session are still found and killed.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import gc
import io
import json
import math
import os
import resource
import runpy
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading  # imported here, like runpy, so that forked jobs need not import them each time
import time

PROTOCOL = 1
#: After the job's main process ended (or was killed), how long its pipes may still be drained.
DRAIN_GRACE = 0.5
#: A work filesystem with less free space than this after a job is reported as full.
FULL_BELOW_BYTES = 1 << 20
CHUNK = 1 << 16
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Report packets of one program job kept (a program that floods the channel is cut off).
MAX_PACKETS = 16
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
#: The environment variable that tells a job with the RPC bridge its descriptors: "REQUEST,REPLY".
RPC_ENV = "HARNESS_RPC_FDS"
#: Longest request line a job may write (a longer one is refused and its bytes dropped).
RPC_LINE_LIMIT = 16 << 20
#: Replies a job has left unread beyond this many bytes end it (the supervisor's memory is the container's).
RPC_UNREAD_LIMIT = 64 << 20


# --- the protocol, shared with the host -------------------------------------------------------


def encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict:
    message = json.loads(line)
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError(f"not a protocol message: {line[:200]!r}")
    return message


def safe_relpath(path: str) -> str:
    """`path` itself if it names a file inside the work dir; ValueError otherwise."""
    parts = path.split("/")
    if not path or path.startswith("/") or "\0" in path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"file path {path!r} must be relative, without '.', '..' or empty parts")
    return path


def _b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode("ascii")


def job_message(job_id: int, files: dict, argv: list, stdin, timeout: float, limits: dict, rpc: bool = False) -> dict:
    """A job message; file contents and stdin may be str (sent as UTF-8) or bytes. With `rpc`
    the job gets the RPC bridge (module docstring)."""
    if not argv:
        raise ValueError("argv is empty: give the program to run, e.g. ['python3', 'main.py']")
    return {
        "type": "job",
        "id": job_id,
        "files": {safe_relpath(path): _b64(content) for path, content in files.items()},
        "argv": [str(arg) for arg in argv],
        "stdin": None if stdin is None else _b64(stdin),
        "timeout": float(timeout),
        "limits": limits,
        "rpc": bool(rpc),
    }


def preload_message(job_id: int, name: str, source: str) -> dict:
    return {"type": "preload", "id": job_id, "name": name, "source": source}


def batch_message(job_id: int, jobs: list[dict]) -> dict:
    return {"type": "batch", "id": job_id, "jobs": jobs}


def program_message(job_id: int, runner: str, program: str, options: dict, cpu_limit: float, wall_limit: float, limits: dict) -> dict:
    """A program job: `program` (Python source) judged by the preloaded `runner`."""
    if not cpu_limit > 0 or not wall_limit >= cpu_limit:
        raise ValueError(f"need 0 < cpu_limit <= wall_limit, not {cpu_limit} and {wall_limit}")
    return {
        "type": "program",
        "id": job_id,
        "runner": runner,
        "program": program,
        "options": options,
        "cpu_limit": float(cpu_limit),
        "wall_limit": float(wall_limit),
        "limits": limits,
    }


# --- processes --------------------------------------------------------------------------------


def _prctl(option: int, value: int) -> bool:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):
        return False


def _process_table() -> list[tuple[int, int, int, str]]:
    """(pid, ppid, pgrp, state) of every process visible in /proc."""
    table = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue  # it ended while we looked
        fields = raw[raw.rindex(b")") + 2 :].split()
        table.append((int(name), int(fields[1]), int(fields[2]), fields[0].decode()))
    return table


def _reap() -> bool:
    """Collect every exited child so none stays a zombie; return whether children remain."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, its reaped children included) of a running process so far."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(b")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def _waiting_seconds(pid: int) -> float | None:
    """How long a process has been runnable without a CPU (None where the kernel does not say)."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _rlimits(limits: dict, timeout: float, own_uid: bool) -> list[tuple[int, int]]:
    """The rlimits for one job. RLIMIT_NPROC counts every process of the real uid, so it is only
    set where the uid is the sandbox's own (inside a container), never for a host user."""
    mib = 1 << 20
    out = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, int(limits.get("cpu_seconds") or math.ceil(timeout) + 1))]
    if limits.get("memory_mb"):
        out.append((resource.RLIMIT_AS, int(limits["memory_mb"]) * mib))
    if limits.get("file_size_mb"):
        out.append((resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) * mib))
    if own_uid and limits.get("processes"):
        out.append((resource.RLIMIT_NPROC, int(limits["processes"]) + 1))  # + the supervisor
    return out


def _apply_limits(rlimits: list[tuple[int, int]]) -> None:
    """In a freshly forked child: set the rlimits and put it first in line for the OOM killer."""
    for res, value in rlimits:
        hard = resource.getrlimit(res)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass


def _exec_setup(rlimits: list[tuple[int, int]]):
    """The preexec_fn of an exec'd job: default SIGINT (we ignore it), then the limits."""

    def setup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _apply_limits(rlimits)

    return setup


class _ForkedChild:
    """A fork of this (warm) interpreter that calls `target` in its own session, with stdin,
    stdout and stderr on pipes and, for `report_fd`, a packet-mode pipe (each write of up to
    PIPE_BUF bytes arrives as one packet) on that descriptor; `target` returns the exit status.
    With `report_fd`, stdin is empty and stdout discarded (/dev/null): a judged program's
    output is not looked at, so it needs no pipes.

    It quacks like the subset of ``subprocess.Popen`` that `Supervisor.watch` uses; `wait`
    also keeps the child's resource usage (``rusage``)."""

    def __init__(self, target, rlimits: list[tuple[int, int]], report_fd: int | None = None, extra_fds: tuple[int, ...] = ()) -> None:
        """`extra_fds` (not with `report_fd`) become the child's descriptors 3, 4, … (the RPC
        bridge's)."""
        assert not (extra_fds and report_fd is not None), "a judged program has no RPC bridge"
        quiet = report_fd is not None
        child_in, parent_in = (None, None) if quiet else os.pipe()
        parent_out, child_out = (None, None) if quiet else os.pipe()
        parent_err, child_err = os.pipe()
        parent_report, child_report = os.pipe2(os.O_DIRECT | os.O_CLOEXEC) if report_fd is not None else (None, None)
        self.pid = os.fork()
        if self.pid == 0:
            exit_process = os._exit  # the job may remove os._exit; this frame keeps it
            code = 1
            try:
                os.setsid()
                if quiet:
                    child_in = child_out = os.open(os.devnull, os.O_RDWR)
                moved = [os.dup(fd) for fd in extra_fds]  # out of the way of the dup2s below
                for fd, target_fd in ((child_in, 0), (child_out, 1), (child_err, 2), *((fd, 3 + i) for i, fd in enumerate(moved))):
                    os.dup2(fd, target_fd)
                first_free = keep = 3 + len(moved)
                if report_fd is not None:
                    os.dup2(child_report, report_fd, inheritable=False)
                    keep = report_fd + 1
                os.closerange(first_free, report_fd or first_free)
                os.closerange(keep, os.sysconf("SC_OPEN_MAX"))
                signal.signal(signal.SIGINT, signal.default_int_handler)
                _apply_limits(rlimits)
                code = target()
            except BaseException as exc:
                os.write(2, f"sandbox supervisor: could not start the job: {exc!r}\n".encode())
            finally:
                exit_process(code)
        for fd in (child_in, child_out, child_err, child_report):
            if fd is not None:
                os.close(fd)
        self.stdin = open(parent_in, "wb", buffering=0) if parent_in is not None else None
        self.stdout = open(parent_out, "rb", buffering=0) if parent_out is not None else None
        self.stderr = open(parent_err, "rb", buffering=0)
        self.report = open(parent_report, "rb", buffering=0) if parent_report is not None else None
        self.returncode: int | None = None
        self.rusage = None

    def _reaped(self, status: int, rusage) -> int:
        self.returncode = os.waitstatus_to_exitcode(status)
        self.rusage = rusage
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self._reaped(status, rusage)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status, rusage = os.wait4(self.pid, 0)
            self._reaped(status, rusage)
        return self.returncode


def _set_environment(env: dict) -> None:
    os.environ.clear()
    os.environ.update(env)


def _enter_job(workdir: str, env: dict) -> None:
    """In a forked child: take the job's working directory, environment and standard streams,
    and drop our atexit calls. (The random module reseeds itself in a forked child.)"""
    os.chdir(workdir)
    _set_environment(env)
    sys.dont_write_bytecode = True
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True, write_through=True
    )
    atexit._clear()


def _run_script(argv: list[str], workdir: str, env: dict) -> int:
    """In the forked child: become ``python3 SCRIPT ARGS`` run in `workdir`; return the exit status.

    This saves the ~15-40 ms an interpreter takes to start. The child is what a fresh
    ``python3 -I`` would be, except that it shares this process's hash seed and the modules the
    supervisor had imported."""
    script = os.path.join(workdir, argv[0])
    _enter_job(workdir, env)
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(script))
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next  # hide our and runpy's frames (all of them for a SyntaxError)
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        code = 1
    threading._shutdown()  # wait for non-daemon threads, as interpreter exit does
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # what python3 exits with when it cannot flush stdout
    return code


def _is_python_script(argv: list[str]) -> bool:
    return len(argv) >= 2 and argv[0] == "python3" and argv[1].endswith(".py") and not argv[1].startswith("-")


def _remove_tree(path: str) -> None:
    """Delete `path` even where the job took away its own write permissions."""

    def retry(func, target, _exc) -> None:
        parent = os.path.dirname(target)
        try:
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, stat.S_IRWXU)
            func(target)
        except OSError:
            pass

    if os.path.isdir(path) and not os.path.islink(path):
        hook = {"onexc": retry} if sys.version_info >= (3, 12) else {"onerror": retry}
        shutil.rmtree(path, **hook)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


class _Capture:
    """One output stream: the first `limit` bytes are kept, the rest is read and dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.tail = b""  # the last bytes seen, for spotting a MemoryError past the cut
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.truncated = True
        if room > 0:
            self.data += chunk[:room]
        self.tail = (self.tail + chunk)[-256:]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class _Packets:
    """The packets read from a program job's report channel (each read returns one packet)."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.dropped = 0

    def add(self, packet: bytes) -> None:
        if len(self.packets) < MAX_PACKETS:
            self.packets.append(packet)
        else:
            self.dropped += 1

    def texts(self) -> list[str]:
        return [packet.decode("utf-8", "replace") for packet in self.packets]


class _RpcRelay:
    """The supervisor's part of one job's RPC bridge (protocol: ``harness_sandbox.rpc``).

    The job writes request lines on one pipe and reads reply lines on another (`child_fds`, in
    that order). Each request line goes up to the host as ``{"type": "rpc", "id", "request"}``;
    each ``rpc_reply`` from the host is written back to the job as one line, without blocking
    (a job that does not read its replies only fills its own pipe); a ``cancel`` ends the job."""

    HOST_TYPES = frozenset({"rpc_reply", "cancel"})

    def __init__(self, job_id, send) -> None:
        self.job_id = job_id
        self.send = send
        self.requests, child_requests = os.pipe()
        child_replies, self.replies = os.pipe()
        self.child_fds = (child_requests, child_replies)
        self.partial = bytearray()
        self.overlong = False
        self.outgoing = bytearray()
        self.cancelled: str | None = None
        self.open = [self.requests, self.replies, *self.child_fds]

    def started(self) -> None:
        """The job has its ends: close ours of them, so that its exit is an EOF here."""
        for fd in self.child_fds:
            self._close(fd)
        os.set_blocking(self.requests, False)
        os.set_blocking(self.replies, False)

    def register(self, sel: selectors.BaseSelector) -> None:
        sel.register(self.requests, selectors.EVENT_READ, self)

    def on_ready(self, fd: int, sel: selectors.BaseSelector) -> None:
        if fd == self.requests:
            try:
                chunk = os.read(fd, CHUNK)
            except BlockingIOError:
                return
            if not chunk:
                sel.unregister(fd)
                self._close(fd)
                return
            self._requests(chunk, sel)
        else:
            self._flush(sel)

    def _requests(self, chunk: bytes, sel: selectors.BaseSelector) -> None:
        self.partial += chunk
        while (end := self.partial.find(b"\n")) >= 0:
            line = bytes(self.partial[:end])
            del self.partial[: end + 1]
            if self.overlong:
                self.overlong = False
                continue
            try:
                request = json.loads(line)
            except ValueError:
                request = None
            if isinstance(request, dict):
                self.send({"type": "rpc", "id": self.job_id, "request": request})
            else:
                self._reply({"id": None, "error": {"type": "bad_request", "message": "a request is one JSON object per line"}}, sel)
        if len(self.partial) > RPC_LINE_LIMIT:
            self.partial.clear()
            self.overlong = True
            self._reply({"id": None, "error": {"type": "too_large", "message": f"a request line may hold at most {RPC_LINE_LIMIT} bytes"}}, sel)

    def take(self, inbuf: bytearray, sel: selectors.BaseSelector) -> None:
        """Handle the bridge's messages among the host's complete lines in `inbuf` (removed from
        it); leave any other message there, for after the job."""
        kept = bytearray()
        while (end := inbuf.find(b"\n")) >= 0:
            line = bytes(inbuf[:end + 1])
            del inbuf[: end + 1]
            try:
                message = decode(line)
            except ValueError:
                kept += line
                continue
            if message["type"] not in self.HOST_TYPES:
                kept += line
            elif message.get("id") != self.job_id:
                continue  # for a job that has ended
            elif message["type"] == "cancel":
                self.cancelled = str(message.get("reason") or "cancelled by the host")
            else:
                self._reply(message.get("reply"), sel)
        inbuf[:0] = kept

    def _reply(self, reply, sel: selectors.BaseSelector) -> None:
        if self.replies not in self.open:
            return
        was_empty = not self.outgoing
        self.outgoing += json.dumps(reply, separators=(",", ":")).encode() + b"\n"
        if len(self.outgoing) > RPC_UNREAD_LIMIT:
            self.outgoing.clear()
            self.cancelled = self.cancelled or f"the job left more than {RPC_UNREAD_LIMIT} bytes of replies unread"
        if was_empty:
            self._flush(sel)

    def _flush(self, sel: selectors.BaseSelector) -> None:
        try:
            while self.outgoing:
                del self.outgoing[: os.write(self.replies, self.outgoing[:CHUNK])]
        except BlockingIOError:
            pass
        except OSError:  # the job closed its end: it wants no more replies
            self.outgoing.clear()
        registered = self.replies in sel.get_map()
        if self.outgoing and not registered:
            sel.register(self.replies, selectors.EVENT_WRITE, self)
        elif not self.outgoing and registered:
            sel.unregister(self.replies)

    def _close(self, fd: int) -> None:
        if fd in self.open:
            self.open.remove(fd)
            os.close(fd)

    def close(self) -> None:
        for fd in list(self.open):
            self._close(fd)


class HostGone(Exception):
    """The host closed our stdin: nobody wants results any more."""


# --- the supervisor ---------------------------------------------------------------------------


class Supervisor:
    def __init__(self, work_root: str, infd: int = 0, outfd: int = 1) -> None:
        self.work_root = work_root
        self.infd = infd
        self.outfd = outfd
        self.inbuf = bytearray()
        self.namespace_init = os.getpid() == 1
        self.scrub = [work_root] + (["/dev/shm"] if self.namespace_init and os.path.isdir("/dev/shm") else [])
        self.env_path = os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin"
        self.runners: dict[str, dict] = {}  # preloaded program runners by name
        self.relay: _RpcRelay | None = None  # the running job's RPC bridge, if it has one

    def serve(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _prctl(PR_SET_DUMPABLE, 0)  # the job (same uid) may not ptrace us or open /proc/<us>/fd
        if not self.namespace_init:
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
        self.send({"type": "hello", "protocol": PROTOCOL, "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0]})
        try:
            while (message := self.receive()) is not None:
                if message["type"] not in _RpcRelay.HOST_TYPES:  # replies for a job that has ended
                    self.send(self.handle(message))
        except (HostGone, BrokenPipeError):
            pass

    # -- framing

    def send(self, message: dict) -> None:
        view = memoryview(encode(message))
        while view:
            view = view[os.write(self.outfd, view) :]

    def receive(self) -> dict | None:
        while (end := self.inbuf.find(b"\n")) < 0:
            chunk = os.read(self.infd, CHUNK)
            if not chunk:
                return None
            self.inbuf += chunk
        line = bytes(self.inbuf[:end])
        del self.inbuf[: end + 1]
        try:
            return decode(line)
        except ValueError as exc:
            return {"type": "invalid", "error": str(exc)}

    def handle(self, message: dict) -> dict:
        kind = message["type"]
        handler = {"job": self.run_job, "program": self.run_program, "preload": self.preload, "batch": self.run_batch}.get(kind)
        if handler is None:
            return {"type": "error", "id": message.get("id"), "message": message.get("error") or f"unknown message type {kind!r}"}
        try:
            return handler(message)
        except HostGone:
            raise
        except Exception as exc:  # the host retires a supervisor that answers with an error
            return {"type": "error", "id": message.get("id"), "message": f"supervisor failed on job: {exc!r}"}

    # -- one job

    def run_batch(self, message: dict) -> dict:
        return {"type": "batch", "id": message["id"], "results": [self.handle(job) for job in message["jobs"]]}

    def preload(self, message: dict) -> dict:
        name = message["name"]
        namespace = {"__name__": f"harness_preloaded_{name}"}
        exec(compile(message["source"], f"<preloaded {name}>", "exec", dont_inherit=True), namespace)
        self.runners[name] = namespace
        gc.freeze()  # every forked job shares what is loaded now: its collector need not walk it
        return {"type": "preloaded", "id": message["id"], "name": name}

    def job_env(self, workdir: str) -> dict:
        return {"PATH": self.env_path, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}

    def run_job(self, job: dict) -> dict:
        started = time.monotonic()
        workdir = tempfile.mkdtemp(prefix="job-", dir=self.work_root)
        for path, content in job["files"].items():
            target = os.path.join(workdir, safe_relpath(path))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(base64.b64decode(content))
        limits = job.get("limits") or {}
        timeout = float(job["timeout"])
        argv = list(job["argv"])
        env = self.job_env(workdir)
        rlimits = _rlimits(limits, timeout, self.namespace_init)
        relay = _RpcRelay(job["id"], self.send) if job.get("rpc") else None
        forked = _is_python_script(argv)
        if relay is not None:
            env[RPC_ENV] = "3,4" if forked else "{},{}".format(*relay.child_fds)

        def start() -> subprocess.Popen | _ForkedChild:
            if forked:
                return _ForkedChild(lambda: _run_script(argv[1:], workdir, env), rlimits, extra_fds=relay.child_fds if relay else ())
            return subprocess.Popen(
                [sys.executable if argv[0] == "python3" else argv[0], *argv[1:]],
                cwd=workdir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_exec_setup(rlimits),
                pass_fds=relay.child_fds if relay else (),
            )

        stdin = base64.b64decode(job["stdin"]) if job.get("stdin") else b""
        return self.finish(started, self.execute(job["id"], start, argv[0], stdin, limits, started + timeout, relay=relay))

    def run_program(self, job: dict) -> dict:
        started = time.monotonic()
        runner = self.runners.get(job["runner"])
        if runner is None:
            return {"type": "error", "id": job["id"], "message": f"no runner {job['runner']!r} was preloaded"}
        workdir = tempfile.mkdtemp(prefix="job-", dir=self.work_root)
        prepared = runner["prepare"](job["program"])
        options = job.get("options") or {}
        limits = dict(job.get("limits") or {})
        cpu_limit, wall_limit = float(job["cpu_limit"]), float(job["wall_limit"])
        limits["cpu_seconds"] = math.ceil(cpu_limit) + 1  # the kernel's backstop; we stop it at cpu_limit
        env = self.job_env(workdir)
        rlimits = _rlimits(limits, wall_limit, self.namespace_init)
        child_main = runner["child_main"]

        def target() -> int:
            os.chdir(workdir)
            return child_main(prepared, options)

        def start() -> _ForkedChild:
            # Work done here is not redone by every child: a write in the child costs it a copy
            # of the page. The child keeps our standard streams: its descriptors 0-2 are the job's.
            _set_environment(env)
            gc.freeze()  # the child's collector then lists only what the child made
            return _ForkedChild(target, rlimits, report_fd=runner["REPORT_FD"])

        return self.finish(started, self.execute(job["id"], start, "python3", b"", limits, started + wall_limit, cpu_limit))

    def finish(self, started: float, result: dict) -> dict:
        result["anomalies"] += self.clean_up()
        result["duration"] = time.monotonic() - started
        return result

    def execute(
        self, job_id, start, what: str, stdin: bytes, limits: dict, deadline: float, cpu_limit: float | None = None, relay: _RpcRelay | None = None
    ) -> dict:
        """Start the job's process (`start()`), watch it to its end and sweep up after it;
        serve its RPC bridge through `relay` when it has one."""
        limit = int(limits.get("output_bytes") or 1 << 20)
        out, err = _Capture(limit), _Capture(limit)
        result = {"type": "result", "id": job_id, "exit_code": None, "timed_out": False, "limit": None, "oom": False, "anomalies": []}
        try:
            proc = start()
        except (OSError, subprocess.SubprocessError) as exc:
            err.add(f"cannot start {what!r}: {exc}\n".encode())
            result["exit_code"] = 127
        else:
            if relay is not None:
                relay.started()
            reports = _Packets() if getattr(proc, "report", None) is not None else None
            stopped, waiting = self.watch(proc, stdin, out, err, deadline, cpu_limit, reports, relay)
            if relay is not None and relay.cancelled is not None:
                result["cancelled"] = relay.cancelled
            usage = getattr(proc, "rusage", None)
            cpu = usage.ru_utime + usage.ru_stime if usage is not None else None
            if stopped is None and cpu is not None and limits.get("cpu_seconds") and cpu >= limits["cpu_seconds"]:
                stopped = "cpu"  # the kernel's RLIMIT_CPU ended it
            result.update(exit_code=proc.returncode, timed_out=stopped is not None, limit=stopped, cpu_seconds=cpu)
            result["anomalies"] += self.sweep(proc.pid)
            killed = proc.returncode == -signal.SIGKILL and stopped is None and "cancelled" not in result
            result["oom"] = proc.returncode != 0 and (b"MemoryError" in err.tail or killed)
            if reports is not None:
                result.update(reports=reports.texts(), reports_dropped=reports.dropped, waiting_seconds=waiting)
        finally:
            if relay is not None:
                relay.close()
        result.update(stdout=out.text(), stderr=err.text(), truncated=out.truncated or err.truncated)
        return result

    def watch(
        self,
        proc: subprocess.Popen | _ForkedChild,
        stdin: bytes,
        out: _Capture,
        err: _Capture,
        deadline: float,
        cpu_limit: float | None = None,
        reports: _Packets | None = None,
        relay: _RpcRelay | None = None,
    ) -> tuple[str | None, float | None]:
        """Feed stdin, capture output (and report packets), stop the job at its deadline or when
        its CPU time reaches `cpu_limit`; return (the limit that stopped it: "wall", "cpu" or
        None, how long it had waited for a CPU when the wall limit stopped it). With `relay`, the
        job's RPC requests go up to the host as they come and a ``cancel`` from the host kills it.

        When the main process ends, its whole process group is killed (background children
        included) and the pipes are drained for at most DRAIN_GRACE seconds."""
        sel = selectors.DefaultSelector()
        for pipe, capture in ((proc.stdout, out), (proc.stderr, err), (getattr(proc, "report", None), reports)):
            if pipe is not None and capture is not None:
                os.set_blocking(pipe.fileno(), False)
                sel.register(pipe, selectors.EVENT_READ, capture)
        pending = memoryview(stdin)
        if pending:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE, "stdin")
        elif proc.stdin is not None:
            proc.stdin.close()
        sel.register(self.infd, selectors.EVENT_READ, "host")
        if relay is not None:
            relay.register(sel)
        self.relay = relay
        try:
            pidfd = os.pidfd_open(proc.pid)
            sel.register(pidfd, selectors.EVENT_READ, "exit")
        except (AttributeError, OSError):
            pidfd = None  # no pidfd here: poll instead
        stopped = waiting = None
        drain_until = None
        # CPU time cannot grow faster than wall time (for one thread; RLIMIT_CPU bounds the rest)
        cpu_check = time.monotonic() + cpu_limit if cpu_limit else math.inf
        try:
            while True:
                now = time.monotonic()
                if pidfd is None:
                    proc.poll()
                if proc.returncode is None and now >= deadline:
                    waiting = _waiting_seconds(proc.pid)
                    stopped = "wall"
                elif proc.returncode is None and now >= cpu_check:
                    used = _cpu_seconds(proc.pid)
                    if used >= cpu_limit:
                        stopped = "cpu"
                    cpu_check = now + max(cpu_limit - used, 0.005)
                if (stopped is not None or (relay is not None and relay.cancelled is not None)) and proc.returncode is None:
                    _kill_group(proc.pid)
                    proc.wait()
                if proc.returncode is not None and drain_until is None:
                    _kill_group(proc.pid)
                    drain_until = now + DRAIN_GRACE
                open_pipes = [k for k in sel.get_map().values() if isinstance(k.data, (_Capture, _Packets))]
                if drain_until is not None and (now >= drain_until or not open_pipes):
                    break
                wait = (drain_until or min(deadline, cpu_check)) - now
                if pidfd is None and proc.returncode is None:
                    wait = min(wait, 0.01)
                for key, _ in sel.select(max(wait, 0.0)):
                    pending = self.on_event(proc, sel, key, pending)
        finally:
            for key in list(sel.get_map().values()):
                sel.unregister(key.fileobj)
                if key.data == "stdin" or isinstance(key.data, (_Capture, _Packets)):
                    key.fileobj.close()
            if pidfd is not None:
                os.close(pidfd)
            sel.close()
            self.relay = None
            if proc.returncode is None:  # leaving because the host went away
                _kill_group(proc.pid)
                proc.wait()
        return stopped, waiting

    def on_event(self, proc: subprocess.Popen | _ForkedChild, sel: selectors.BaseSelector, key, pending: memoryview) -> memoryview:
        """Handle one ready descriptor of a running job; return the stdin bytes still to send."""
        if key.data == "exit":
            sel.unregister(key.fileobj)
            proc.wait()
        elif key.data == "host":
            chunk = os.read(self.infd, CHUNK)
            if not chunk:
                raise HostGone
            self.inbuf += chunk  # handled after the job, but for the RPC bridge's
            if self.relay is not None:
                self.relay.take(self.inbuf, sel)
        elif isinstance(key.data, _RpcRelay):
            key.data.on_ready(key.fileobj, sel)
        elif key.data == "stdin":
            try:
                pending = pending[os.write(key.fileobj.fileno(), pending[:CHUNK]) :]
            except BrokenPipeError:
                pending = pending[:0]
            if not pending:
                sel.unregister(key.fileobj)
                key.fileobj.close()
        else:
            chunk = os.read(key.fileobj.fileno(), CHUNK)
            if chunk:
                key.data.add(chunk)
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
        return pending

    def sweep(self, pgid: int) -> list[str]:
        """Kill whatever the job left running; report processes that had left its group."""
        me = os.getpid()
        escaped: set[int] = set()
        deadline = time.monotonic() + 2.0
        _kill_group(pgid)
        # Every process the job left behind descends from a child of ours (we are pid 1 or a
        # subreaper), so with no children left there is nothing to look for.
        while _reap():
            alive = [
                (pid, pgrp)
                for pid, ppid, pgrp, state in _process_table()
                if pid != me and state != "Z" and (self.namespace_init or ppid == me)
            ]
            if not alive:
                break
            escaped.update(pid for pid, pgrp in alive if pgrp != pgid)
            if time.monotonic() > deadline:
                return [f"{len(alive)} process(es) of the job survived SIGKILL"]
            if self.namespace_init:
                os.kill(-1, signal.SIGKILL)  # everything but us: it is all the job's
            else:
                for pid, _ in alive:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.002)
        return [f"{len(escaped)} process(es) left the job's process group and outlived it"] if escaped else []

    def clean_up(self) -> list[str]:
        """Empty the work root (and /dev/shm in a container); report a filesystem that was full."""
        anomalies = []
        for root in self.scrub:
            try:
                free = os.statvfs(root)
                if free.f_bavail * free.f_frsize < FULL_BELOW_BYTES:
                    anomalies.append(f"{root} was full after the job")
                for name in os.listdir(root):
                    _remove_tree(os.path.join(root, name))
                if os.listdir(root):
                    anomalies.append(f"could not empty {root}")
            except OSError as exc:
                anomalies.append(f"could not clean {root}: {exc}")
        return anomalies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="mas-harness sandbox supervisor (speaks JSON lines on stdin/stdout)")
    parser.add_argument("--work-root", required=True, help="a directory of its own: emptied after every job, removed at exit")
    args = parser.parse_args(argv)
    Supervisor(args.work_root).serve()
    shutil.rmtree(args.work_root, ignore_errors=True)  # a mount point (in a container) just stays


if __name__ == "__main__":
    main()
