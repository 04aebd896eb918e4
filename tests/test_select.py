"""Selection follows pytest's documented -k / -m semantics."""

import pytest

from harness.engine.selection import Expression, select
from harness.errors import UsageError
from harness.types import Sample


def samples():
    return [
        Sample("t", "sort_list", "", tags=("easy", "lists")),
        Sample("t", "sort_dict", "", tags=("hard",)),
        Sample("t", "Regex/1", "", tags=("easy", "strings")),
        Sample("t", "Regex/10", "", tags=("strings",)),
    ]


def ids(chosen):
    return [s.id for s in chosen]


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("sort", ["sort_list", "sort_dict"]),  # substring of the id
        ("SORT", ["sort_list", "sort_dict"]),  # case-insensitive, as pytest >= 5.4
        ("sort and not dict", ["sort_list"]),
        ("not sort", ["Regex/1", "Regex/10"]),
        ("regex/1", ["Regex/1", "Regex/10"]),  # substring, so /1 also matches /10
        ("easy", ["sort_list", "Regex/1"]),  # tags are keywords too
        ("dict or strings", ["sort_dict", "Regex/1", "Regex/10"]),
        ("not sort and easy or hard", ["sort_dict", "Regex/1"]),  # not > and > or
        ("not (sort and easy) and not Regex", ["sort_dict"]),
        ("t::sort", ["sort_list", "sort_dict"]),  # the node id is a keyword
        ("", ["sort_list", "sort_dict", "Regex/1", "Regex/10"]),
    ],
)
def test_keyword_expressions(expr, expected):
    assert ids(select(samples(), keyword=expr)) == expected


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("easy", ["sort_list", "Regex/1"]),
        ("eas", []),  # markers match exactly, never by substring
        ("easy and strings", ["Regex/1"]),
        ("not easy", ["sort_dict", "Regex/10"]),
        ("(hard or lists) and not strings", ["sort_list", "sort_dict"]),
    ],
)
def test_marker_expressions(expr, expected):
    assert ids(select(samples(), marker=expr)) == expected


def test_keyword_and_marker_combine():
    assert ids(select(samples(), keyword="regex", marker="easy")) == ["Regex/1"]


def test_node_ids_keep_the_given_order_and_a_bare_task_selects_all():
    assert ids(select(samples(), node_ids=["t::Regex/10", "t::sort_list"])) == ["Regex/10", "sort_list"]
    assert len(select(samples(), node_ids=["t"])) == 4


def test_unknown_node_id_is_reported():
    with pytest.raises(UsageError, match="not found: t::nope"):
        select(samples(), node_ids=["t::nope"])


def test_node_id_of_another_task_is_refused():
    with pytest.raises(UsageError, match="names task 'other'"):
        select(samples(), node_ids=["other::1"])


@pytest.mark.parametrize("bad", ["a and", "(a or b", "a b", "and", "not", "a )"])
def test_bad_expressions_name_the_column(bad):
    with pytest.raises(UsageError, match="column"):
        Expression(bad, "-k")
