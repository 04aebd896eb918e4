"""The optimization folder of ``harness optimize``: everything a search made, durable and
resumable after ``kill -9``.

Layout (``<results>/optimize/<id>/``)::

    optimization.json        what the search is (task, options, samples, models, settings) and its status
    journal.jsonl            append-only, fsynced, one event per line: the search is replayed from it
    rounds/round_N/          graph.py, prompt.py; round.json (parent, its selection, the
                             modification, the experience and failures the optimizer was shown,
                             scores, costs, seconds); optimizer.json (the optimizer's calls);
                             experience.json (parent, modification, score before and after)
    runs/round-N-pass-V/     each validation pass: an ordinary run folder
    summary.json             rounds, best round, costs and times (rewritten after every round)
    score_per_round.svg|png  the chart of score per round with its spread
    logs/                    the output of servers the search launched
    run.lock                 held by the one process that writes the search

A round's files are written (and flushed to disk) before the journal line that says they exist,
so a kill at any moment leaves either a finished step or one that is redone: an optimizer reply
without its ``workflow`` line is asked for again, a validation pass without its ``pass`` line is
finished by resuming its run folder.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import UsageError
from harness.runlock import RunLock, lock_held
from harness.store import encode_line, write_json_atomic

SPEC_FILE = "optimization.json"
JOURNAL_FILE = "journal.jsonl"
SUMMARY_FILE = "summary.json"
CHART_STEM = "score_per_round"
#: Where searches live under the results folder.
SEARCHES_DIR = "optimize"


@dataclass
class RoundState:
    """One round as the journal tells it."""

    number: int
    parent: int | None = None
    modification: str | None = None
    has_workflow: bool = False
    no_workflow: str | None = None  # why the round has no workflow (the optimizer's replies were refused)
    selection: dict[str, Any] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    passes: dict[int, dict[str, Any]] = field(default_factory=dict)
    done: bool = False

    @property
    def scores(self) -> list[float]:
        """The validation score of each pass, in pass order."""
        return [self.passes[k]["score"] for k in sorted(self.passes)]

    @property
    def mean(self) -> float | None:
        scores = self.scores
        return statistics.fmean(scores) if scores else None

    @property
    def std(self) -> float | None:
        """Population standard deviation of the passes' scores (AFlow's numpy.std)."""
        scores = self.scores
        return statistics.pstdev(scores) if scores else None

    def optimizer_usage(self) -> dict[str, Any]:
        return _total(attempt.get("usage") or {} for attempt in self.attempts)

    def executor_usage(self) -> dict[str, Any]:
        return _total(one.get("usage") or {} for one in self.passes.values())

    @property
    def seconds(self) -> float:
        """Wall seconds spent on the round: the optimizer's replies plus the validation passes."""
        return round(sum(a.get("seconds", 0.0) for a in self.attempts) + sum(p.get("seconds", 0.0) for p in self.passes.values()), 3)

    def row(self) -> dict[str, Any]:
        """The round in summary.json (and in run.json's ``system.search.rounds``)."""
        optimizer, executor = self.optimizer_usage(), self.executor_usage()
        return {
            "round": self.number,
            "parent": self.parent,
            "modification": self.modification,
            "workflow": self.has_workflow,
            "no_workflow": self.no_workflow,
            "scores": self.scores,
            "mean": self.mean,
            "std": self.std,
            "optimizer_attempts": len(self.attempts),
            "optimizer": optimizer,
            "executor": executor,
            "cost": round(optimizer["cost"] + executor["cost"], 8),
            "seconds": self.seconds,
            "done": self.done,
        }


def _total(usages: Any) -> dict[str, Any]:
    total = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0}
    for usage in usages:
        for key in total:
            total[key] += usage.get(key) or 0
    total["cost"] = round(total["cost"], 8)
    return total


@dataclass
class SearchState:
    """The whole search as the journal tells it."""

    rounds: dict[int, RoundState] = field(default_factory=dict)
    invocations: int = 0
    serving: dict[int, dict[str, Any]] = field(default_factory=dict)  # invocation -> its latest server time
    ended: dict[str, Any] | None = None  # the last "end" event, if the search ended

    def round(self, number: int) -> RoundState:
        return self.rounds.setdefault(number, RoundState(number))

    def scored(self) -> list[RoundState]:
        """Rounds with at least one finished pass, in round order."""
        return [r for _, r in sorted(self.rounds.items()) if r.passes]

    def best(self) -> RoundState | None:
        """The round with the highest mean validation score; the earliest of a tie."""
        scored = self.scored()
        return max(scored, key=lambda r: (r.mean, -r.number)) if scored else None

    def server_time(self) -> dict[str, dict[str, Any]]:
        """Server time by backend spec over every invocation (a cost is None once any part is unpriced)."""
        total: dict[str, dict[str, Any]] = {}
        for serving in self.serving.values():
            for spec, entry in serving.items():
                before = total.setdefault(spec, {"server_seconds": 0.0, "hour_price": entry.get("hour_price"), "cost": 0.0})
                before["server_seconds"] = round(before["server_seconds"] + (entry.get("server_seconds") or 0.0), 3)
                before["cost"] = None if before["cost"] is None or entry.get("cost") is None else round(before["cost"] + entry["cost"], 8)
        return total

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        number = event.get("round")
        if kind == "start":
            self.invocations = max(self.invocations, event.get("invocation", 0))
            self.ended = None
        elif kind == "attempt":
            self.round(number).attempts.append(event)
        elif kind == "workflow":
            state = self.round(number)
            state.has_workflow, state.parent, state.modification = True, event.get("parent"), event.get("modification")
            state.selection = event.get("selection") or {}
        elif kind == "no_workflow":
            state = self.round(number)
            state.no_workflow, state.parent, state.done = event.get("why"), event.get("parent"), True
        elif kind == "pass":
            self.round(number).passes[event["pass"]] = event
        elif kind == "round_done":
            self.round(number).done = True
        elif kind == "serving":
            self.serving[event["invocation"]] = event.get("serving") or {}
        elif kind == "end":
            self.ended = event


