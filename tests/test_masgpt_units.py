"""System masgpt, unit by unit: options, the program in the designer's reply, the design cache,
the per-sample budget and the order in which a run's end is judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness_masgpt.cache import ProgramCache, design_key
from harness_masgpt.design import last_python_block
from harness_masgpt.execute import STATUSES, AgentBridge, Budget, judge
from harness_masgpt.options import parse_settings
from harness_masgpt.prompt import DESIGNER_PROMPT, FALLBACK_PROGRAM
from hypothesis import given
from hypothesis import strategies as st

from harness import ConfigError


def test_defaults_are_mas_gpts():
    settings = parse_settings({})
    assert (settings.design, settings.fallback, settings.max_tokens, settings.temperature) == ("cached", "builtin", 4096, 0.0)
    assert settings.agent_max_tokens == 2048 and settings.timeout == 600.0 and settings.prompt == DESIGNER_PROMPT
    described = settings.describe()
    assert described["prompt_sha256"] == settings.prompt_sha256 and "prompt" not in described
    json.dumps(described)


def test_prompt_file_replaces_our_prompt(tmp_path):
    prompt = tmp_path / "masgpt_prompt.txt"
    prompt.write_text("You are an expert in generating multi-agent systems.")
    settings = parse_settings({"prompt_file": str(prompt)})
    assert settings.prompt == prompt.read_text() and settings.prompt_sha256 != parse_settings({}).prompt_sha256


@pytest.mark.parametrize(
    ("options", "complaint"),
    [({"design": "twice"}, "use one of cached, fresh, only"), ({"fallback": "sc"}, "use one of builtin, none"),
     ({"max_calls": "0"}, "whole number >= 1"), ({"timeout": "-1"}, "number > 0"), ({"temperature": "hot"}, "number >= 0"),
     ({"prompt_file": "/nonexistent/p.txt"}, "not a readable file"), ({"program": "/nonexistent/p.py"}, "not a readable file"),
     ({"speed": "fast"}, "unknown --system-opt"), ({"max_sample_cost": "0"}, "number > 0")],
)
def test_bad_options_name_the_fix(options, complaint):
    with pytest.raises(ConfigError, match=complaint):
        parse_settings(options)


def test_a_given_program_cannot_be_design_only(tmp_path):
    program = tmp_path / "p.py"
    program.write_text(FALLBACK_PROGRAM)
    with pytest.raises(ConfigError, match="drop design=only"):
        parse_settings({"program": str(program), "design": "only"})
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    with pytest.raises(ConfigError, match="is empty"):
        parse_settings({"prompt_file": str(empty)})


def test_the_program_is_the_last_python_block():
    reply = "Plan:\n```python\nfirst = 1\n```\nThen:\n```bash\nls\n```\n```py\nsecond = 2\n```\nDone."
    assert last_python_block(reply) == "second = 2"
    assert last_python_block("1. Code:\n   ```python\n   x = 1\n   ```\n") == "x = 1", "blocks inside lists count"
    assert last_python_block("```\nuntagged = 1\n```") is None, "MAS-GPT takes only python-tagged blocks"
    assert last_python_block("no code at all") is None
    assert last_python_block("```python\ncut = [1,\n") == "cut = [1,", "an unclosed last fence runs to the end (CommonMark)"
    assert last_python_block("```python\r\na = 1\r\n```\r\n") == "a = 1"


@given(st.lists(st.from_regex(r"[a-z]{1,8} = [0-9]{1,3}", fullmatch=True), min_size=1, max_size=5), st.text(alphabet="abc \n.:", max_size=30))
def test_the_last_of_any_number_of_blocks_with_prose_around(codes, prose):
    reply = "".join(f"{prose}\n```python\n{code}\n```\n" for code in codes) + prose
    assert last_python_block(reply) == codes[-1]


def test_the_fallback_program_is_a_mas():
    namespace = {"LLM": lambda model_list: None}
    exec(FALLBACK_PROGRAM.replace("from utils import *", ""), namespace)
    assert callable(namespace["MAS"].forward)


def test_design_keys_separate_what_changes_the_design(tmp_path):
    base = design_key("llamacpp:smollm2", "p" * 64, "query", 4096, 0.0)
    assert base == design_key("llamacpp:smollm2", "p" * 64, "query", 4096, 0.0)
    others = [design_key("openai:x", "p" * 64, "query", 4096, 0.0), design_key("llamacpp:smollm2", "q" * 64, "query", 4096, 0.0),
              design_key("llamacpp:smollm2", "p" * 64, "query ", 4096, 0.0), design_key("llamacpp:smollm2", "p" * 64, "query", 512, 0.0),
              design_key("llamacpp:smollm2", "p" * 64, "query", 4096, 0.5)]
    assert len({base, *others}) == 6
    cache = ProgramCache(tmp_path / "c")
    assert cache.load(base) is None
    cache.store(base, {"reply": "lone \ud800 surrogate", "usage": {}})
    assert cache.load(base)["reply"] == "lone \ud800 surrogate"
    cache.path(base).write_text("{truncated")
    assert cache.load(base) is None, "a damaged entry is designed again"
    assert not list((tmp_path / "c").glob("*.tmp"))


def test_the_budget_says_which_limit_was_reached():
    budget = Budget(max_calls=3, max_tokens=100, max_cost=0.01)
    assert budget.spent(2, 99, 0.0) is None
    assert "max_calls" in budget.spent(3, 0, 0.0)
    assert "max_sample_tokens" in budget.spent(1, 100, 0.0)
    assert "max_sample_cost" in budget.spent(1, 0, 0.02)


def test_a_run_is_judged_budget_first_then_time_then_the_report():
    bridge = AgentBridge(ctx=None, budget=Budget(1), max_tokens=8)
    bridge.report = {"status": "exception", "detail": "Traceback"}
    assert judge(bridge, timed_out=False, exit_code=0, oom=False, stderr="") == ("exception", "Traceback")
    assert judge(bridge, timed_out=True, exit_code=-9, oom=False, stderr="")[0] == "timeout"
    bridge.exhausted = "3 agent calls made"
    assert judge(bridge, timed_out=True, exit_code=-9, oom=False, stderr="") == ("budget_exhausted", "3 agent calls made")
    silent = AgentBridge(ctx=None, budget=Budget(1), max_tokens=8)
    assert judge(silent, timed_out=False, exit_code=-9, oom=True, stderr="MemoryError")[1].startswith("out of memory")
    assert judge(silent, timed_out=False, exit_code=3, oom=False, stderr="")[0] == "exited"
    assert set(STATUSES) >= {"answered", "no_code_block", "syntax_error", "no_mas", "no_forward", "exception", "timeout", "budget_exhausted", "none_answer"}


def test_the_designer_prompt_describes_the_template_and_every_helper():
    for name in ["from utils import *", "class MAS", "def __init__(self, model_list)", "def forward(self, taskInfo)", "call_llm",
                 "execute_code", "test_code_get_feedback", "get_function_signature", "get_test_cases", "extract_code_solution",
                 "generate_and_extract_code", "extract_code(", "parse_to_json"]:
        assert name in DESIGNER_PROMPT, name
    assert Path(__file__).resolve().parent.joinpath("data", "masgpt", "every_helper.py").is_file()


def test_paths_are_recorded_absolute(tmp_path, monkeypatch):
    from harness_masgpt import MasGpt

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.py").write_text(FALLBACK_PROGRAM)
    system = MasGpt({"program": "p.py", "cache_dir": "cache"})
    assert system.options == {"program": str(tmp_path / "p.py"), "cache_dir": str(tmp_path / "cache")}
    assert system.describe()["resolved"]["program"] == str(tmp_path / "p.py")
