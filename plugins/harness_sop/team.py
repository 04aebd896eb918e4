"""The team: its roles, the message pool, and the rounds.

The user's requirement is published first. Each round runs, in SOP order, the roles that have
news (each role that acts is a phase of the sample, ``round N: Title``); what they publish is
delivered after the round, so a round is one step of the SOP. The team
stops when a hand-over is addressed to it (``done``), when no role has news (``idle``), after
``max_rounds`` (``rounds``), or when the run's budget is spent (``budget``; what was produced in
that round is still published).
"""

from __future__ import annotations

from harness_sop.engineer import Engineer
from harness_sop.messages import TEAM, USER_REQUIREMENT, Envelope, MessagePool
from harness_sop.office import Office, OutOfBudget
from harness_sop.qa import QaEngineer
from harness_sop.roles import Architect, ProductManager, ProjectManager, Role

ROLE_CLASSES: dict[str, type[Role]] = {cls.key: cls for cls in (ProductManager, Architect, ProjectManager, Engineer, QaEngineer)}


class Team:
    def __init__(self, office: Office) -> None:
        self.office = office
        chosen = [ROLE_CLASSES[key] for key in office.settings.roles]
        performed = {cls.action for cls in chosen}
        self.roles = [cls(office, performed) for cls in chosen]
        self.pool = MessagePool(trace=office.trace)
        for role in self.roles:
            self.pool.subscribe(role)
        self.rounds = 0
        self.stop_reason = ""

    async def run(self) -> str:
        """Run rounds until the team stops; returns (and keeps) the reason."""
        self.pool.publish(Envelope(self.office.brief.requirement, USER_REQUIREMENT, "user"))
        self.stop_reason = await self._rounds()
        self.office.trace("team_stop", reason=self.stop_reason, rounds=self.rounds, handovers=len(self.pool.history))
        return self.stop_reason

    async def _rounds(self) -> str:
        while True:
            if any(TEAM in e.send_to for e in self.pool.history):
                return "done"
            active = [role for role in self.roles if role.has_news]
            if not active:
                return "idle"
            if self.rounds >= self.office.settings.max_rounds:
                return "rounds"
            self.rounds += 1
            self.office.trace("round", number=self.rounds, active=[r.key for r in active])
            outgoing: list[Envelope] = []
            try:
                self.office.round = self.rounds
                for role in active:
                    outgoing += await role.step()
            except OutOfBudget as exc:
                self.office.trace("out_of_budget", detail=str(exc))
                return "budget"
            finally:
                for envelope in outgoing:
                    self.pool.publish(envelope)
