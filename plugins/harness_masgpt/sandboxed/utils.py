"""The helper library of MAS programs: ``from utils import *``.

Written for mas-harness, API-compatible with the library that MAS-GPT's generated programs
import (Ye et al., ICML 2025; github.com/MASWorks/MAS-GPT), so that such programs run
unmodified. It runs inside the sandbox, with no network: every model call travels to the
harness over the sandbox's RPC bridge (see `harness_sandbox.rpc`), where it is metered,
recorded and held to the sample's budget. Standard library only (numpy is offered to executed
code when the image has it).

Names a program may use (each one's contract is in its docstring):

- ``LLM(model_list)`` with ``call_llm(prompt, temperature=0.5) -> str``
- ``execute_code(code, timeout=30) -> str``
- ``test_code_get_feedback(code, test_cases, timeout=20) -> (int, str)``
- ``get_function_signature(llm, taskInfo) -> str``
- ``get_test_cases(llm, taskInfo, function_signature) -> list[str]``
- ``extract_code_solution(solution) -> str``
- ``generate_and_extract_code(llm, prompt, temperature=None, max_attempts=3) -> (str, str)``
- ``extract_code(text) -> str``, ``parse_to_json(text) -> dict | list | None``
- ``websearch(query) -> list[str]`` (always empty: the sandbox has no network)

As with the original library, ``from utils import *`` also brings the standard modules imported
here (``json``, ``re``, ``ast``, ``os``, ``sys``, ``random``, ``math``, ``time``, ``io``,
``contextlib``, ``logging``, ``tempfile``, ``traceback``, ``shutil``, ``multiprocessing``),
which generated programs sometimes use without importing them.

Differences from the original, on purpose: a model call that the harness cannot serve because
the sample's budget is spent raises `BudgetExhausted`, and one whose backend failed for good
raises `HarnessStop` (both derive from BaseException, so a program's ``except Exception`` does
not swallow them and the program ends); the original returned None after retrying. Executed
code runs in a child process of the program, in the same sandbox, under its own timeout.
"""

import ast
import contextlib
import io  # noqa: F401 - offered to programs by the star import
import itertools
import json
import logging  # noqa: F401 - offered to programs by the star import
import math  # noqa: F401 - offered to programs by the star import
import multiprocessing  # noqa: F401 - offered to programs by the star import
import os
import random  # noqa: F401 - offered to programs by the star import
import re
import shutil  # noqa: F401 - offered to programs by the star import
import signal
import subprocess
import sys
import tempfile
import threading
import time  # noqa: F401 - offered to programs by the star import
import traceback  # noqa: F401 - offered to programs by the star import

#: The environment variable through which the sandbox hands a job its RPC descriptors:
#: "REQUEST_FD,REPLY_FD" (see harness_sandbox.rpc).
RPC_ENV = "HARNESS_RPC_FDS"


class HarnessStop(BaseException):
    """The harness ended the program (its model backend failed for good, or the bridge closed).
    A BaseException, so that ``except Exception`` in a program does not hide it."""


class BudgetExhausted(HarnessStop):
    """The sample's budget of model calls, tokens or cost is spent."""


# --- the bridge to the harness -------------------------------------------------------------


class _Bridge:
    """Requests to the harness, one JSON object per line: ``{"id", "method", "params"}`` out,
    ``{"id", "result"}`` or ``{"id", "error": {"type", "message"}}`` back. Thread-safe: any
    number of threads may wait on their own replies, which may come back in any order."""

    def __init__(self, request_fd, reply_fd):
        self._out = request_fd
        self._in = open(reply_fd, "rb", buffering=1 << 16, closefd=False)
        self._ids = itertools.count(1)
        self._write = threading.Lock()
        self._state = threading.Condition()
        self._replies = {}
        self._reading = False
        self._closed = False

    def call(self, method, params):
        """The ``result`` of one request; raises BudgetExhausted or HarnessStop for the errors of
        those types and RuntimeError for any other error."""
        number = next(self._ids)
        line = json.dumps({"id": number, "method": method, "params": params}).encode() + b"\n"
        with self._write:
            view = memoryview(line)
            while view:
                view = view[os.write(self._out, view) :]
        reply = self._wait(number)
        error = reply.get("error")
        if error is None:
            return reply.get("result")
        kind, message = error.get("type"), error.get("message", "")
        if kind == "budget":
            raise BudgetExhausted(message)
        if kind == "stop":
            raise HarnessStop(message)
        raise RuntimeError(f"the harness refused {method}: {message}")

    def _wait(self, number):
        while True:
            with self._state:
                while number not in self._replies and self._reading and not self._closed:
                    self._state.wait()
                if number in self._replies:
                    return self._replies.pop(number)
                if self._closed:
                    raise HarnessStop("the harness closed the bridge")
                self._reading = True
            raw = self._in.readline()
            with self._state:
                self._reading = False
                if raw:
                    reply = json.loads(raw)
                    self._replies[reply.get("id")] = reply
                else:
                    self._closed = True
                self._state.notify_all()


