"""Fenced code blocks, property-based (hypothesis): whatever the fence (backticks or tildes, any
length, any info string, indented up to a list item's or block quote's depth, opened at the end
of a line of prose, unclosed) and whatever prose surrounds it, the code inside comes out of
harness.codetasks.extraction intact. CommonMark's rules: https://spec.commonmark.org/0.31.2/#fenced-code-blocks
"""

from __future__ import annotations

import ast
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.codetasks.extraction import extract_code
from harness.codetasks.fences import fenced_blocks

WORDS = ["Here", "is", "the", "code", "```x```", "``y``", "~~z~~", "solution", "it", "works", "for", "all", "inputs", "note", "`f(x)`", "**bold**", "_em_", "(see", "below)", "x", "=", "1", "#", "tests"]
LINE_STARTS = ["", "", "", "- ", "* ", "1. ", "> ", "## ", "  "]
INFOS = ["", "python", "py", "Python3", "python3", "python title=\"solution.py\"", "py {.numberLines}", "python3 linenums=\"1\""]

prose_line = st.builds(lambda start, words, end: start + " ".join(words) + end, st.sampled_from(LINE_STARTS), st.lists(st.sampled_from(WORDS), min_size=1, max_size=8), st.sampled_from(["", ".", ":", "!", "?"]))
prose = st.lists(prose_line, min_size=0, max_size=4).map("\n".join)
#: Text for a string literal in the code: backticks and tildes included.
literal = st.text(alphabet="`~ab #>-*\\'\"", max_size=12)


@st.composite
def fence(draw):
    """(opening fence, closing fence, info string) of one block: same character, the closing
    fence at least as long as the opening one."""
    char = draw(st.sampled_from("`~"))
    length = draw(st.integers(3, 7))
    closing = draw(st.integers(length, length + 3))
    return char * length, char * closing, draw(st.sampled_from(INFOS))


@st.composite
def program(draw, opening: str):
    """A program defining ``f`` whose every statement ``f`` needs, holding a string with
    backticks and tildes and, in a docstring, a fence line that cannot close ``opening`` (the
    other character, or the same one shorter)."""
    other = "~" if opening[0] == "`" else "`"
    inner = draw(st.sampled_from([other * draw(st.integers(3, 8)), opening[0] * (len(opening) - 1), opening + "python"]))
    text = draw(literal)
    blank = draw(st.sampled_from(["", "\n", "\n\n"]))
    return f'SUFFIX = {text!r}\n{blank}\ndef _helper(x):\n    """Doc.\n\n    {inner}\n    """\n    return str(x) + SUFFIX\n\n# the entry point\ndef f(x):\n{blank}    return _helper(x)\n'


def render(before: str, opening: str, closing: str | None, info: str, code: str, after: str, indent: int) -> str:
    pad = " " * indent
    parts = [before + "\n" if before else "", f"{pad}{opening}{info}\n", textwrap.indent(code, pad, lambda line: True)]
    if closing is not None:
        parts += [f"{pad}{closing}\n", after]
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(st.data(), fence(), prose, prose, st.integers(0, 3), st.booleans())
def test_fenced_code_comes_out_intact(data, fence_, before, after, indent, closed):
    opening, closing, info = fence_
    code = data.draw(program(opening))
    reply = render(before, opening, closing if closed else None, info, code, after, indent)
    extracted, decisions = extract_code(reply, "f")
    assert extracted == code, (reply, decisions)


@settings(max_examples=200, deadline=None)
@given(st.data(), fence(), st.sampled_from(["Here is the solution:", "Solution", "The code:", "Sure, here it is"]), prose)
def test_fence_opened_at_the_end_of_a_line_of_prose(data, fence_, lead, after):
    opening, closing, info = fence_
    info = info.split(" ")[0] or "python"
    code = data.draw(program(opening))
    reply = f"{lead} {opening}{info}\n{code}{closing}\n{after}"
    extracted, decisions = extract_code(reply, "f")
    assert extracted == code, (reply, decisions)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.lists(fence(), min_size=3, max_size=3), prose, st.integers(4, 7))
def test_helper_entry_point_and_usage_blocks(data, fences, between, indent):
    """Three blocks with independent fences: the helper and the entry point are kept, the usage
    dropped; the entry point's block is indented 4-7 spaces under a line of prose."""
    (o1, c1, i1), (o2, c2, i2), (o3, c3, i3) = fences
    helper = "def _helper(x):\n    return x * 2\n"
    entry = "def f(x):\n    return _helper(x) + 1\n"
    usage = "print(f(3))\nassert f(1) == 3\n"
    reply = render("First a helper:", o1, c1, i1, helper, "\n", 0) + render(between + "\nThen the function:", o2, c2, i2, entry, "\n", indent) + render("Usage:", o3, c3, i3, usage, "", 0)
    extracted, decisions = extract_code(reply, "f")
    assert ast.dump(ast.parse(extracted)) == ast.dump(ast.parse(helper + entry)), (reply, decisions)


@settings(max_examples=200, deadline=None)
@given(fence(), prose, st.integers(0, 3))
def test_a_block_never_ends_before_its_closing_fence(fence_, inside, indent):
    """CommonMark's closing rule on its own: the block's content is everything up to a fence of
    the same character at least as long as the opening one, whatever lines look like fences."""
    opening, closing, info = fence_
    other = "~" if opening[0] == "`" else "`"
    content = f"{inside}\n{other * 5}\n{opening[0] * (len(opening) - 1)}\n{opening}python\n"
    blocks = fenced_blocks(f"{' ' * indent}{opening}{info}\n{textwrap.indent(content, ' ' * indent)}{' ' * indent}{closing}\nafter\n")
    assert [b.code for b in blocks] == [content]
