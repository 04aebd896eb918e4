"""Designed programs, stored per (designer, prompt, query) so that the execution stage can be run
again with other agent models without designing again (MAS-GPT's two phases).

One JSON file per key under the cache folder (``--system-opt cache_dir=``, default
``$XDG_CACHE_HOME/mas-harness/masgpt-programs``): the designer's spec and request settings, the
prompt's and query's sha256, the designer's reply and its usage. The program is extracted from
the stored reply each time, so an entry never goes stale when the extraction rule changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def design_key(designer: str, prompt_sha256: str, query: str, max_tokens: int, temperature: float) -> str:
    """The cache key (sha256 hex) of one design request: the designer backend's spec, the system
    prompt, the query and the request settings that change the reply."""
    identity = {
        "designer": designer,
        "prompt_sha256": prompt_sha256,
        "query_sha256": hashlib.sha256(query.encode()).hexdigest(),
        "max_tokens": max_tokens,
        "temperature": temperature,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


class ProgramCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        """The stored entry, or None when there is none (an unreadable entry counts as none)."""
        try:
            entry = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and isinstance(entry.get("reply"), str) else None

    def store(self, key: str, entry: dict[str, Any]) -> None:
        """Write the entry atomically (a reader sees the old entry or the new one, never half)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh, indent=1)  # \u escapes: lone surrogates in a reply stay storable
            os.replace(tmp, self.path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