_BRIDGE = None
_BRIDGE_LOCK = threading.Lock()


def _bridge():
    global _BRIDGE
    with _BRIDGE_LOCK:
        if _BRIDGE is None:
            spec = os.environ.get(RPC_ENV, "")
            try:
                request_fd, reply_fd = (int(part) for part in spec.split(","))
            except ValueError:
                raise HarnessStop(f"no RPC bridge: {RPC_ENV}={spec!r} (this library only works inside the harness's sandbox)") from None
            _BRIDGE = _Bridge(request_fd, reply_fd)
        return _BRIDGE


# --- models ---------------------------------------------------------------------------------

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


class LLM:
    """A chat model for the program's agents. ``model_list`` is kept for compatibility (the
    original picked one of its ``(name, url, key)`` entries per call); here every call goes to
    the harness's ``agent`` model, whichever list is given."""

    def __init__(self, model_list=None):
        self.model_list = model_list

    def call_llm(self, prompt, temperature=0.5):
        """Send ``prompt`` as one user message; return the reply's text with any
        ``<think>…</think>`` section removed and surrounding whitespace stripped.

        ``temperature`` is passed to the model (0.5 when it is not a number). The reply's length
        is the harness's per-call ``max_tokens`` (``--system-opt agent_max_tokens``). Raises
        `BudgetExhausted` when the sample's budget (calls, tokens, cost) is spent and
        `HarnessStop` when the backend failed for good; never returns None."""
        try:
            temperature = float(temperature)
        except (TypeError, ValueError):
            temperature = 0.5
        text = _bridge().call("call_llm", {"prompt": str(prompt), "temperature": temperature})
        return _THINK.sub("", text or "").strip()


def websearch(query):
    """Search the web for ``query`` and return passages: always ``[]`` (the sandbox has no
    network, and the original's was a stub too)."""
    return []


# --- parsing replies ----------------------------------------------------------------------------

_CODE_LANGUAGES = {"python", "python3", "py", "cpp", "c++", "c", "java", "javascript", "js", "bash", "sh", "html", "css", "json", "sql"}


def parse_to_json(text):
    """The JSON value of ``text``; else the first JSON object found in it (nested braces
    allowed); else None. Never raises."""
    if not isinstance(text, str):
        return None
    with contextlib.suppress(ValueError):
        return json.loads(text)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        with contextlib.suppress(ValueError):
            value, _ = decoder.raw_decode(text, match.start())
            if isinstance(value, dict):
                return value
    return None


def extract_code(text):
    """The code of the first triple-backtick block of ``text``, without its language line,
    stripped; ``""`` when there is no block or its code is not valid Python."""
    if not isinstance(text, str):
        return ""
    match = re.search(r"```(.*?)```", text, re.DOTALL)
    if not match:
        return ""
    lines = match.group(1).strip().split("\n")
    if len(lines) > 1 and lines[0].strip().lower() in _CODE_LANGUAGES:
        lines = lines[1:]
    code = "\n".join(lines).strip()
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return ""
    return code


_SOLUTION = re.compile(r"<Code Solution>\s*(.*?)\s*</Code Solution>", re.DOTALL)
_FENCE_LINE = re.compile(r"^[ \t]*```[\w+.-]*[ \t]*$", re.MULTILINE)


def extract_code_solution(solution):
    """The text between ``<Code Solution>`` and ``</Code Solution>`` in ``solution``, with
    Markdown fence lines removed and stripped; ``""`` when the tags are missing."""
    if not isinstance(solution, str):
        return ""
    match = _SOLUTION.search(solution)
    if not match:
        return ""
    return _FENCE_LINE.sub("", match.group(1)).strip()


