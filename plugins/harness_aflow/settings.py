"""``--system-opt`` for ``aflow``: which workflow, and the executor's limits; parsed, checked,
and described for run.json.

``workflow=DIR[:ROUND]`` names the workflow: DIR is a search's folder (``results/optimize/ID``,
ROUND one of its rounds, default its best round) or a folder holding graph.py and prompt.py
(no ROUND). Without it, the workflow every search starts from (`workflows.INITIAL`). The value
is recorded absolute and with its round, so that ``--resume`` runs the same workflow even when
the search has gone on since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from harness import ConfigError
from harness_aflow.folder import SPEC_FILE, SearchFolder


@dataclass(frozen=True)
class Settings:
    """What one run of ``aflow`` does. Times are seconds; tokens per request."""

    workflow: str = ""  # DIR[:ROUND], "" for the initial workflow
    max_tokens: int = 2048  # one executor reply
    temperature: float = 0.0  # the executor's, where an operator call gives none
    timeout: float = 600.0  # the whole workflow on one problem, its model calls included
    max_calls: int = 32  # executor calls per problem
    test_timeout: float = 10.0  # one run of the visible tests by the Test operator

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not str(value).strip().isdigit() or int(value) < minimum:
            raise ValueError(f"give a whole number >= {minimum}")
        return int(value)

    return parse


def _number(minimum: float, inclusive: bool) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not (number >= minimum if inclusive else number > minimum) or number == float("inf"):
            raise ValueError(f"give a number {'>=' if inclusive else '>'} {minimum:g}")
        return number

    return parse


def split_reference(value: str) -> tuple[Path, int | None]:
    """``DIR[:ROUND]`` -> (absolute DIR, ROUND or None)."""
    head, sep, tail = value.rpartition(":")
    if sep and tail.isdigit():
        return Path(head).expanduser().resolve(), int(tail)
    return Path(value).expanduser().resolve(), None


def resolve_workflow(value: str) -> str:
    """``DIR:ROUND`` (absolute, the round chosen) for a search, ``DIR`` for a plain workflow
    folder, "" for the initial workflow; ValueError saying what is wrong."""
    if not value:
        return ""
    path, number = split_reference(value)
    if (path / SPEC_FILE).is_file():
        state = SearchFolder(path).state()
        if number is None:
            best = state.best()
            if best is None:
                raise ValueError(f"search {path.name} has no scored round yet; name a round with {path}:ROUND once it has one")
            number = best.number
        if number not in state.rounds or not state.rounds[number].has_workflow:
            have = sorted(n for n, r in state.rounds.items() if r.has_workflow)
            raise ValueError(f"search {path.name} has no workflow for round {number}; rounds with one: {have}")
        return f"{path}:{number}"
    if number is not None:
        raise ValueError(f"{path} is no search folder (no {SPEC_FILE}), so :{number} names no round")
    if not (path / "graph.py").is_file():
        raise ValueError(f"{path} holds neither a search ({SPEC_FILE}) nor a workflow (graph.py)")
    return str(path)


PARSERS: dict[str, Callable[[str], Any]] = {
    "workflow": resolve_workflow,
    "max_tokens": _whole(1),
    "temperature": _number(0.0, inclusive=True),
    "timeout": _number(0.0, inclusive=False),
    "max_calls": _whole(1),
    "test_timeout": _number(0.0, inclusive=False),
}
assert set(PARSERS) == {f.name for f in fields(Settings)}


def parse_settings(options: dict[str, Any]) -> Settings:
    """Settings from ``--system-opt`` pairs; ConfigError names the bad option and the fix."""
    unknown = set(options) - set(PARSERS)
    if unknown:
        raise ConfigError(f"system aflow: unknown --system-opt {sorted(unknown)}; known: {', '.join(sorted(PARSERS))}")
    values: dict[str, Any] = {}
    for key, raw in options.items():
        try:
            values[key] = PARSERS[key](str(raw))
        except ValueError as exc:
            raise ConfigError(f"system aflow: --system-opt {key}={raw!r}: {exc}") from exc
    return Settings(**values)
