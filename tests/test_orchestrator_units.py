"""System orchestrator, unit by unit: the experts roster, preferences, options, the tau2 policy
rewrite, the dialog tools; and what the core gives it: roles with their own backends and
prices (`System.role_backends`, `System.role_prices`), a role charged at its own price."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path

import pytest
from conftest import TEST_PLUGINS
from harness_orchestrator import Orchestrator
from harness_orchestrator.calls import arguments
from harness_orchestrator.options import parse_settings
from harness_orchestrator.preferences import parse_preferences
from harness_orchestrator.prompts import (
    TRANSFER_TOOL,
    dialog_prompt,
    dialog_tools,
    replace_transfers,
)
from harness_orchestrator.roster import parse_roster
from hypothesis import given
from hypothesis import strategies as st

from harness import ConfigError, Message, TokenPrice, ToolCall, Usage
from harness.backend import Backend, Model, RoleMeter
from harness.config import Config
from harness.plugins import load_plugins
from harness.resources import check_prices, resolve_backends
from harness.types import Completion

NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,12}", fullmatch=True)
SPECS = st.from_regex(r"[a-z]{1,8}:[A-Za-z0-9_.?=&/-]{1,16}", fullmatch=True)


# --- the roster -----------------------------------------------------------------------------


def test_roster_from_the_option_text_names_each_expert_and_its_role():
    experts = parse_roster("small=llamacpp:smollm2,gpt4o,dialog:create?tools=1")
    assert [(e.name, e.backend, e.role) for e in experts] == [
        ("small", "llamacpp:smollm2", "expert-small"),
        ("gpt4o", "gpt4o", "expert-gpt4o"),  # a models-table name is its own name
        ("create", "dialog:create?tools=1", "expert-create"),  # a spec is named after what follows its scheme
    ]
    assert all(e.price is None and e.latency is None for e in experts)


@given(pairs=st.lists(st.tuples(NAMES, SPECS), min_size=1, max_size=5, unique_by=lambda p: p[0]))
def test_roster_text_reads_back_every_name_and_spec_in_order(pairs):
    text = ",".join(f"{name}={spec}" for name, spec in pairs)
    assert [(e.name, e.backend) for e in parse_roster(text)] == pairs


def test_roster_tables_carry_descriptions_prices_and_latencies():
    [big, small] = parse_roster({
        "big": {"backend": "openai:gpt-5", "description": "strong;\n slow", "input_price": 1.25, "output_price": 10, "latency": 30},
        "small": {"backend": "llamacpp:smollm2"},
    })  # fmt: skip
    assert big.price == TokenPrice(1.25, 10.0) and big.latency == 30.0 and big.description == "strong; slow"
    assert small.price is None and small.describe()["input_price"] is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a b=llamacpp:smollm2", "expert name 'a b' may hold only letters"),
        ("x=llamacpp:smollm2,x=openai:gpt-4o", "two experts are named 'x'"),
        ("x=", "names no backend"),
        ({"x": {"description": "no backend"}}, 'needs backend = "SPEC"'),
        ({"x": {"backend": "a:b", "model": "m"}}, "unknown key(s) ['model']; known: backend, description, input_price, output_price, latency"),
        ({"x": {"backend": "a:b", "input_price": 1.0}}, "give both input_price and output_price"),
        ({"x": {"backend": "a:b", "input_price": "cheap", "output_price": 1}}, "input_price = 'cheap' is not a number"),
        ({"x": {"backend": "a:b", "input_price": True, "output_price": 1}}, "input_price = True is not a number"),
        ({"x": {"backend": "a:b", "latency": -1}}, "latency = -1: give 0 or more"),
        ({"x": {"backend": "a:b", "description": ["list"]}}, "description must be text"),
        ({"x": "a:b"}, "give a table [systems.orchestrator.experts.x]"),
        (3, "experts must be NAME=SPEC"),
    ],
)
def test_bad_rosters_are_refused_with_the_fix(value, message):
    with pytest.raises(ConfigError) as caught:
        parse_roster(value)
    assert message in str(caught.value)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


@given(value=JSON, raw=st.text(max_size=30))
def test_call_arguments_are_read_or_answered_with_an_error_never_a_crash(value, raw):
    for text in (json.dumps(value), raw):
        result = arguments(ToolCall("c", "run_python", text), {"code": "a Python program"})
        try:
            parsed = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            assert isinstance(result, str) and result.startswith("Error: the arguments of run_python are not valid JSON")
            continue
        if isinstance(parsed, dict) and isinstance(parsed.get("code"), str):
            assert result == parsed
        else:
            assert isinstance(result, str) and result.startswith("Error:") and "run_python" in result


# --- preferences and options ----------------------------------------------------------------


def test_preferences_presets_and_weights_are_normalized_and_rendered():
    assert parse_preferences({}).describe() == {"prefer": "accuracy", "w_acc": 1.0, "w_cost": 0.0, "w_lat": 0.0}
    assert parse_preferences({"prefer": "cost"}).describe() == {"prefer": "cost", "w_acc": 0.5, "w_cost": 0.5, "w_lat": 0.0}
    weighted = parse_preferences({"w_acc": "2", "w_lat": "2"})
    assert (weighted.accuracy, weighted.cost, weighted.latency, weighted.preset) == (0.5, 0.0, 0.5, None)
    assert "a correct result counts 50%, a low cost 0%, a short wait 50%" in weighted.render()
    assert "Cost and time do not matter" in parse_preferences({"prefer": "accuracy"}).render()


@given(weights=st.tuples(*[st.floats(0, 1e6, allow_nan=False)] * 3).filter(lambda w: sum(w) > 1e-3))
def test_weights_keep_their_proportions(weights):
    prefs = parse_preferences(dict(zip(("w_acc", "w_cost", "w_lat"), map(str, weights), strict=True)))
    assert prefs.accuracy + prefs.cost + prefs.latency == pytest.approx(1.0, abs=2e-4)
    for share, weight in zip((prefs.accuracy, prefs.cost, prefs.latency), weights, strict=True):
        assert share == pytest.approx(weight / sum(weights), abs=1e-4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prefer": "speed"}, "prefer='speed'; choose accuracy, cost, latency"),
        ({"prefer": "cost", "w_acc": "1"}, "give prefer= or the weights w_acc, not both"),
        ({"w_acc": "0", "w_cost": "0"}, "are all 0"),
        ({"w_cost": "-1"}, "w_cost=-1.0: give a weight of 0 or more"),
        ({"w_lat": "fast"}, "w_lat='fast' is not a number"),
        ({"max_turn": "3"}, "unknown --system-opt ['max_turn']; known: experts, route, max_turns"),
        ({"max_turns": "0"}, "max_turns='0': give a number above 0"),
        ({"max_tokens": "many"}, "max_tokens='many' is not a whole number"),
        ({"anonymise": "maybe"}, "anonymise='maybe'; give true or false"),
        ({"experts": "a=x:y", "route": "always:b"}, "route='always:b'; give route=orchestrate or route=always:NAME with NAME one of the experts (a)"),
        ({"route": "always:a"}, "none given: add experts="),
        ({"route": "sometimes"}, "route='sometimes'"),
    ],
)
def test_bad_options_are_refused_with_the_fix(options, message):
    with pytest.raises(ConfigError) as caught:
        parse_settings(options)
    assert message in str(caught.value)


def test_the_systems_roles_backends_and_prices_follow_its_experts():
    experts = {"big": {"backend": "gpt5", "input_price": 1.25, "output_price": 10}, "small": {"backend": "llamacpp:smollm2"}}
    system = Orchestrator({"experts": experts})
    assert system.roles == ("orchestrator", "expert-big", "expert-small")
    assert dict(system.role_backends) == {"expert-big": "gpt5", "expert-small": "llamacpp:smollm2"}
    assert dict(system.role_prices) == {"expert-big": TokenPrice(1.25, 10.0)}
    assert [e["shown_as"] for e in system.describe()["resolved"]["experts"]] == ["expert-1", "expert-2"]
    routed = Orchestrator({"experts": experts, "route": "always:small"})
    assert routed.roles == ("expert-small",) and dict(routed.role_backends) == {"expert-small": "llamacpp:smollm2"}
    assert not routed.role_prices  # the unused expert's price is no part of the run
    named = parse_settings({"experts": "big=gpt5", "anonymise": "false"})
    assert named.alias(named.experts[0]) == "big"
    assert Orchestrator({}).roles == ("orchestrator",)  # no experts: it may still run code and answer


# --- dialog tasks: the policy and the tools ------------------------------------------------------

_TRANSFER = re.compile(r"transfer_to_human_agents|\b(?:transfer|escalat)\w*\b[^.\n]*?\bhuman agents?\b", re.IGNORECASE)


def _policies() -> dict[str, str]:
    import tau2

    root = Path(tau2.__file__).parent / "data" / "tau2" / "domains"
    files = ["airline/policy.md", "retail/policy.md", "mock/policy.md", "telecom/main_policy.md", "telecom/tech_support_manual.md", "telecom/tech_support_workflow.md"]
    return {name: (root / name).read_text() for name in files}


@pytest.mark.parametrize("name", list(_policies()))
def test_each_tau2_policy_loses_its_transfers_and_gains_the_expert_policy(name):
    policy = _policies()[name]
    rewritten, cut = replace_transfers(policy, "<<EXPERTS>>")
    assert cut >= 1 and rewritten.count("<<EXPERTS>>") == 1
    assert not _TRANSFER.search(rewritten)
    untouched = [line for line in policy.split("\n") if not _TRANSFER.search(line)]
    assert [line for line in rewritten.split("\n") if "<<EXPERTS>>" not in line] == untouched  # every other line kept, in order


def test_a_transfer_sentence_after_another_sentence_keeps_the_first():
    rewritten, cut = replace_transfers("Rules:\n4. You are not allowed to delete tasks. You should transfer the a human agent.\nEnd.", "Ask an expert.")
    assert cut == 1 and rewritten == "Rules:\n4. You are not allowed to delete tasks. Ask an expert.\nEnd."
    text, cut = replace_transfers("- First call transfer_to_human_agents.\n- Then say goodbye.\n- Escalate to a human agent when stuck.", "X")
    assert (text, cut) == ("- X\n- Then say goodbye.", 2)  # later ones are dropped, with their bullet


LINES = st.lists(st.text(st.characters(codec="ascii", exclude_characters="\n\r"), max_size=40).filter(lambda t: not _TRANSFER.search(t)), max_size=6)


@given(before=LINES, after=LINES, lead=st.sampled_from(["", "Note: done. ", "- ", "3. "]))
def test_only_the_transfer_sentence_changes(before, after, lead):
    text = "\n".join([*before, lead + "Transfer the user to a human agent if asked.", *after])
    rewritten, cut = replace_transfers(text, "CALL AN EXPERT.")
    assert cut == 1
    assert rewritten == "\n".join([*before, lead + "CALL AN EXPERT.", *after])


def test_dialog_tools_swap_the_transfer_for_call_expert_and_instructions_get_the_expert_policy():
    settings = parse_settings({"experts": "a=x:y,b=x:z", "prefer": "latency"})
    domain = [{"type": "function", "function": {"name": n, "description": "", "parameters": {"type": "object", "properties": {}}}} for n in ("create_task", TRANSFER_TOOL)]
    tools = dialog_tools(domain, settings, {"expert-a": TokenPrice(1, 2), "expert-b": None})
    assert [t["function"]["name"] for t in tools] == ["create_task", "call_expert"]
    expert = tools[-1]["function"]["parameters"]["properties"]["expert"]
    assert expert["enum"] == ["expert-1", "expert-2"]
    assert "expert-1 | $1 | $2 | unknown" in expert["description"] and "expert-2 | not priced | not priced | unknown" in expert["description"]
    prompt = dialog_prompt("<policy>\nYou should transfer the user to a human agent if needed.\n</policy>", settings)
    assert "call_expert" in prompt and "human agent" not in prompt and "a short wait 50%" in prompt
    assert dialog_prompt("No transfers here.", settings).startswith("No transfers here.\n\nWhen you are not sure")


# --- the core: roles with their own backends and prices --------------------------------------


class _Fixed(Backend):
    scheme = "fixed"

    def __init__(self, spec, config, price=None):
        super().__init__(spec, config)
        self.price = price

    def token_price(self):
        return self.price

    async def complete(self, request):
        return Completion(Message("assistant", "ok"), Usage(1000, 200), "m", "stop", cost=123.0, latency=0.5)


def test_a_role_with_its_own_price_is_charged_at_it_whatever_the_backend_says():
    meter, transcript = RoleMeter(), []
    model = Model(_Fixed("fixed:a", None), "expert-a", meter, transcript, lambda call: None, TokenPrice(2.0, 8.0))
    completion = asyncio.run(model.complete([Message("user", "hi")]))
    assert completion.cost == pytest.approx((1000 * 2.0 + 200 * 8.0) / 1e6)
    assert meter.cost == pytest.approx(0.0036) and transcript[-1]["cost"] == pytest.approx(0.0036) and meter.latency == 0.5
    plain = Model(_Fixed("fixed:a", None), "default", RoleMeter(), [], lambda call: None)
    assert asyncio.run(plain.complete([Message("user", "hi")])).cost == 123.0  # the backend's own cost


def test_two_prices_for_one_model_are_refused():
    backends = {"default": _Fixed("fixed:a", None), "expert-a": _Fixed("gpt5", None, TokenPrice(1.25, 10.0))}
    assert check_prices(backends, {"expert-a": TokenPrice(1.25, 10.0)}) == {"expert-a": TokenPrice(1.25, 10.0)}  # the same price twice is one price
    with pytest.raises(ConfigError) as caught:
        check_prices(backends, {"expert-a": TokenPrice(1.0, 10.0)})
    assert "role expert-a: two prices for one model" in str(caught.value) and "gpt5 says $1.25/$10.0" in str(caught.value)


def test_a_role_uses_its_preset_backend_unless_role_gives_another(monkeypatch):
    monkeypatch.syspath_prepend(str(TEST_PLUGINS))
    config = Config(argparse.Namespace(), load_plugins(extra=["harness_test_orchestrator_scripted"]))
    roles = {"orchestrator": "system orchestrator", "expert-a": "system orchestrator", "user": "task tau2-mock"}
    backends = resolve_backends("orch:answer", None, config, roles, {"expert-a": "orch:solver", "expert-gone": "orch:x"})
    assert {role: b.spec for role, b in backends.items()} == {"default": "orch:answer", "expert-a": "orch:solver"}
    overridden = resolve_backends("orch:answer", ["expert-a=orch:solver?price=1/2"], config, roles, {"expert-a": "orch:solver"})
    assert overridden["expert-a"].spec == "orch:solver?price=1/2"
    same = resolve_backends("orch:solver", None, config, roles, {"expert-a": "orch:solver"})
    assert same["expert-a"] is same["default"]  # one spec, one backend (one server)
