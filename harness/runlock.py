"""One writer per run: an exclusive ``flock`` on ``<run folder>/run.lock``, held by a live process.

The kernel drops an flock when its holder dies, however it dies (``kill -9`` included), so a lock
file left behind by a killed run is not held, and the next writer takes it over. The file also
says who holds it (pid, host, start time, command line) for the message a second writer gets.
Readers use `lock_held` to tell a run that is really running from one whose process died while
run.json still said ``running``.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from harness.errors import UsageError

LOCK_FILE = "run.lock"
#: A reader probing the lock holds it for microseconds; a writer retries this long before refusing.
ACQUIRE_PATIENCE = 1.0  # seconds


def _holder(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "another process"
    command = " ".join(holder.get("command") or [])
    return f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}" + (f" (`{command}`)" if command else "")


class RunLock:
    """The lock of one run folder; `acquire` raises UsageError while another process holds it."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILE
        self.run_id = run_dir.name
        self._fd: int | None = None
        self.taken_over: dict[str, Any] = {}  # the dead holder whose lock was taken over, if any

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"cannot lock run {self.run_id}: {self.path.parent} is not writable ({exc.strerror}); give a writable --results-dir") from exc
        deadline = time.monotonic() + ACQUIRE_PATIENCE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                raise UsageError(
                    f"run {self.run_id} is being written by {_describe(_holder(self.path))}. "
                    f"One process writes a run at a time: wait for it to end (or stop it), then `harness run --resume {self.run_id}`"
                ) from None
        self.taken_over = _holder(self.path)  # written by a writer that never released: it died
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": ["harness", *sys.argv[1:]]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Clear the holder record (a record left in the file means its writer died) and unlock."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def lock_held(run_dir: Path) -> bool:
    """Whether a live process (this one included) holds the run's lock. A run folder without a
    lock file, or whose lock nobody holds, has no writer."""
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False
