"""Task ``qa``: question answering on a file in MAS-GPT's dataset format.

A dataset is one JSON list, or JSON lines, of ``{"query": str, "gt": str, "tag"?: str,
"source"?: str}`` (the format of MAS-GPT's ``test/data_pool/NAME.json``; ``gt`` may also be a
number). Options (``--task-opt K=V``):

- ``path=FILE`` (required): the dataset;
- ``match=auto|math|exact``: how an answer is compared with ``gt``. ``math`` uses the
  ``math-verify`` package (Hugging Face): ``verify(parse(gt), parse(answer))``, which finds the
  answer's final ``\\boxed{}`` or last expression and compares values symbolically (1/2 = 0.5
  = ``\\frac12``). ``exact`` is normalized exact match (`exact_match`). ``auto`` (default)
  chooses per sample: ``math`` when math-verify reads ``gt`` as a number or expression (see
  `is_mathematical`), ``exact`` otherwise (multiple-choice letters, words).

Sample ids are the record's position in the file (``qa::0``, ``qa::1`` …); the tags are its
``tag`` and ``source``. The prompt is the raw query, as MAS-GPT gives it to its designer.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import string
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness import Answer, ConfigError, Outcome, Sample, Task, hookimpl
from harness.codetasks.datafiles import read_records

if TYPE_CHECKING:
    from harness import SampleContext

MATCH_MODES = ("auto", "math", "exact")
OPTIONS = {"path", "match"}
#: Where a free-text reply states its final answer, in order of preference.
_BOXED = re.compile(r"\\boxed\s*\{")
_ANSWER_MARK = re.compile(r"answer\s*(?:is\s*:?|:)\s*", re.IGNORECASE)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")


def _boxed_contents(text: str) -> str | None:
    """What the last ``\\boxed{…}`` holds (nested braces balanced), or None."""
    starts = list(_BOXED.finditer(text))
    if not starts:
        return None
    depth, start = 1, starts[-1].end()
    for pos in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[pos], 0)
        if depth == 0:
            return text[start:pos]
    return text[start:]


def final_answer(text: str) -> str:
    """The part of a reply that states its answer: the last ``\\boxed{}``'s contents, else the
    first line after the last "answer is" / "answer:", else the last non-empty line."""
    boxed = _boxed_contents(text)
    if boxed is not None:
        return boxed
    marks = list(_ANSWER_MARK.finditer(text))
    if marks:
        rest = text[marks[-1].end() :].strip()
        return rest.splitlines()[0] if rest else ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def normalize(text: str) -> str:
    """SQuAD's answer normalization: lower case, no punctuation, no articles (a, an, the),
    single spaces; except that a one-word answer keeps its word (so that the choice "A" is
    not normalized away)."""
    words = "".join(ch for ch in text.lower() if ch not in string.punctuation).split()
    return " ".join(words if len(words) == 1 else _ARTICLES.sub(" ", " ".join(words)).split())


def exact_match(gt: str, reply: str) -> tuple[bool, str]:
    """(whether the reply's final answer equals ``gt`` after `normalize`, that final answer)."""
    candidate = final_answer(reply)
    return normalize(candidate) == normalize(gt) and normalize(gt) != "", candidate


def _parse_gold(gt: str) -> list[Any]:
    from math_verify import parse

    return parse(gt) or parse(f"${gt}$")


def is_mathematical(gt: str) -> bool:
    """Whether ``gt`` is a mathematical answer: math-verify reads a number or an expression in
    it, and it has no word of two or more letters outside LaTeX commands (so "yes", "Paris" and
    the letter of a multiple choice are not)."""
    words = re.findall(r"[A-Za-z]{2,}", _LATEX_COMMAND.sub(" ", gt.replace("\\text", " ")))
    return not words and bool(re.search(r"[0-9\\^]", gt)) and bool(_parse_gold(gt))


def math_match(gt: str, reply: str) -> tuple[bool, str]:
    """(math-verify's verdict on ``reply`` against ``gt``, what it extracted from the reply)."""
    from math_verify import parse, verify

    gold = _parse_gold(gt)
    answer = parse(reply)
    extracted = str(answer[-1]) if answer else ""
    return bool(gold) and bool(answer) and verify(gold, answer), extracted


class QA(Task):
    name: ClassVar[str] = "qa"
    kind: ClassVar[str] = "qa"
    version: ClassVar[str] = "1"

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        unknown = set(options) - OPTIONS
        if unknown:
            raise ConfigError(f"task qa: unknown --task-opt {sorted(unknown)}; known: {sorted(OPTIONS)}")
        if "path" not in options:
            raise ConfigError('task qa needs its data: --task-opt path=FILE.json (a JSON list or JSON lines of {"query", "gt", "tag"?, "source"?})')
        self.path = Path(options["path"]).expanduser().absolute()
        self.options["path"] = str(self.path)  # absolute: run.json records it, --resume may run elsewhere
        self.match = options.get("match", "auto")
        if self.match not in MATCH_MODES:
            raise ConfigError(f"task qa: --task-opt match={self.match!r}; use one of {', '.join(MATCH_MODES)}")

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        records = read_records(self.path, self.name)
        for index, record in enumerate(records):
            missing = {"query", "gt"} - set(record)
            if missing:
                raise ConfigError(f"task qa: record {index} of {self.path} lacks {sorted(missing)} (it has {sorted(record)}); each needs \"query\" and \"gt\"")
            if not isinstance(record["query"], str) or not isinstance(record["gt"], (str, int, float)) or isinstance(record["gt"], bool):
                raise ConfigError(f"task qa: record {index} of {self.path}: \"query\" must be text and \"gt\" text or a number")
        if not records:
            raise ConfigError(f"task qa: {self.path} holds no records")
        return records

    def samples(self) -> list[Sample]:
        return [
            Sample(self.name, str(index), record["query"], tags=tuple(str(record[key]) for key in ("tag", "source") if record.get(key)))
            for index, record in enumerate(self.records)
        ]

    def mode_for(self, gt: str) -> str:
        if self.match != "auto":
            return self.match
        return "math" if is_mathematical(gt) else "exact"

    async def score(self, sample: Sample, answer: Answer, ctx: SampleContext) -> Outcome:
        gt = str(self.records[int(sample.id)]["gt"])
        mode = self.mode_for(gt)
        ok, extracted = (math_match if mode == "math" else exact_match)(gt, answer.text)
        return Outcome(
            "passed" if ok else "failed",
            float(ok),
            output=f"expected {gt!r}; the answer's final part read {extracted!r} ({mode} match)",
            details={"match": mode, "gt": gt, "extracted": extracted},
        )

    def dataset_identity(self) -> dict[str, Any]:
        canonical = json.dumps(self.records, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return {
            "source": f"file:{self.path}",
            "match": self.match,
            "math_verify_version": importlib.metadata.version("math-verify"),
            "count": len(self.records),
            "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
        }


@hookimpl
def harness_add_tasks() -> list[type]:
    return [QA]
