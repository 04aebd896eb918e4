"""Selecting samples the way pytest selects tests: node ids, -k, -m, --limit (--lf is in runner).

-k EXPR   matches when the expression is true with each name meaning "is a case-insensitive
          substring of the node id, the sample id, the task name or one of the tags".
-m EXPR   matches when the expression is true with each name meaning "is one of the tags" (exact).
Both accept ``and``, ``or``, ``not`` and parentheses, with pytest's precedence
(not > and > or). An empty expression selects everything.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.errors import UsageError
from harness.types import Sample

_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<word>[^\s()]+))")
_KEYWORDS = {"and", "or", "not"}


@dataclass
class _Token:
    kind: str  # "(", ")", "and", "or", "not", "ident", "end"
    text: str
    column: int


def _tokenize(expr: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None or match.end() == pos:
            break
        if match.group("paren"):
            tokens.append(_Token(match.group("paren"), match.group("paren"), match.start("paren") + 1))
        elif match.group("word"):
            word = match.group("word")
            kind = word if word in _KEYWORDS else "ident"
            tokens.append(_Token(kind, word, match.start("word") + 1))
        pos = match.end()
    tokens.append(_Token("end", "", len(expr) + 1))
    return tokens


Matcher = Callable[[str], bool]


class Expression:
    """A compiled -k or -m expression."""

    def __init__(self, expr: str, flag: str) -> None:
        self.source = expr
        self.flag = flag
        self._tokens = _tokenize(expr)
        self._pos = 0
        if self._tokens[0].kind == "end":
            self._tree: object = True
            return
        self._tree = self._or()
        self._expect("end")

    # recursive descent; the tree is nested tuples ("or"|"and", a, b), ("not", a), ("ident", s)
    def _peek(self) -> _Token:
        return self._tokens[self._pos]

    def _take(self) -> _Token:
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def _expect(self, kind: str) -> _Token:
        token = self._peek()
        if token.kind != kind:
            wanted = {"end": "end of expression", "ident": "a name"}.get(kind, repr(kind))
            found = "end of expression" if token.kind == "end" else repr(token.text)
            raise UsageError(
                f"{self.flag} {self.source!r}: at column {token.column}: expected {wanted}, found {found}. "
                f"Use names joined by and/or/not with balanced parentheses, e.g. {self.flag} \"sort and not list\"."
            )
        return self._take()

    def _or(self) -> object:
        left = self._and()
        while self._peek().kind == "or":
            self._take()
            left = ("or", left, self._and())
        return left

    def _and(self) -> object:
        left = self._not()
        while self._peek().kind == "and":
            self._take()
            left = ("and", left, self._not())
        return left

    def _not(self) -> object:
        token = self._peek()
        if token.kind == "not":
            self._take()
            return ("not", self._not())
        if token.kind == "(":
            self._take()
            inner = self._or()
            self._expect(")")
            return inner
        return ("ident", self._expect("ident").text)

    def names(self) -> list[str]:
        """The names the expression tests, in order of appearance."""
        return [token.text for token in self._tokens if token.kind == "ident"]

    def evaluate(self, matches: Matcher) -> bool:
        def walk(node: object) -> bool:
            if node is True:
                return True
            op = node[0]  # type: ignore[index]
            if op == "ident":
                return matches(node[1])  # type: ignore[index]
            if op == "not":
                return not walk(node[1])  # type: ignore[index]
            if op == "and":
                return walk(node[1]) and walk(node[2])  # type: ignore[index]
            return walk(node[1]) or walk(node[2])  # type: ignore[index]

        return walk(self._tree)


def keyword_matcher(sample: Sample) -> Matcher:
    names = [sample.node_id.lower(), sample.id.lower(), sample.task.lower(), *(t.lower() for t in sample.tags)]
    return lambda word: any(word.lower() in name for name in names)


def marker_matcher(sample: Sample) -> Matcher:
    tags = set(sample.tags)
    return lambda word: word in tags


def split_node_id(node_id: str) -> tuple[str, str | None]:
    """'humaneval::HumanEval/0' -> ('humaneval', 'HumanEval/0'); 'humaneval' -> ('humaneval', None)."""
    task, sep, sample_id = node_id.partition("::")
    return task, (sample_id if sep else None)


def select_node_ids(samples: list[Sample], node_ids: Iterable[str]) -> list[Sample]:
    """Keep the samples named by node ids (a bare task name keeps all), in the order given."""
    node_ids = list(node_ids)
    if not node_ids:
        return samples
    by_id = {s.id: s for s in samples}
    chosen: dict[str, Sample] = {}
    missing = []
    for node_id in node_ids:
        task, sample_id = split_node_id(node_id)
        if samples and task != samples[0].task:
            raise UsageError(f"node id {node_id!r} names task {task!r}, but this run's task is {samples[0].task!r}")
        if sample_id is None:
            chosen.update((s.id, s) for s in samples)
        elif sample_id in by_id:
            chosen[sample_id] = by_id[sample_id]
        else:
            missing.append(node_id)
    if missing:
        raise UsageError(f"not found: {', '.join(missing)}. `harness list --task {samples[0].task if samples else 'TASK'}` shows the node ids.")
    return list(chosen.values())


def select(
    samples: list[Sample],
    *,
    node_ids: Iterable[str] = (),
    keyword: str | None = None,
    marker: str | None = None,
) -> list[Sample]:
    """Apply node ids, then -k, then -m (all must hold)."""
    chosen = select_node_ids(samples, node_ids)
    if keyword:
        expr = Expression(keyword, "-k")
        chosen = [s for s in chosen if expr.evaluate(keyword_matcher(s))]
    if marker:
        expr = Expression(marker, "-m")
        chosen = [s for s in chosen if expr.evaluate(marker_matcher(s))]
    return chosen


def marker_hint(marker: str, samples: list[Sample], task_options: dict[str, tuple[str, ...] | None]) -> str:
    """Why ``-m marker`` may have selected nothing: a name that is a value of a task option
    (``-m validation`` where ``--task-opt split=validation`` chooses those samples), else the
    commonest tags of the samples it was tried on."""
    for name in Expression(marker, "-m").names():
        for key, allowed in task_options.items():
            if allowed and name in allowed:
                return f"-m selects among the samples the task loaded, and {name!r} is a value of the task option {key}: load those samples with --task-opt {key}={name}"
    counts = Counter(tag for sample in samples for tag in sample.tags)
    common = ", ".join(f"{tag} ({n})" for tag, n in counts.most_common(8))
    return f"-m {marker!r} matches none of their tags" + (f"; the commonest: {common}" if common else " (they have none)")
