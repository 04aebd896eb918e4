"""Hermes-style tool calls written as text (harness.dialog.hermes), and what each participant of
a dialog sees (harness.dialog.conversation)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from harness.dialog import Conversation, Turn, parse_tool_calls
from harness.dialog.hermes import format_tool_call, text_messages, tools_prompt
from harness.types import Message, ToolCall

NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
ARGUMENTS = st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4)
PROSE = st.text(max_size=40).filter(lambda t: "<tool_call>" not in t and "</tool_call>" not in t)


@given(prose=PROSE, calls=st.lists(st.tuples(NAMES, ARGUMENTS), min_size=1, max_size=4))
def test_written_calls_read_back_with_their_names_and_arguments(prose, calls):
    text = prose + "\n" + "\n".join(format_tool_call(ToolCall("", name, json.dumps(args))) for name, args in calls)
    rest, parsed = parse_tool_calls(text)
    assert rest == prose.strip()
    assert [(c.name, json.loads(c.arguments)) for c in parsed] == calls
    assert all(c.id == "" for c in parsed)


@given(st.text(max_size=60))
def test_any_text_parses_without_raising(text):
    rest, calls = parse_tool_calls(text)
    assert isinstance(rest, str)
    if "<tool_call>" not in text:
        assert calls == [] and rest == text.strip()


def test_one_block_may_hold_several_calls_and_parameters_is_read_as_arguments():
    _, calls = parse_tool_calls('<tool_call>{"name": "a", "arguments": {"x": 1}}\n{"name": "b", "parameters": {"y": 2}}</tool_call>')
    assert [(c.name, c.arguments) for c in calls] == [("a", '{"x": 1}'), ("b", '{"y": 2}')]


def test_tags_inside_json_strings_do_not_end_the_block():
    text = '<tool_call>{"name": "note", "arguments": {"text": "write </tool_call> or <tool_call>"}}</tool_call> after'
    rest, [call] = parse_tool_calls(text)
    assert rest == "after" and json.loads(call.arguments) == {"text": "write </tool_call> or <tool_call>"}


def test_string_arguments_are_kept_as_written():
    _, [call] = parse_tool_calls('<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>')
    assert call.arguments == '{"x": 1}'


def test_a_block_cut_off_or_broken_is_kept_as_a_call_with_its_raw_text():
    rest, [call] = parse_tool_calls('Sure.\n<tool_call>\n{"name": "create_task", "arguments": {"user_id": "u')
    assert rest == "Sure." and call.name == "create_task"
    assert call.arguments == '{"name": "create_task", "arguments": {"user_id": "u'
    _, [nameless] = parse_tool_calls("<tool_call>call create_task please</tool_call>")
    assert nameless.name == "" and nameless.arguments == "call create_task please"


def test_text_messages_write_calls_and_results_for_a_template_without_tools():
    messages = [
        Message("user", "hi"),
        Message("assistant", "Let me look.", [ToolCall("c1", "find", '{"q": "x"}')]),
        Message("tool", '{"found": true}', tool_call_id="c1", name="find"),
    ]
    user, assistant, result = text_messages(messages)
    assert user == Message("user", "hi")
    assert assistant.role == "assistant" and assistant.tool_calls is None
    assert parse_tool_calls(assistant.content) == ("Let me look.", [ToolCall("", "find", '{"q": "x"}')])
    assert result == Message("user", '<tool_response>\n{"found": true}\n</tool_response>')
    schema = {"type": "function", "function": {"name": "find", "description": "Find.", "parameters": {"type": "object"}}}
    assert '{"name": "find", "description": "Find."' in tools_prompt([schema])


def test_each_participant_sees_only_its_side():
    conversation = Conversation(
        [
            Turn(Message("assistant", "Hi!")),
            Turn(Message("user", "My phone has no signal.")),
            Turn(Message("assistant", None, [ToolCall("a1", "get_line", "{}")])),
            Turn(Message("tool", "line L1", tool_call_id="a1"), requestor="assistant"),
            Turn(Message("assistant", "Please toggle airplane mode.")),
            Turn(Message("user", None, [ToolCall("u1", "toggle_airplane_mode", "{}")])),
            Turn(Message("tool", "Airplane mode off", tool_call_id="u1"), requestor="user"),
        ]
    )
    assert conversation.next_party() == "user"
    agent = conversation.agent_view()
    assert [m.role for m in agent] == ["assistant", "user", "assistant", "tool", "assistant"]
    user = conversation.user_view()
    assert [(m.role, m.content) for m in user] == [
        ("user", "Hi!"),
        ("assistant", "My phone has no signal."),
        ("user", "Please toggle airplane mode."),
        ("assistant", None),
        ("tool", "Airplane mode off"),
    ]
    assert user[3].tool_calls[0].name == "toggle_airplane_mode"
    assert Conversation.from_list(conversation.to_list()) == conversation


async def test_native_requests_send_text_beside_tool_calls_never_null():
    """llama.cpp's Jinja chat templates concatenate contents and fail on null (tau2-mock's
    histories hold assistant tool calls without text)."""
    from harness.backend import Backend
    from harness.context import Budget, SampleContext
    from harness.dialog import take_turn
    from harness.types import Completion, Usage

    class Recorder(Backend):
        scheme = "recorder"
        features = frozenset({"tools"})
        requests: list = []

        async def complete(self, request):
            self.requests.append(request)
            return Completion(Message("assistant", "ok"), Usage(1, 1), "m")

    backend = Recorder("recorder:x", None)
    model = SampleContext(backends={"default": backend}, sandbox=None, budget=Budget()).llm()
    history = [Message("user", "hi"), Message("assistant", None, [ToolCall("c1", "f", "{}")]), Message("tool", "done", tool_call_id="c1")]
    schema = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    reply = await take_turn(model, "Be brief.", history, [schema], max_tokens=8)
    [request] = backend.requests
    assert reply == Message("assistant", "ok") and request.tools == [schema] and request.tool_choice == "auto"
    assert [m.content for m in request.messages] == ["Be brief.", "hi", "", "done"]
    assert request.messages[2].tool_calls == [ToolCall("c1", "f", "{}")]
