"""System ``sop``: JSON repair, lenient documents, examples from task statements, options."""

from __future__ import annotations

import pytest
from harness_sop.documents import PRD, SystemDesign, TaskList
from harness_sop.examples import entry_point_from_asserts, from_asserts, from_docstring
from harness_sop.options import ROLE_ORDER, parse_settings
from harness_sop.repair import RepairError, parse_json
from harness_sop.structured import read_document

from harness.errors import ConfigError

GOOD = {"a": [1, 2], "b": "x"}

MALFORMED = [
    ('{"a": [1, 2], "b": "x"}', GOOD, []),
    ('```json\n{"a": [1, 2], "b": "x"}\n```', GOOD, ["code fence"]),
    ('Sure, here it is: {"a": [1, 2], "b": "x"} Hope this helps!', GOOD, ["text around the JSON"]),
    ("{\u201ca\u201d: [1, 2], \u201cb\u201d: \u201cx\u201d}", GOOD, ["smart quotes"]),
    ('{"a": [1, 2], // the numbers\n "b": "x"}', GOOD, ["comments"]),
    ('{"a": [1, 2], "b": "line one\nline two"}', {"a": [1, 2], "b": "line one\nline two"}, ["raw newlines in strings"]),
    ('{"a": [1, 2,], "b": "x",}', GOOD, ["trailing commas"]),
    ("{'a': [1, 2], 'b': 'x', 'c': True, 'd': None}", GOOD | {"c": True, "d": None}, ["python literal"]),
    ('{a: [1, 2], b: "x"}', GOOD, ["unquoted keys"]),
    ('{"a": [1, 2], "b": "x', GOOD, ["truncated document"]),
    ('{"a": [1, 2], "b": "x", "c": [{"d": "e', GOOD | {"c": [{"d": "e"}]}, ["truncated document"]),
    ('{"a": [1, 2], "b": "x", "c":', GOOD | {"c": None}, ["truncated document"]),
    ('{"a": [1, 2], "b": "x", "c"', GOOD | {"c": None}, ["truncated document"]),
    ('{"a": [1, 2], "b": "x", ', GOOD, ["truncated document"]),
    ("```json\n{'a': [1, 2], 'b': 'x',}\n```", GOOD, ["code fence", "python literal"]),
    # seen from SmolLM2 under guided decoding: a fence and prose inside a string, cut by max_tokens
    ('{"l": [{"f": "t.py"}], "t": [ "]}\n```\n\nThe code is", "and more', {"l": [{"f": "t.py"}], "t": ["]}\n```\n\nThe code is", "and more"]},
     ["raw newlines in strings", "truncated document"]),
]


@pytest.mark.parametrize(("text", "value", "repairs"), MALFORMED)
def test_json_repairs(text: str, value: object, repairs: list[str]) -> None:
    parsed, applied = parse_json(text)
    assert parsed == value
    assert all(r in applied for r in repairs), applied


@pytest.mark.parametrize("text", ["", "I do not know.", "[CONTENT]\n[/CONTENT]", "{{{{"])
def test_hopeless_text_raises(text: str) -> None:
    with pytest.raises(RepairError, match="not JSON"):
        parse_json(text)


def test_tagged_document_with_missing_close_tag_and_odd_keys() -> None:
    reply = (
        'Here: [CONTENT]\n{"Goals": "win\\nhave fun", "User Stories": ["as a player I guess"], "unclear_points": null,'
        ' "Requirement Pool": ["must run", {"requirement": "fast", "priority": "P2"}], "requirement_analysis": ["a", "b"]}'
    )
    prd, repairs = read_document(reply, PRD)
    assert isinstance(prd, PRD)
    assert prd.goals == ["win", "have fun"] and prd.user_stories == ["as a player I guess"]
    assert [(r.requirement, r.priority) for r in prd.requirement_pool] == [("must run", "P1"), ("fast", "P2")]
    assert prd.unclear_points == [] and prd.requirement_analysis == "a\nb"
    assert "missing [/CONTENT] tag" in repairs
    assert any("key 'User Stories'" in r for r in repairs) and any("bare string" in r for r in repairs)


def test_wrapped_and_listed_documents_are_unwrapped() -> None:
    design, repairs = read_document('{"SystemDesign": {"file_list": {"main.py": "entry"}, "program_call_flow": 3}}', SystemDesign)
    assert design.file_list == ["main.py: entry"] and design.program_call_flow == "3"
    tasks, more = read_document('[{"task_list": "- a.py\\n- b.py", "logic_analysis": "a.py does it"}]', TaskList)
    assert tasks.task_list == ["a.py", "b.py"] and tasks.logic_analysis[0].logic == "a.py does it"
    assert repairs and more


def test_guidance_schema_requires_every_field_but_parsing_does_not() -> None:
    schema = PRD.guidance_schema()
    assert set(schema["required"]) == set(PRD.model_fields)
    assert set(schema["$defs"]["RequirementItem"]["required"]) == {"requirement", "priority"}
    assert schema["properties"]["goals"]["maxItems"] == 3
    assert PRD.parse({})[0] == PRD()


def test_examples_from_humaneval_docstrings() -> None:
    prompt = '''def f(x: int) -> int:
    """ Double it.
    >>> f(2)
    4
    >>> f(-1)
    -2
    f(3) ➞ 6
    f(n) returns twice n
    19 - 5 = 14
    """
'''
    assert [(e.call, e.expected) for e in from_docstring(prompt, "f")] == [("f(2)", "4"), ("f(-1)", "-2"), ("f(3)", "6")]


def test_examples_and_entry_point_from_mbpp_asserts() -> None:
    prompt = "Write a function.\n\nassert set(shared((1, 2), (2, 3))) == set((2,))\nassert is_ok(3)\n"
    assert entry_point_from_asserts(prompt) == "shared"
    assert [(e.call, e.expected) for e in from_asserts(prompt)] == [("set(shared((1, 2), (2, 3)))", "set((2,))"), ("is_ok(3)", "True")]


def test_settings_defaults_and_ablations() -> None:
    assert parse_settings({}).roles == ROLE_ORDER
    settings = parse_settings({"roles": "qa_engineer, engineer", "feedback": "off", "max_fix_rounds": "0", "max_rounds": "4", "max_tokens": "64", "temperature": "0.5"})
    assert settings.roles == ("engineer", "qa_engineer") and not settings.feedback
    assert (settings.max_fix_rounds, settings.max_rounds, settings.max_tokens, settings.temperature) == (0, 4, 64, 0.5)
    assert settings.describe()["roles"] == ["engineer", "qa_engineer"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rounds": "3"}, r"unknown --system-opt \['rounds'\]; known: .*max_rounds"),
        ({"roles": "architect,qa_engineer"}, "needs the engineer"),
        ({"roles": "engineer,tester"}, r"unknown role\(s\) \['tester'\]"),
        ({"feedback": "maybe"}, "use on or off"),
        ({"max_fix_rounds": "-1"}, "whole number >= 0"),
        ({"max_rounds": "0"}, "whole number >= 1"),
        ({"max_tokens": "lots"}, "whole number >= 1"),
        ({"temperature": "hot"}, "number >= 0"),
    ],
)
def test_bad_options_name_the_fix(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(options)
