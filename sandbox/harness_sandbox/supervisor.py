"""Run untrusted jobs one at a time: fresh directory, rlimits, own session, hard timeout.

Stdlib only, on purpose: the docker tier runs this source inside every pool container with the
image's interpreter (see ``docker_tier.BOOTSTRAP``), the local tier starts it as a host
subprocess. Either way the host talks to it over the supervisor's stdin/stdout, one JSON
object per line; ``encode``/``decode``/``job_message`` below are imported by the host side too, so
the protocol lives in this one file. Every message has a ``type``:

host -> supervisor
    ``{"type": "job", "id", "files": {relpath: base64}, "argv": [...], "stdin": base64 | null,
    "timeout": seconds, "limits": {memory_mb, cpu_seconds, processes, file_size_mb, output_bytes}}``
supervisor -> host
    ``{"type": "hello", "protocol", "pid", "uid", "python"}`` once, when ready;
    ``{"type": "result", "id", "exit_code", "stdout", "stderr", "timed_out", "oom", "truncated",
    "duration", "anomalies": [...]}`` per job; ``anomalies`` lists what makes this supervisor
    unfit for further jobs (processes that outlived the job, a full work filesystem …);
    ``{"type": "error", "id", "message"}`` when a message could not be handled.

A job whose argv is ``python3 SCRIPT.py ...`` runs in a fork of the supervisor itself, which
skips the interpreter's start-up (see `_ForkedPython`); any other argv is exec'd as given, with
``python3`` meaning the supervisor's own interpreter.

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


class _ForkedPython:
    """A job run as ``python3 SCRIPT ARGS`` without exec: a fork of this (warm) interpreter runs
    the script, which saves the ~15-40 ms an interpreter takes to start.

    It quacks like the subset of ``subprocess.Popen`` that `Supervisor.watch` uses. The child is
    what a fresh ``python3 -I`` would be, except that it shares this process's hash seed and the
    modules the supervisor had imported."""

    def __init__(self, argv: list[str], workdir: str, env: dict, rlimits: list[tuple[int, int]], extra_fds: tuple[int, ...] = ()) -> None:
        """`extra_fds` become the child's descriptors 3, 4, … (the RPC bridge's)."""
        child_in, parent_in = os.pipe()
        parent_out, child_out = os.pipe()
        parent_err, child_err = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.setsid()
                moved = [os.dup(fd) for fd in extra_fds]  # out of the way of the dup2s below
                for fd, target in ((child_in, 0), (child_out, 1), (child_err, 2), *((fd, 3 + i) for i, fd in enumerate(moved))):
                    os.dup2(fd, target)
                os.closerange(3 + len(moved), os.sysconf("SC_OPEN_MAX"))
                signal.signal(signal.SIGINT, signal.default_int_handler)
                _apply_limits(rlimits)
                code = _run_script(argv, workdir, env)
            except BaseException as exc:
                os.write(2, f"sandbox supervisor: could not start the job: {exc!r}\n".encode())
            finally:
                os._exit(code)
        for fd in (child_in, child_out, child_err):
            os.close(fd)
        self.stdin = open(parent_in, "wb", buffering=0)
        self.stdout = open(parent_out, "rb", buffering=0)
        self.stderr = open(parent_err, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode


def _run_script(argv: list[str], workdir: str, env: dict) -> int:
    """In the forked child: become ``python3 SCRIPT ARGS`` run in `workdir`; return the exit status."""
    script = os.path.join(workdir, argv[0])
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(script))
    sys.dont_write_bytecode = True
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True, write_through=True
    )
    if "random" in sys.modules:
        sys.modules["random"].seed()  # a fresh interpreter would not share our sequence
    atexit._clear()
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
        if kind != "job":
            return {"type": "error", "id": message.get("id"), "message": message.get("error") or f"unknown message type {kind!r}"}
        try:
            return self.run_job(message)
        except HostGone:
            raise
        except Exception as exc:  # the host retires a supervisor that answers with an error
            return {"type": "error", "id": message.get("id"), "message": f"supervisor failed on job: {exc!r}"}

    # -- one job

    def run_job(self, job: dict) -> dict:
        started = time.monotonic()
        workdir = tempfile.mkdtemp(prefix="job-", dir=self.work_root)
        for path, content in job["files"].items():
            target = os.path.join(workdir, safe_relpath(path))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(base64.b64decode(content))
        result = self.execute(job, workdir, started)
        result["anomalies"] += self.clean_up()
        result["duration"] = time.monotonic() - started
        return result

    def execute(self, job: dict, workdir: str, started: float) -> dict:
        limits = job.get("limits") or {}
        timeout = float(job["timeout"])
        argv = list(job["argv"])
        env = {"PATH": self.env_path, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        rlimits = _rlimits(limits, timeout, self.namespace_init)
        limit = int(limits.get("output_bytes") or 1 << 20)
        out, err = _Capture(limit), _Capture(limit)
        result = {"type": "result", "id": job["id"], "exit_code": None, "timed_out": False, "oom": False, "anomalies": []}
        relay = _RpcRelay(job["id"], self.send) if job.get("rpc") else None
        forked = _is_python_script(argv)
        if relay is not None:
            env[RPC_ENV] = "3,4" if forked else "{},{}".format(*relay.child_fds)
        try:
            if forked:
                proc = _ForkedPython(argv[1:], workdir, env, rlimits, relay.child_fds if relay else ())
            else:
                proc = subprocess.Popen(
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
        except (OSError, subprocess.SubprocessError) as exc:
            err.add(f"cannot start {argv[0]!r}: {exc}\n".encode())
            result["exit_code"] = 127
        else:
            stdin = base64.b64decode(job["stdin"]) if job.get("stdin") else b""
            if relay is not None:
                relay.started()
            result["timed_out"] = self.watch(proc, stdin, out, err, started + timeout, relay)
            if relay is not None and relay.cancelled is not None:
                result["cancelled"] = relay.cancelled
            result["exit_code"] = proc.returncode
            result["anomalies"] += self.sweep(proc.pid)
            killed = proc.returncode == -signal.SIGKILL and not result["timed_out"]
            result["oom"] = proc.returncode != 0 and (b"MemoryError" in err.tail or killed)
        finally:
            if relay is not None:
                relay.close()
        result.update(stdout=out.text(), stderr=err.text(), truncated=out.truncated or err.truncated)
        return result

    def watch(self, proc: subprocess.Popen | _ForkedPython, stdin: bytes, out: _Capture, err: _Capture, deadline: float, relay: _RpcRelay | None = None) -> bool:
        """Feed stdin, capture output, end the job at its deadline; return whether it timed out.

        When the main process ends, its whole process group is killed (background children
        included) and the pipes are drained for at most DRAIN_GRACE seconds."""
        sel = selectors.DefaultSelector()
        for pipe, capture in ((proc.stdout, out), (proc.stderr, err)):
            os.set_blocking(pipe.fileno(), False)
            sel.register(pipe, selectors.EVENT_READ, capture)
        pending = memoryview(stdin)
        if pending:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE, "stdin")
        else:
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
        timed_out = False
        drain_until = None
        try:
            while True:
                now = time.monotonic()
                if pidfd is None:
                    proc.poll()
                if proc.returncode is None and relay is not None and relay.cancelled is not None:
                    _kill_group(proc.pid)
                    proc.wait()
                if proc.returncode is None and now >= deadline:
                    _kill_group(proc.pid)
                    proc.wait()
                    timed_out = True
                if proc.returncode is not None and drain_until is None:
                    _kill_group(proc.pid)
                    drain_until = now + DRAIN_GRACE
                open_pipes = [k for k in sel.get_map().values() if isinstance(k.data, _Capture)]
                if drain_until is not None and (now >= drain_until or not open_pipes):
                    break
                wait = (drain_until or deadline) - now
                if pidfd is None and proc.returncode is None:
                    wait = min(wait, 0.01)
                for key, _ in sel.select(max(wait, 0.0)):
                    pending = self.on_event(proc, sel, key, pending)
        finally:
            for key in list(sel.get_map().values()):
                sel.unregister(key.fileobj)
                if key.data == "stdin" or isinstance(key.data, _Capture):
                    key.fileobj.close()
            if pidfd is not None:
                os.close(pidfd)
            sel.close()
            self.relay = None
            if proc.returncode is None:  # leaving because the host went away
                _kill_group(proc.pid)
                proc.wait()
        return timed_out

    def on_event(self, proc: subprocess.Popen | _ForkedPython, sel: selectors.BaseSelector, key, pending: memoryview) -> memoryview:
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
