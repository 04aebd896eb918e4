"""Asking a model for a document: guided JSON where the backend offers it, tagged JSON otherwise.

With ``response_format`` in the backend's features the request carries the document's JSON
Schema, so the server constrains decoding; without it the prompt shows a template and asks for
the JSON between ``[CONTENT]`` and ``[/CONTENT]``. Either way the reply goes through
`repair.parse_json` and the document's lenient validation; a reply that still fails is retried
(with the error shown to the model) up to `ATTEMPTS` times, after which an empty document stands
in, so that the team goes on. Every failure and repair is counted in the role's `ParseStats`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from harness import Message, Model
from harness_sop.documents import Document
from harness_sop.repair import CLOSE_TAG, OPEN_TAG, between_tags, parse_json

ATTEMPTS = 3
#: Characters of a failed reply shown back to the model on a retry.
REPLY_SHOWN = 1200


@dataclass
class ParseStats:
    """What parsing one role's documents took, for Answer.details."""

    documents: int = 0
    guided: int = 0  # documents asked for with a JSON Schema (response_format)
    parse_failures: int = 0  # replies that were no valid document even after repair
    repaired: int = 0  # documents accepted only after repair
    fallbacks: int = 0  # documents given up on: an empty one stood in
    repairs: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "guided": self.guided,
            "parse_failures": self.parse_failures,
            "repaired": self.repaired,
            "fallbacks": self.fallbacks,
            "repairs": dict(self.repairs),
        }


def response_format(doc_type: type[Document]) -> dict[str, Any]:
    """OpenAI's JSON-Schema response format; a backend whose server speaks another dialect
    (llama.cpp) translates it."""
    return {"type": "json_schema", "json_schema": {"name": doc_type.__name__, "schema": doc_type.guidance_schema()}}


def format_instruction(doc_type: type[Document], guided: bool) -> str:
    """What the prompt says about the reply's form."""
    template = json.dumps(doc_type.template(), indent=1)
    if guided:
        return f"Reply with one JSON object with these fields:\n{template}"
    return (
        f"Reply with one JSON object with these fields, between {OPEN_TAG} and {CLOSE_TAG} and nothing else:\n"
        f"{OPEN_TAG}\n{template}\n{CLOSE_TAG}"
    )


def read_document(reply: str, doc_type: type[Document]) -> tuple[Document, list[str]]:
    """The document in a reply and the repairs it needed; ValueError when there is none."""
    body, repairs = between_tags(reply)
    value, json_repairs = parse_json(body)
    document, coercions = doc_type.parse(value)
    return document, repairs + json_repairs + coercions


def _short(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3])
    return str(error)[:200]


async def ask_document(
    model: Model,
    messages: list[Message],
    doc_type: type[Document],
    stats: ParseStats,
    **params: Any,
) -> Document:
    """Ask until a valid document comes back (at most ATTEMPTS times); never raises for bad output.
    ``messages`` should end with the user's request; the format instruction is appended to it."""
    guided = "response_format" in model.features
    stats.documents += 1
    stats.guided += guided
    if guided:
        params["response_format"] = response_format(doc_type)
    *head, last = messages
    request = [*head, Message(last.role, f"{last.content}\n\n{format_instruction(doc_type, guided)}")]
    conversation = request
    for _ in range(ATTEMPTS):
        completion = await model.complete(conversation, **params)
        reply = completion.message.content or ""
        try:
            document, repairs = read_document(reply, doc_type)
        except ValueError as exc:  # RepairError and pydantic's ValidationError included
            stats.parse_failures += 1
            # only the latest failed reply is shown again, so that retries never outgrow the context
            conversation = request + [
                Message("assistant", reply[:REPLY_SHOWN]),
                Message("user", f"That was not a valid {doc_type.__name__} ({_short(exc)}). {format_instruction(doc_type, guided)}"),
            ]
            continue
        if repairs:
            stats.repaired += 1
            stats.repairs.update(repairs)
        return document
    stats.fallbacks += 1
    return doc_type()