def generate_and_extract_code(llm, prompt, temperature=None, max_attempts=3):
    """Ask ``llm`` (an `LLM`) with ``prompt`` until the reply holds code between
    ``<Code Solution>`` tags, at most ``max_attempts`` times; return ``(reply, code)``, or
    ``(last reply, "")`` when no attempt had any. ``temperature`` None (or 0) uses
    ``call_llm``'s default."""
    response = ""
    for _ in range(max(1, int(max_attempts))):
        response = llm.call_llm(prompt, temperature=temperature) if temperature else llm.call_llm(prompt)
        code = extract_code_solution(response)
        if code:
            return response, code
    return response, ""


# --- model-made signatures and tests --------------------------------------------------------

_SIGNATURE_REQUEST = """You are designing the interface of a Python solution.

Problem:
{task}

Write only the function's signature (argument names and type hints) and a short docstring that
states what it does, its arguments and what it returns; no body. Reply with a JSON object and
nothing else:
{{"think": "<how you chose the interface>", "function": "<the signature and docstring, newlines as \\n>"}}
"""

_TESTS_REQUEST = """You are writing tests for a Python function before it exists.

Problem:
{task}

Function:
{signature}

Write assert statements that check it: ordinary cases, edge cases (empty, smallest, largest,
unusual inputs) and a few large inputs. Each test is one string of Python that needs nothing but
the function (put any import it needs inside the string). Reply with a JSON object and nothing else:
{{"think": "<what needs checking>", "basic": ["assert ..."], "edge": ["assert ..."], "large scale": ["assert ..."]}}
"""


def get_function_signature(llm, taskInfo):
    """Ask ``llm`` for the signature and docstring of a function that solves ``taskInfo``
    (a JSON reply with a ``function`` field); return it, or ``""`` when the reply has none."""
    reply = parse_to_json(llm.call_llm(_SIGNATURE_REQUEST.format(task=taskInfo)))
    function = reply.get("function") if isinstance(reply, dict) else None
    return function if isinstance(function, str) else ""


def get_test_cases(llm, taskInfo, function_signature):
    """Ask ``llm`` (temperature 0.3) for assert statements testing ``function_signature`` on
    ``taskInfo``; return the basic, edge and large-scale ones as one list of strings (``[]``
    when the reply is not such a JSON object)."""
    reply = parse_to_json(llm.call_llm(_TESTS_REQUEST.format(task=taskInfo, signature=function_signature), temperature=0.3))
    if not isinstance(reply, dict):
        return []
    tests = []
    for key in ("basic", "edge", "large scale"):
        group = reply.get(key)
        if not isinstance(group, list):
            return []
        tests += [test for test in group if isinstance(test, str)]
    return tests


# --- executing code ---------------------------------------------------------------------------

#: The child process that runs code for execute_code and test_code_get_feedback. It reads its
#: request (JSON) on stdin and appends one JSON object per line to the file named in argv[1].
_CHILD = r'''
import contextlib, io, json, math, os, random, sys, traceback
request = json.loads(sys.stdin.read())
sink = open(sys.argv[1], "a", buffering=1)
code = request["code"]

def report(**fields):
    sink.write(json.dumps(fields) + "\n")

def describe(exc):
    """The exception and the line of the executed code it came from."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        return text + (f"\nat line {exc.lineno} of the code: {(exc.text or '').strip()}" if exc.lineno else "")
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<code>"]
    if lines:
        source = code.splitlines()
        where = source[lines[-1] - 1].strip() if 0 < lines[-1] <= len(source) else ""
        text += f"\nat line {lines[-1]} of the code: {where}"
    return text

namespace = {"__name__": "__main__", "math": math, "random": random, "os": os, "sys": sys}
try:
    import numpy
    namespace.update(numpy=numpy, np=numpy)
except ImportError:
    pass
printed = io.StringIO()
try:
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "<code>", "exec"), namespace)
except BaseException as exc:
    report(stage="define", error=describe(exc), stdout=printed.getvalue())
    raise SystemExit(0)
report(stage="define", output=str(namespace["output"]) if "output" in namespace else None, stdout=printed.getvalue())
for index, test in enumerate(request.get("tests") or []):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(test, "<test>", "exec"), namespace)
    except AssertionError:
        report(stage="test", index=index, verdict="failed")
    except BaseException as exc:
        report(stage="test", index=index, verdict="error", error=describe(exc))
    else:
        report(stage="test", index=index, verdict="passed")
'''


