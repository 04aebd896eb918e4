"""System ``sop``: the MetaGPT-style software company on benchmark samples."""

from __future__ import annotations

from typing import Any, ClassVar

from harness import Answer, Sample, SampleContext, System
from harness_sop.brief import Brief
from harness_sop.documents import Code, TestReport
from harness_sop.office import Office
from harness_sop.options import ROLE_ORDER, parse_settings
from harness_sop.roles import RUN_TESTS, WRITE_CODE
from harness_sop.structured import ParseStats
from harness_sop.team import Team


def final_code(team: Team) -> tuple[Code | None, str]:
    """The Engineer's last code that passed QA; else the last that passed the task statement's
    examples; else the last code. Returns it with the reason it was chosen."""
    history = team.pool.history
    codes = {e.document.version: e.document for e in history if e.cause_by == WRITE_CODE and isinstance(e.document, Code)}
    reports = [e.document for e in history if e.cause_by == RUN_TESTS and isinstance(e.document, TestReport)]
    for why, accepted in (("passed QA", lambda r: r.passed), ("passed the task statement's examples", lambda r: r.examples_passed)):
        chosen = [r for r in reports if accepted(r)]
        if chosen:
            return codes[chosen[-1].code_version], why
    if codes:
        return codes[max(codes)], "last code (no version passed QA)"
    return None, "no code was written"


def team_details(team: Team, office: Office) -> dict[str, Any]:
    """What the record keeps about the team's work (Answer.details)."""
    code, why = final_code(team)
    history = team.pool.history
    reports = [e for e in history if e.cause_by == RUN_TESTS and isinstance(e.document, TestReport)]
    return {
        "stop_reason": team.stop_reason,
        "rounds": team.rounds,
        "roles": list(office.settings.roles),
        "answer_from": {"version": code.version if code else None, "why": why},
        "code_versions": sum(e.cause_by == WRITE_CODE for e in history),
        "fix_rounds": sum("engineer" in e.send_to for e in reports),
        "qa_runs": [
            {"code_version": e.document.code_version, "passed": e.document.passed, "ran": e.document.ran, "failed": len(e.document.failures), "sent_to": sorted(e.send_to)}
            for e in reports
        ],
        "handovers": [f"{e.id}: {e.sent_from} -> {','.join(sorted(e.send_to))} ({e.cause_by})" for e in history],
        "parse": {role: office.stats.get(role, ParseStats()).as_dict() for role in office.settings.roles},
        "extraction": code.notes if code else [],
    }


class Sop(System):
    """Product Manager -> Architect -> Project Manager -> Engineer <-> QA Engineer."""

    name: ClassVar[str] = "sop"
    kinds = frozenset({"code"})
    roles = ROLE_ORDER

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self.settings = parse_settings(options)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"resolved": self.settings.describe()}

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        office = Office(ctx, Brief.from_sample(sample), self.settings)
        team = Team(office)
        await team.run()
        code, _ = final_code(team)
        text = "" if code is None else code.answer or "\n\n".join(code.files.values())
        return Answer(text, team_details(team, office))
