r"""The run record on disk: results/<run_id>/{run.json, samples.jsonl, transcripts/, summary.json, logs/, run.lock}.

One process writes a run at a time: it holds the run's lock (`harness.runlock`) from creating or
resuming the run until its last write. A run whose run.json says ``running`` but whose lock no
live process holds was killed (``kill -9``, a machine crash): it reads as ``interrupted``.

samples.jsonl is appended one line per (sample, repeat) and fsynced, so a kill -9 loses at most
the samples in flight; a line torn by the kill is dropped when the run is resumed. Any text a
model or a program produced is stored losslessly: a line is UTF-8 JSON, and one holding text
that UTF-8 cannot encode (lone surrogates, e.g. undecodable program bytes kept by
``surrogateescape``) is written with JSON's ``\uXXXX`` escapes instead, which read back exactly.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.runlock import RunLock, lock_held
from harness.types import Record

RUN_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"
SUMMARY_FILE = "summary.json"


def cache_folder(name: str) -> Path:
    """``$XDG_CACHE_HOME/mas-harness/NAME`` (default ``~/.cache``): what the harness keeps between
    commands that is not a run the user asked for (reference times, check-task records)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mas-harness" / name


def new_run_id(system: str, task: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{_safe(system)}-{_safe(task)}-{secrets.token_hex(2)}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def record_key(node_id: str, repeat: int) -> str:
    """File-name-safe key of one (sample, repeat)."""
    return f"{_safe(node_id)}.r{repeat}"


def encode_line(data: Any) -> bytes:
    """One JSON line as UTF-8 bytes: readable UTF-8 when the text allows, else ``\\uXXXX`` escapes
    (never raises for any str content; both forms decode to the same object)."""
    text = json.dumps(data, default=str, ensure_ascii=False)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(data, default=str, ensure_ascii=True).encode("ascii") + b"\n"


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON in one system call, not flushed to disk (the caller syncs). Only
    for files no reader opens before their record exists (a transcript), so no temporary file
    and rename are needed."""
    data_bytes = (json.dumps(data, indent=1, default=str) + "\n").encode("ascii")  # \uXXXX escapes: any text fits
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while data_bytes:
            data_bytes = data_bytes[os.write(fd, data_bytes) :]
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically and durably."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


_libc = ctypes.CDLL(None, use_errno=True)


def _sync_file_system(fd: int) -> None:
    """Flush every dirty page of the file system holding ``fd`` (Linux ``syncfs``): the batch's
    transcripts, their renames and the records together; ``fsync`` of ``fd`` where syncfs is
    missing or fails."""
    syncfs = getattr(_libc, "syncfs", None)
    if syncfs is None or syncfs(fd) != 0:
        os.fsync(fd)


class RunStore:
    """One run's folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = path.name
        self.lock = RunLock(path)

    @classmethod
    def create(cls, results_dir: Path, run_id: str) -> RunStore:
        """A new run folder, locked by this process. UsageError when the id is taken or
        ``results_dir`` cannot be written (naming the folder)."""
        if not run_id or "/" in run_id or run_id in (".", ".."):
            raise UsageError(f"--run-id {run_id!r}: give a plain folder name (no '/')")
        path = results_dir / run_id
        try:
            results_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the results folder {results_dir} ({exc.strerror}); give a writable --results-dir (or set HARNESS_RESULTS_DIR)") from exc
        try:
            path.mkdir()
        except FileExistsError:
            raise UsageError(f"run {run_id!r} already exists in {results_dir}; pick another --run-id or use --resume {run_id}") from None
        except OSError as exc:
            raise UsageError(f"cannot create a run folder in {results_dir} ({exc.strerror}); give a writable --results-dir (or set HARNESS_RESULTS_DIR)") from exc
        store = cls(path)
        store.lock.acquire()
        (path / "transcripts").mkdir()
        (path / "logs").mkdir()
        return store

    @classmethod
    def open(cls, results_dir: Path, run_id: str) -> RunStore:
        path = results_dir / run_id
        if not (path / RUN_FILE).is_file():
            known = [s.run_id for s in list_runs(results_dir)][-5:]
            hint = f" Recent runs: {', '.join(known)}." if known else ""
            raise UsageError(f"no run {run_id!r} in {results_dir} (no {RUN_FILE}).{hint} `harness show` lists nothing else; check --results-dir.")
        return cls(path)

    # --- run.json / summary.json -----------------------------------------------------------

    def write_spec(self, spec: dict[str, Any]) -> None:
        write_json_atomic(self.path / RUN_FILE, spec)

    def read_spec(self) -> dict[str, Any]:
        """run.json as recorded, except that a run recorded as ``running`` whose lock no live
        process holds reads as ``interrupted``, with a stop reason saying so."""
        try:
            spec = json.loads((self.path / RUN_FILE).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{self.path / RUN_FILE} cannot be read: {exc}") from exc
        if spec.get("status") == "running" and not lock_held(self.path):
            spec["status"] = "interrupted"
            spec["stop_reason"] = f"its process ended while running (killed, or the machine stopped); finish it with `harness run --resume {self.run_id}`"
        return spec

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.path / SUMMARY_FILE, summary)

    def read_summary(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / SUMMARY_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    # --- samples.jsonl ------------------------------------------------------------------------

    def read_records(self) -> list[Record]:
        """Every (sample, repeat)'s record, in the order first written; where a later line
        re-ran the same (sample, repeat) (an infrastructure error retried by --resume), the
        later line is the record."""
        latest: dict[tuple[str, int], Record] = {}
        for data in self._iter_lines():
            record = Record.from_json(data)
            latest[(record.node_id, record.repeat)] = record
        return list(latest.values())

    def _iter_lines(self) -> Iterator[dict[str, Any]]:
        path = self.path / SAMPLES_FILE
        if not path.exists():
            return
        with path.open("r", encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    return  # torn by a kill; `drop_torn_tail` removes it before appending
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue

    def drop_torn_tail(self) -> None:
        """Cut a last line that a kill left without its newline."""
        path = self.path / SAMPLES_FILE
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with path.open("r+b") as fh:
                fh.truncate(keep)
                os.fsync(fh.fileno())

    def append_record(self, record: Record) -> None:
        """Append one record and make it durable (see `commit` for many at once)."""
        self.commit([(record, None)])

    def commit(self, attempts: list[tuple[Record, list[dict[str, Any]] | None]]) -> None:
        """Write each attempt's transcript (when given) and append its record, then make all of it
        durable with one flush of the file system: a group commit, so that the cost of durability
        is paid once per batch rather than twice per sample. Blocking: call it from a thread."""
        for record, transcript in attempts:
            if transcript is not None:
                _write_json(self.transcript_path(record.node_id, record.repeat), transcript)
        data = b"".join(encode_line(record.to_json()) for record, _ in attempts)
        fd = os.open(self.path / SAMPLES_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while data:  # os.write may write less than asked for a very large batch
                data = data[os.write(fd, data) :]
            _sync_file_system(fd)
        finally:
            os.close(fd)

    # --- transcripts --------------------------------------------------------------------------

    def transcript_path(self, node_id: str, repeat: int) -> Path:
        return self.path / "transcripts" / f"{record_key(node_id, repeat)}.json"

    def transcript_ref(self, node_id: str, repeat: int) -> str:
        """The transcript's path relative to the run folder, as records give it."""
        return str(self.transcript_path(node_id, repeat).relative_to(self.path))

    def read_transcript(self, node_id: str, repeat: int) -> list[dict[str, Any]]:
        try:
            return json.loads(self.transcript_path(node_id, repeat).read_text())
        except (OSError, json.JSONDecodeError):
            return []


def list_runs(results_dir: Path) -> list[RunStore]:
    """Every run folder with a run.json, oldest first (by the start time it records)."""
    if not results_dir.is_dir():
        return []
    stores = [RunStore(p.parent) for p in results_dir.glob(f"*/{RUN_FILE}")]

    def started(store: RunStore) -> str:
        try:
            return str(store.read_spec().get("started_at", ""))
        except UsageError:
            return ""

    return sorted(stores, key=lambda s: (started(s), s.run_id))
