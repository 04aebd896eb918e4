"""The helper library shipped into the sandbox as `utils` (plugins/harness_masgpt/sandboxed/utils.py),
unit by unit on the host. Its model calls are served here by a thread speaking the bridge's
protocol on pipes (the real bridge and model are exercised in tests/test_masgpt_sandbox.py)."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from harness_masgpt.sandboxed import utils

API = ["LLM", "execute_code", "test_code_get_feedback", "get_function_signature", "get_test_cases", "extract_code_solution",
       "generate_and_extract_code", "extract_code", "parse_to_json", "websearch"]


class FakeHarness:
    """Answers call_llm requests on pipes with scripted replies (or errors), recording them."""

    def __init__(self, monkeypatch, replies, batch=1):
        self.replies = list(replies)
        self.batch = batch  # requests collected before replying, last one first
        self.requests = []
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        monkeypatch.setenv(utils.RPC_ENV, f"{req_w},{rep_r}")
        monkeypatch.setattr(utils, "_BRIDGE", None)
        self.thread = threading.Thread(target=self.serve, args=(req_r, rep_w), daemon=True)
        self.thread.start()

    def serve(self, req_r, rep_w):
        with open(req_r, "rb") as requests, open(rep_w, "wb", buffering=0) as replies:
            waiting = []
            for line in requests:
                request = json.loads(line)
                self.requests.append(request)
                waiting.append(request)
                if len(waiting) < self.batch:
                    continue
                for request in reversed(waiting):
                    reply = self.replies.pop(0) if self.replies else {"error": {"type": "budget", "message": "no more"}}
                    if callable(reply):
                        reply = reply(request)
                    replies.write(json.dumps({"id": request["id"], **reply}).encode() + b"\n")
                waiting = []


def test_a_star_import_gives_every_name_of_the_api_and_the_usual_modules():
    namespace = {}
    exec("from harness_masgpt.sandboxed.utils import *", namespace)
    assert set(API) <= set(namespace)
    assert {"json", "re", "os", "random", "math"} <= set(namespace), "generated programs use these without importing them"


def test_call_llm_sends_one_user_prompt_and_returns_the_text_without_think(monkeypatch):
    harness = FakeHarness(monkeypatch, [{"result": "<think>hmm</think>  Paris \n"}])
    llm = utils.LLM([("m", "url", "key")])
    assert llm.call_llm("Capital of France?") == "Paris"
    assert harness.requests == [{"id": 1, "method": "call_llm", "params": {"prompt": "Capital of France?", "temperature": 0.5}}]
    assert llm.model_list == [("m", "url", "key")]


def test_call_llm_raises_past_the_budget_and_except_exception_does_not_hide_it(monkeypatch):
    FakeHarness(monkeypatch, [{"error": {"type": "budget", "message": "budget exhausted: 3 calls"}}])
    llm = utils.LLM([])
    with pytest.raises(utils.BudgetExhausted, match="3 calls"):
        try:
            llm.call_llm("again")
        except Exception:  # what generated programs write
            pytest.fail("BudgetExhausted must not be an Exception")


def test_call_llm_from_many_threads_gets_each_its_own_reply(monkeypatch):
    harness = FakeHarness(monkeypatch, [lambda request: {"result": "answer to " + request["params"]["prompt"]}] * 8, batch=8)
    llm = utils.LLM([])
    results = {}

    def ask(i):
        results[i] = llm.call_llm(f"q{i}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {i: f"answer to q{i}" for i in range(8)}
    assert sorted(r["id"] for r in harness.requests) == list(range(1, 9))


def test_without_a_bridge_the_library_says_where_it_works(monkeypatch):
    monkeypatch.delenv(utils.RPC_ENV, raising=False)
    monkeypatch.setattr(utils, "_BRIDGE", None)
    with pytest.raises(utils.HarnessStop, match="only works inside the harness's sandbox"):
        utils.LLM([]).call_llm("x")


def test_execute_code_reports_output_prints_errors_and_timeouts():
    ok = utils.execute_code("import math\nprint('hi')\noutput = math.factorial(5)")
    assert ok == "Final output: 120\nPrint during execution:\nhi"
    assert utils.execute_code("x = 1").startswith("Final output: None")
    error = utils.execute_code("a = [1]\nb = 2\noutput = a[3]")
    assert error.startswith("Error during code execution:\nIndexError") and "at line 3 of the code: output = a[3]" in error
    assert "SyntaxError" in utils.execute_code("def f(:\n  pass")
    started = time.monotonic()
    assert utils.execute_code("while True: pass", timeout=1).startswith("Execution Time Out")
    assert time.monotonic() - started < 5
    assert utils.execute_code("") == "Empty code. No output."
    assert "Final output: None" in utils.execute_code("import os\nos.system('true')")


def test_execute_code_kills_what_the_code_started():
    marker = f"sleep {time.time() % 1000 + 3000:.3f}"
    utils.execute_code(f"import subprocess\nsubprocess.Popen(['sh', '-c', '{marker}'])\nwhile True: pass", timeout=1)
    out = os.popen("ps -eo args").read()
    assert marker not in out


def test_test_code_get_feedback_counts_and_explains():
    code = "def add(a, b):\n    return a + b\n"
    assert utils.test_code_get_feedback(code, ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]) == (2, "All 2 test cases passed.")
    passed, feedback = utils.test_code_get_feedback(code, ["assert add(1, 2) == 3", "assert add(1, 1) == 3", "assert add(1, 'a') == 1"])
    assert passed == 1
    assert "Passed 1 of 3" in feedback and "failed: the assertion `assert add(1, 1) == 3`" in feedback and "TypeError" in feedback
    assert utils.test_code_get_feedback("def f(:", ["assert f()"])[0] == 0
    assert utils.test_code_get_feedback("", ["assert True"]) [0] == 0
    assert utils.test_code_get_feedback(code, []) == (0, "No test case provided!")
    passed, feedback = utils.test_code_get_feedback(code + "def spin():\n    while True: pass\n", ["assert add(1, 1) == 2", "spin()", "assert True"], timeout=1)
    assert passed == 1 and "Execution Time Out" in feedback and "Test case 2" in feedback


def test_parse_to_json_and_extract_code():
    assert utils.parse_to_json('{"a": 1}') == {"a": 1}
    assert utils.parse_to_json('Sure! {"a": {"b": [1, 2]}} done') == {"a": {"b": [1, 2]}}
    assert utils.parse_to_json("no json here") is None and utils.parse_to_json(None) is None
    assert utils.extract_code("text\n```python\nx = 1\n```\n```python\ny = 2\n```") == "x = 1"
    assert utils.extract_code("```\nprint(1)\n```") == "print(1)"
    assert utils.extract_code("```python\ndef f(:\n```") == ""
    assert utils.extract_code("no code") == ""


def test_extract_code_solution_and_generate_and_extract_code(monkeypatch):
    assert utils.extract_code_solution("<Code Solution>\n```python\ndef f():\n    return 1\n```\n</Code Solution>") == "def f():\n    return 1"
    assert utils.extract_code_solution("no tags") == ""
    harness = FakeHarness(monkeypatch, [{"result": "no code"}, {"result": "<Code Solution>x = 2</Code Solution>"}])
    response, code = utils.generate_and_extract_code(utils.LLM([]), "write x", temperature=0.2)
    assert (response, code) == ("<Code Solution>x = 2</Code Solution>", "x = 2")
    assert [r["params"]["temperature"] for r in harness.requests] == [0.2, 0.2]
    FakeHarness(monkeypatch, [{"result": "nothing"}] * 2)
    assert utils.generate_and_extract_code(utils.LLM([]), "p", max_attempts=2) == ("nothing", "")


def test_signature_and_test_cases_from_the_model(monkeypatch):
    FakeHarness(monkeypatch, [
        {"result": 'Here: {"think": "t", "function": "def add(a: int, b: int) -> int:\\n    \\"\\"\\"Sum.\\"\\"\\""}'},
        {"result": '{"think": "t", "basic": ["assert add(1, 2) == 3"], "edge": ["assert add(0, 0) == 0"], "large scale": ["assert add(10**9, 1) == 10**9 + 1"]}'},
        {"result": "I cannot"},
    ])
    llm = utils.LLM([])
    signature = utils.get_function_signature(llm, "add two numbers")
    assert signature.startswith("def add(a: int, b: int) -> int:")
    assert utils.get_test_cases(llm, "add two numbers", signature) == ["assert add(1, 2) == 3", "assert add(0, 0) == 0", "assert add(10**9, 1) == 10**9 + 1"]
    assert utils.get_function_signature(llm, "x") == ""


def test_websearch_is_an_empty_stub():
    assert utils.websearch("anything") == []