class SearchFolder:
    """One search's folder (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.id = path.name
        self.lock = RunLock(path)

    # --- places ----------------------------------------------------------------------------

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    def round_dir(self, number: int) -> Path:
        return self.path / "rounds" / f"round_{number}"

    @staticmethod
    def pass_run_id(number: int, validation_pass: int) -> str:
        return f"round-{number}-pass-{validation_pass}"

    # --- creating and opening --------------------------------------------------------------

    @classmethod
    def create(cls, results_dir: Path, search_id: str) -> SearchFolder:
        """A new folder ``results_dir/optimize/search_id``, locked by this process. UsageError
        when the id is taken or the folder cannot be made."""
        if not search_id or "/" in search_id or search_id in (".", ".."):
            raise UsageError(f"--id {search_id!r}: give a plain folder name (no '/')")
        parent = results_dir / SEARCHES_DIR
        try:
            parent.mkdir(parents=True, exist_ok=True)
            (parent / search_id).mkdir()
        except FileExistsError:
            raise UsageError(f"search {search_id!r} already exists in {parent}; pick another --id, or continue it with --resume {search_id}") from None
        except OSError as exc:
            raise UsageError(f"cannot create a search folder in {parent} ({exc.strerror}); give a writable --results-dir") from exc
        folder = cls(parent / search_id)
        folder.take_lock()
        for sub in ("rounds", "runs", "logs"):
            (folder.path / sub).mkdir()
        return folder

    @classmethod
    def find(cls, results_dir: Path, search_id: str) -> SearchFolder:
        """The existing search ``search_id`` (an id under ``results_dir/optimize``, or a path to
        its folder). UsageError naming the searches there when there is none."""
        for candidate in (results_dir / SEARCHES_DIR / search_id, Path(search_id)):
            if (candidate / SPEC_FILE).is_file():
                return cls(candidate)
        known = sorted(p.parent.name for p in (results_dir / SEARCHES_DIR).glob(f"*/{SPEC_FILE}"))
        hint = f" Searches there: {', '.join(known[-5:])}." if known else ""
        raise UsageError(f"no search {search_id!r} in {results_dir / SEARCHES_DIR}.{hint}")

    def take_lock(self) -> None:
        try:
            self.lock.acquire()
        except UsageError:
            raise UsageError(f"search {self.id} is being written by another process (see {self.lock.path}); wait for it to end, or stop it, then resume") from None

    # --- the spec ----------------------------------------------------------------------------

    def write_spec(self, spec: dict[str, Any]) -> None:
        write_json_atomic(self.path / SPEC_FILE, spec)

    def read_spec(self) -> dict[str, Any]:
        """optimization.json; a search recorded as running whose lock nobody holds reads as
        ``interrupted``."""
        try:
            spec = json.loads((self.path / SPEC_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{self.path / SPEC_FILE} cannot be read: {exc}") from exc
        if spec.get("status") == "running" and not lock_held(self.path):
            spec["status"] = "interrupted"
            spec["stop_reason"] = f"its process ended while running; continue it with `harness optimize --resume {self.id}`"
        return spec

    # --- the journal -------------------------------------------------------------------------

    def append(self, event: str, **data: Any) -> dict[str, Any]:
        """Append one event and flush it to disk before returning it."""
        entry = {"event": event, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **data}
        line = encode_line(entry)
        fd = os.open(self.path / JOURNAL_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while line:
                line = line[os.write(fd, line) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def events(self) -> Iterator[dict[str, Any]]:
        """The journal's events in order; a last line torn by a kill is skipped."""
        path = self.path / JOURNAL_FILE
        if not path.exists():
            return
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    return
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue

    def drop_torn_tail(self) -> None:
        """Cut a last journal line that a kill left without its newline (before appending)."""
        path = self.path / JOURNAL_FILE
        if path.exists():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                with path.open("r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
                    os.fsync(fh.fileno())

    def state(self) -> SearchState:
        state = SearchState()
        for event in self.events():
            state.apply(event)
        return state

    # --- files of a round and of the search --------------------------------------------------

    def write_round_file(self, number: int, name: str, data: Any) -> None:
        """rounds/round_N/NAME as JSON, atomically and durably."""
        folder = self.round_dir(number)
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / name, data)

    def read_summary(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / SUMMARY_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.path / SUMMARY_FILE, summary)


def sync_folder(folder: Path) -> None:
    """Flush ``folder``'s files and its entries to disk (after writing graph.py and prompt.py)."""
    for path in sorted(folder.iterdir()):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
