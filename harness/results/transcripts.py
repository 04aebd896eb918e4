"""A transcript entry as a title and labelled blocks of text, for `harness show --sample` and the
HTML report alike.

Entries are what `harness.backend.Model` records for each model call (role, backend, request,
response, usage, cost, latency, error) and what systems add with ``ctx.trace(event, **data)``:
documents handed between roles, tool calls, sandbox output. Events are shown field by field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from harness.types import Record

#: Characters of one block kept; longer texts keep their head and tail.
BLOCK_LIMIT = 20_000


@dataclass
class Block:
    label: str
    text: str


@dataclass
class Entry:
    kind: str  # "call" or "event"
    title: str
    blocks: list[Block] = field(default_factory=list)
    failed: bool = False


def clip(text: str, limit: int = BLOCK_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n… [{len(text) - limit} characters cut] …\n" + text[-limit // 2 :]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _tool_calls(calls: list[dict[str, Any]] | None) -> str:
    return "\n".join(f"{call.get('name')}({call.get('arguments', '')})  [id {call.get('id')}]" for call in calls or [])


def _message_blocks(message: dict[str, Any], prefix: str = "") -> list[Block]:
    label = prefix + str(message.get("role"))
    if message.get("name"):
        label += f" {message['name']}"
    if message.get("tool_call_id"):
        label += f" (result of tool call {message['tool_call_id']})"
    blocks = [Block(label, clip(message.get("content") or ""))] if message.get("content") or not message.get("tool_calls") else []
    if message.get("tool_calls"):
        blocks.append(Block(f"{label}: tool calls", _tool_calls(message["tool_calls"])))
    return blocks


def _call(entry: dict[str, Any]) -> Entry:
    usage = entry.get("usage") or {}
    facts = [f"model call · {entry.get('role')} · {entry.get('backend')}"]
    if usage:
        facts.append(f"{usage.get('input_tokens', 0)}+{usage.get('output_tokens', 0)} tokens" + (" (estimated)" if usage.get("estimated") else ""))
    if entry.get("cost"):
        facts.append(f"${entry['cost']:.5f}")
    if entry.get("latency") is not None:
        facts.append(f"{entry['latency']:.2f}s")
    blocks = [b for message in (entry.get("request") or {}).get("messages", []) for b in _message_blocks(message)]
    if entry.get("response"):
        blocks += _message_blocks(entry["response"], prefix="→ ")
    if entry.get("error"):
        blocks.append(Block("error", clip(str(entry["error"]))))
    return Entry("call", " · ".join(facts), blocks, failed=bool(entry.get("error")))


def _event(entry: dict[str, Any]) -> Entry:
    blocks = [Block(key, clip(_as_text(value))) for key, value in entry.items() if key != "event"]
    return Entry("event", f"event · {entry['event']}", blocks)


def describe(entry: dict[str, Any]) -> Entry:
    return _event(entry) if "event" in entry else _call(entry)


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + line for line in text.splitlines()) if text else pad + "(empty)"


def render_text(record: Record, transcript: list[dict[str, Any]]) -> str:
    """One (sample, repeat) as plain text: its record, then every transcript entry."""
    lines = [f"== {record.node_id}  repeat {record.repeat}  status {record.status}  score {record.score}"]
    tokens = f"{record.input_tokens}+{record.output_tokens}"
    lines.append(f"   calls {record.llm_calls}  tokens {tokens}  cost ${record.cost:.5f}  {record.latency:.2f}s")
    sections = [("error", record.error), ("answer", record.answer), ("scorer output", record.output)]
    for label, text in sections:
        if text:
            lines += [f"--- {label} ---", clip(str(text))]
    lines.append(f"--- transcript: {len(transcript)} entries ---")
    for number, raw in enumerate(transcript, 1):
        entry = describe(raw)
        lines.append(f"[{number}] {entry.title}" + ("  FAILED" if entry.failed else ""))
        for block in entry.blocks:
            lines += [f"  [{block.label}]", _indent(block.text)]
    return "\n".join(lines) + "\n"