def _run_child(code, tests, timeout):
    """Run ``code`` (then ``tests``) in a child process for at most ``timeout`` seconds.
    Returns (its reports, whether it timed out, what it wrote to stderr)."""
    with tempfile.TemporaryDirectory(prefix="exec-") as workdir, tempfile.TemporaryDirectory(prefix="report-") as reportdir:
        report_path = os.path.join(reportdir, "report.jsonl")
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _CHILD, report_path],
            cwd=workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        timed_out = False
        try:
            _, stderr = proc.communicate(json.dumps({"code": code, "tests": tests}).encode(), timeout=max(float(timeout), 0.001))
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if timed_out:
            _, stderr = proc.communicate()
        reports = []
        with contextlib.suppress(OSError), open(report_path) as fh:
            for line in fh:
                with contextlib.suppress(ValueError):
                    reports.append(json.loads(line))
    return reports, timed_out, stderr.decode("utf-8", "replace")


def execute_code(code, timeout=30):
    """Run Python ``code`` in a fresh child process (its own temporary directory; ``math``,
    ``random``, ``os``, ``sys`` and, when installed, ``numpy``/``np`` predefined) for at most
    ``timeout`` seconds, and describe what happened in one string:

    - ``"Final output: <the value of the variable output, or None>\\nPrint during execution:\\n<what it printed>"``;
    - ``"Error during code execution:\\n<exception type>: <message>\\nat line N of the code: <line>"``;
    - ``"Execution Time Out: ..."`` when it ran out of time;
    - ``"Empty code. No output."`` for empty ``code``.

    The ``Final output:``, ``Print during execution:`` and ``Execution Time Out`` markers are the
    original library's, so that programs which look for them keep working."""
    if not code or not isinstance(code, str):
        return "Empty code. No output."
    reports, timed_out, stderr = _run_child(code, [], timeout)
    if timed_out:
        return f"Execution Time Out: the code ran longer than {timeout} seconds and was stopped."
    defined = next((r for r in reports if r.get("stage") == "define"), None)
    if defined is None:
        return "Error during code execution:\nthe process ended without a result" + (f"\n{stderr.strip()[-2000:]}" if stderr.strip() else "")
    if "error" in defined:
        return f"Error during code execution:\n{defined['error']}"
    return f"Final output: {defined.get('output')}\nPrint during execution:\n{(defined.get('stdout') or '').strip()}"


def test_code_get_feedback(code, test_cases, timeout=20):
    """Run ``code`` (defining a function, say) and then each of ``test_cases`` (strings of
    Python, usually ``assert`` statements) in one namespace, in a child process, for at most
    ``timeout`` seconds in all. Returns ``(passed, feedback)``: the number of test cases that
    ran without an exception, and a report for a model to read (which test failed, with which
    error and at which line). Empty ``code`` or no test cases give ``(0, <why>)``; when time
    runs out, the tests that passed before count and the report says where it stopped."""
    if not code or not isinstance(code, str):
        return 0, "Empty code: nothing to test (was the code wrapped in ``` fences or the expected tags?)."
    tests = [str(test) for test in (test_cases or [])]
    if not tests:
        return 0, "No test case provided!"
    reports, timed_out, stderr = _run_child(code, tests, timeout)
    defined = next((r for r in reports if r.get("stage") == "define"), None)
    if defined is not None and "error" in defined:
        return 0, f"The code failed before any test could run:\n{defined['error']}"
    verdicts = {r["index"]: r for r in reports if r.get("stage") == "test"}
    passed = sum(r["verdict"] == "passed" for r in verdicts.values())
    lines = []
    for index, test in enumerate(tests):
        verdict = verdicts.get(index)
        if verdict is None:
            reason = f"did not finish within {timeout} seconds (Execution Time Out)" if timed_out else "did not run: the process ended"
            lines.append(f"Test case {index + 1} {reason}: `{test}`")
            break
        if verdict["verdict"] == "passed":
            lines.append(f"Test case {index + 1} passed: `{test}`")
        elif verdict["verdict"] == "failed":
            lines.append(f"Test case {index + 1} failed: the assertion `{test}` does not hold.")
        else:
            lines.append(f"Test case {index + 1} raised an error: `{test}`\n  {verdict['error']}")
    if defined is None and not timed_out and stderr.strip():
        lines.append(stderr.strip()[-2000:])
    if passed == len(tests):
        return passed, f"All {passed} test cases passed."
    return passed, f"Passed {passed} of {len(tests)} test cases.\n" + "\n".join(lines)
