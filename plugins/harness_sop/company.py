"""``harness sop "IDEA" --out DIR``: the company builds a small project from one requirement.

The team runs as it does on a benchmark sample (same roles, documents, sandboxed tests and fix
rounds); afterwards DIR holds ``docs/prd.json``, ``docs/design.json``, ``docs/tasks.json`` (for
the roles that took part), the source files of the chosen code version, QA's tests under
``tests/``, ``docs/test_report.json`` (the sandbox run of those tests on that version),
``docs/team.json`` (stop reason, rounds, hand-overs, parse statistics, usage per role) and
``logs/`` (the transcript, and the output of servers the command launched). DIR must be new or
empty (``--force`` writes into a non-empty one, replacing files of the same names).
While it works, each role's turn and each hand-over is printed to stderr as it happens (plain
lines, with the seconds since the start and the tokens and cost so far).
Exit status: 0 when the project's tests passed, 1 when they failed or none ran, 2 usage error.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from harness import Budget, Config, Resources, SampleContext, UsageError
from harness_sop.brief import Brief
from harness_sop.documents import TestReport, TestSuite
from harness_sop.office import Office
from harness_sop.roles import (
    RUN_TESTS,
    WRITE_DESIGN,
    WRITE_PRD,
    WRITE_TASKS,
    WRITE_TESTS,
)
from harness_sop.system import Sop, final_code, team_details
from harness_sop.team import Team

DOCS = {WRITE_PRD: "docs/prd.json", WRITE_DESIGN: "docs/design.json", WRITE_TASKS: "docs/tasks.json"}


def add_command(subparsers: Any, add_common: Any) -> None:
    parser = subparsers.add_parser("sop", help="let the SOP company build a small project from a requirement")
    add_common(parser, results_dir=False)
    parser.add_argument("idea", metavar="REQUIREMENT", help='what to build, e.g. "a cli number guessing game"')
    parser.add_argument("--out", required=True, metavar="DIR", help="where the project is written: a new or empty folder")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out, replacing files of the same names")
    parser.add_argument("--backend", metavar="SPEC", help="model backend (default: llamacpp:smollm2)")
    parser.add_argument("--role", action="append", metavar="ROLE=SPEC", help="give one role its own backend")
    parser.add_argument("--sandbox", metavar="NAME", help="where the tests run: docker (default) or local (unsafe)")
    parser.add_argument("--system-opt", action="append", metavar="K=V", help="team option, as for `harness run --system sop`")
    parser.add_argument("--max-cost", type=float, metavar="USD", help="stop the team when this much is spent")
    parser.add_argument("--seed", type=int, metavar="N")
    parser.set_defaults(handler=cmd_sop)


class HandoverLog:
    """Company mode's progress: a line per role's turn (``phase`` events) and per hand-over
    (``handover`` events) as they happen; the SampleContext's ``on_event`` and ``on_call``."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.tokens = 0
        self.cost = 0.0

    def on_call(self, call: dict[str, Any]) -> None:
        usage = call.get("usage") or {}
        self.tokens += usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
        self.cost += call.get("cost") or 0.0

    def on_event(self, event: dict[str, Any]) -> None:
        if event["event"] == "phase":
            self._line(str(event.get("name")))
        elif event["event"] == "handover":
            document = f" ({event['document_type']})" if event.get("document_type") else ""
            to = ", ".join(event.get("received_by") or []) or "nobody"
            self._line(f"hand-over {event.get('id')}: {event.get('sent_from')} -> {to}: {event.get('cause_by')}{document}")

    def _line(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:6.1f}s] {text}  (tokens {self.tokens:,}, ${self.cost:.4f})", file=self.stream, flush=True)


async def _build(idea: str, out: Path, system: Sop, resources: Resources, budget: Budget, config: Config) -> tuple[Team, Office]:
    async with resources.opened(out):
        log = HandoverLog()
        ctx = SampleContext(
            backends=resources.backends, sandbox=resources.sandbox, budget=budget, seed=config.getoption("seed"), on_call=log.on_call, on_event=log.on_event
        )
        office = Office(ctx, Brief.from_idea(idea), system.settings)
        team = Team(office)
        await team.run()
        return team, office


def _write(out: Path, relative: str, text: str) -> None:
    target = (out / relative).resolve()
    if not target.is_relative_to(out.resolve()):
        raise UsageError(f"refusing to write {relative!r} outside {out}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def write_project(out: Path, team: Team, office: Office) -> TestReport | None:
    """Write the project; returns the test report of the chosen code version (None: untested)."""
    for action, path in DOCS.items():
        envelope = team.pool.latest(action)
        if envelope is not None and envelope.document is not None:
            _write(out, path, envelope.document.model_dump_json(indent=2))
    code, _ = final_code(team)
    for path, source in (code.files if code else {}).items():
        _write(out, path, source)
    tests = team.pool.latest(WRITE_TESTS)
    if tests is not None and isinstance(tests.document, TestSuite):
        for path, source in tests.document.files.items():
            _write(out, path, source)
    reports = [e.document for e in team.pool.history if e.cause_by == RUN_TESTS and isinstance(e.document, TestReport)]
    report = next((r for r in reversed(reports) if code and r.code_version == code.version), None)
    if report is not None:
        _write(out, "docs/test_report.json", report.model_dump_json(indent=2))
    details = team_details(team, office) | {"usage": {role: meter.as_dict() for role, meter in office.ctx.meters.items()}}
    _write(out, "docs/team.json", json.dumps(details, indent=2))
    _write(out, "logs/transcript.jsonl", "".join(json.dumps(entry, default=str) + "\n" for entry in office.ctx.transcript))
    return report


def prepare_out(out: Path, force: bool) -> None:
    """Make ``out`` (new, or empty unless ``force``) and prove it writable, before any model call.
    UsageError names the folder and the fix."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file is in the way; give a directory")
    if out.is_dir() and not force:
        present = sorted(entry.name for entry in out.iterdir())
        if present:
            shown = ", ".join(present[:5]) + (", …" if len(present) > 5 else "")
            raise UsageError(f"--out {out} is not empty ({len(present)} entries: {shown}); give a new or empty folder, or add --force to write into it (files of the same names are replaced)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write there ({exc.strerror}); give a folder you can write") from exc


def cmd_sop(config: Config) -> int:
    idea = config.getoption("idea").strip()
    if not idea:
        raise UsageError('give the requirement to build, e.g. harness sop "a cli number guessing game" --out game/')
    system = Sop(config.system_options(Sop.name, config.getoption("system_opt")))
    budget = Budget.from_config(config)
    out = Path(config.getoption("out"))
    resources = Resources.resolve(config, Resources.roles_of(system))
    prepare_out(out, bool(config.getoption("force")))
    team, office = asyncio.run(_build(idea, out, system, resources, budget, config))
    report = write_project(out, team, office)
    code, why = final_code(team)
    verdict = "untested (no QA engineer in the team)" if report is None else report.render().splitlines()[0].removeprefix("## ")
    print(f"{out}: {len(code.files) if code else 0} source file(s), code version {code.version if code else '-'} ({why}); {verdict}; team stopped: {team.stop_reason} after {team.rounds} round(s)")
    return 0 if report is not None and report.passed else 1
