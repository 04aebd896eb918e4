"""The message pool: roles publish envelopes; each is delivered to the roles that watch its action.

An envelope is delivered to a role when the role watches the action that caused it
(``cause_by``), the envelope is addressed to everyone or to that role (``send_to``), and the
role did not send it itself. Every publication is traced (``handover``) with its document, so
that the transcript shows each hand-over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness_sop.documents import Document

EVERYONE = "<all>"
#: Addressee meaning "the work is delivered": the team stops after the round.
TEAM = "<team>"
#: The action of the user's requirement, published before the first round.
USER_REQUIREMENT = "UserRequirement"


@dataclass
class Envelope:
    content: str  # the hand-over as text (a rendered document, code)
    cause_by: str  # the action that produced it, e.g. "WritePRD"
    sent_from: str  # a role key, or "user"
    send_to: frozenset[str] = frozenset({EVERYONE})
    document: Document | None = None
    id: int = 0  # set by the pool

    def addressed_to(self, role: str) -> bool:
        return EVERYONE in self.send_to or role in self.send_to


class Subscriber(Protocol):
    key: str
    watch: frozenset[str]

    def receive(self, envelope: Envelope) -> None: ...


@dataclass
class MessagePool:
    trace: Callable[..., None] = lambda event, **data: None
    history: list[Envelope] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)

    def subscribe(self, role: Subscriber) -> None:
        self.subscribers.append(role)

    def publish(self, envelope: Envelope) -> Envelope:
        envelope.id = len(self.history) + 1
        self.history.append(envelope)
        receivers = [
            role
            for role in self.subscribers
            if envelope.cause_by in role.watch and envelope.addressed_to(role.key) and envelope.sent_from != role.key
        ]
        for role in receivers:
            role.receive(envelope)
        self.trace("handover", **self.describe(envelope), received_by=[r.key for r in receivers])
        return envelope

    @staticmethod
    def describe(envelope: Envelope) -> dict[str, Any]:
        return {
            "id": envelope.id,
            "cause_by": envelope.cause_by,
            "sent_from": envelope.sent_from,
            "send_to": sorted(envelope.send_to),
            "document_type": type(envelope.document).__name__ if envelope.document is not None else None,
            "document": envelope.document.model_dump() if envelope.document is not None else None,
            "content": envelope.content,
        }

    def latest(self, cause_by: str) -> Envelope | None:
        return next((e for e in reversed(self.history) if e.cause_by == cause_by), None)
