"""The fenced code blocks of a model's reply, by CommonMark's rules (through markdown-it-py).

Used by harness.codetasks.extraction. CommonMark (https://spec.commonmark.org/0.31.2/#fenced-code-blocks): a
fence is a run of 3 or more backticks or tildes, indented at most 3 spaces (more inside list
items and block quotes, which markdown-it-py handles); the block ends at a fence of the same
character at least as long as the opening one, or at the end of its container when there is none.

Replies also use two fences CommonMark does not have, and `fenced_blocks` repairs them first:

- an opening fence at the end of a line of prose (``Here it is: ```python``), when it carries a
  language tag or follows a colon;
- an opening fence indented 4 or more spaces under a line of prose, which CommonMark reads as
  part of the paragraph; its block is taken with that indentation removed, as CommonMark does
  for the indentation of the fences it does accept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MARKDOWN = MarkdownIt("commonmark")
#: An opening fence ending a line of prose, with at most a language tag after it.
_MIDLINE_OPENER = re.compile(r"^(?P<prose>[^\n]*?[^`~\s])[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>[ \t]*[\w+#.-]*[ \t]*)$")
#: A fence line at any indentation: (indentation, fence, info string).
_FENCE_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")
#: Indentation CommonMark allows before a fence outside containers.
_MAX_FENCE_INDENT = 3


@dataclass(frozen=True)
class FencedBlock:
    """One fenced block: its info string (``python title=x.py``), its content (the code, without
    the fences and with the container's indentation removed), its opening fence (three or more
    backticks or tildes) and the index of the opening fence's line in the text given to
    `fenced_blocks`."""

    info: str
    code: str
    fence: str
    line: int

    @property
    def language(self) -> str:
        """The info string's first word, lower-cased: ``python`` for ``Python title=x.py``."""
        match = re.match(r"[\w+#.-]*", self.info.strip())
        return match.group().lower() if match else ""


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Every fenced block of ``text`` (lines separated by ``\\n``), in order, after repairing the
    fences CommonMark does not have (module docstring). A block inside an indented code block
    (fences indented 4 spaces at the top of a reply) is found too."""
    blocks = []
    for token in _repaired(text.split("\n")):
        if token.type == "fence" and token.map:
            blocks.append(FencedBlock(token.info, token.content, token.markup, token.map[0]))
        elif token.type == "code_block" and token.map and any(_FENCE_LINE.match(line) for line in token.content.split("\n")):
            blocks += [FencedBlock(b.info, b.code, b.fence, token.map[0] + b.line) for b in fenced_blocks(token.content)]
    return blocks


def _repaired(lines: list[str]) -> list[Token]:
    """markdown-it-py's tokens of ``lines`` once each opening fence that CommonMark misses,
    outside the blocks it finds, is made a fence on a line of its own (one at a time: each repair
    can change what follows; a repaired line is never missed again, so at most one repair a line)."""
    for _ in range(len(lines) + 1):
        tokens = _MARKDOWN.parse("\n".join(lines))
        covered = {i for token in tokens if token.type in ("fence", "code_block") and token.map for i in range(*token.map)}
        index = next((i for i in range(len(lines)) if i not in covered and _missed_opener(lines[i])), None)
        if index is None:
            break
        lines = _repair_at(lines, index)
    return tokens


def _missed_opener(line: str) -> bool:
    midline = _MIDLINE_OPENER.match(line)
    if midline and _opens_after_prose(midline["prose"], midline["fence"], midline["info"]):
        return True
    fence = _FENCE_LINE.match(line)
    return bool(fence) and len(fence["indent"].expandtabs(4)) > _MAX_FENCE_INDENT and "`" not in fence["info"]


def _opens_after_prose(prose: str, fence: str, info: str) -> bool:
    """True if a fence ending a line of prose opens a block: it carries a language tag or follows
    a colon, and it does not close an inline code span (a run of as many backticks in the
    prose: ``Call ```f()``` ``) nor hide in a line that is a fence itself."""
    if not (info.strip() or prose.endswith(":")) or _FENCE_LINE.match(prose):
        return False
    return fence[0] == "~" or len(fence) not in {len(run) for run in re.findall(r"`+", prose)}


def _repair_at(lines: list[str], index: int) -> list[str]:
    """Put the opening fence of ``lines[index]`` at column 0 on a line of its own, and remove its
    indentation from its content and closing fence."""
    midline = _MIDLINE_OPENER.match(lines[index])
    if midline and not _FENCE_LINE.match(lines[index]):
        return lines[:index] + [midline["prose"], midline["fence"] + midline["info"]] + lines[index + 1 :]
    opener = _FENCE_LINE.match(lines[index])
    assert opener is not None
    indent, fence = opener["indent"], opener["fence"]
    closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
    end = next((i for i in range(index + 1, len(lines)) if closing.match(lines[i])), len(lines))
    body = [line[len(indent) :] if line.startswith(indent) else line.lstrip(" \t") for line in lines[index + 1 : end]]
    closer = [lines[end].strip()] if end < len(lines) else []
    return lines[:index] + [fence + opener["info"]] + body + closer + lines[end + 1 :]
