"""The design stage: the designer model writes a MAS program for the query.

The designer gets the system prompt (ours, or ``prompt_file=``) and the raw query as the user
message, at the settings' temperature and max_tokens (MAS-GPT: 0 and 4096). The program is the
last fenced block tagged python (``python``, ``py``, ``python3``) of the reply, found by
CommonMark's rules (`harness.codetasks.fences`); a reply with none gets the built-in fallback
program (``fallback=builtin``) or no program (``fallback=none``), and is flagged either way.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from harness import Message, SampleContext
from harness.codetasks.fences import fenced_blocks
from harness_masgpt.cache import ProgramCache, design_key
from harness_masgpt.options import Settings
from harness_masgpt.prompt import FALLBACK_PROGRAM

PYTHON_TAGS = frozenset({"python", "py", "python3"})


def last_python_block(reply: str) -> str | None:
    """The code of the reply's last python-tagged fenced block, stripped; None when it has none."""
    blocks = [block for block in fenced_blocks(reply.replace("\r\n", "\n")) if block.language in PYTHON_TAGS]
    return blocks[-1].code.strip() if blocks else None


@dataclass
class Design:
    """What the design stage produced for one query.

    ``source``: ``designer`` (designed now), ``cache`` (designed earlier, same key) or ``file``
    (``program=FILE``). ``found``: whether the reply held a python block. ``program`` is what
    runs: the block, the fallback (``fallback_used``) or None (no block, ``fallback=none``)."""

    source: str
    program: str | None
    found: bool = True
    fallback_used: bool = False
    reply: str | None = None
    key: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # the designer's call, when the design was made (also for cached ones)

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "code_block": self.found,
            "fallback_used": self.fallback_used,
            "cache_key": self.key,
            "usage": self.usage,
            "reply": self.reply,
        }


def from_reply(source: str, reply: str, settings: Settings, key: str | None, usage: dict[str, Any]) -> Design:
    program = last_python_block(reply)
    if program is not None:
        return Design(source, program, reply=reply, key=key, usage=usage)
    fallback = settings.fallback == "builtin"
    return Design(source, FALLBACK_PROGRAM if fallback else None, found=False, fallback_used=fallback, reply=reply, key=key, usage=usage)


class Designer:
    """Designs (or finds stored) programs; one design at a time per key, so repeats of a sample
    wait for the first one's design instead of asking the designer again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = ProgramCache(settings.cache_dir)
        self._locks: dict[str, asyncio.Lock] = {}

    async def design(self, query: str, ctx: SampleContext) -> Design:
        settings = self.settings
        if settings.program is not None:
            return Design("file", settings.program.read_text(encoding="utf-8"))
        model = ctx.llm("designer")
        key = design_key(model.backend.spec, settings.prompt_sha256, query, settings.max_tokens, settings.temperature)
        async with self._locks.setdefault(key, asyncio.Lock()):
            if settings.design != "fresh" and (entry := self.cache.load(key)) is not None:
                return from_reply("cache", entry["reply"], settings, key, entry.get("usage") or {})
            completion = await model.complete(
                [Message("system", settings.prompt), Message("user", query)],
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
            )
            reply = completion.message.content or ""
            usage = {
                "input_tokens": completion.usage.input_tokens,
                "output_tokens": completion.usage.output_tokens,
                "cost": completion.cost,
                "finish_reason": completion.finish_reason,
            }
            self.cache.store(key, {
                "designer": model.backend.spec,
                "prompt_sha256": settings.prompt_sha256,
                "max_tokens": settings.max_tokens,
                "temperature": settings.temperature,
                "query": query,
                "reply": reply,
                "usage": usage,
                "model": completion.model,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            })
            return from_reply("designer", reply, settings, key, usage)
