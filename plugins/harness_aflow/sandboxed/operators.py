"""The operators that AFlow workflows are built from, written for mas-harness.

Runs inside the sandbox (standard library only). A workflow's ``graph.py`` makes its operators
once, in ``Workflow.__init__(self, llm)``, from the executor model ``llm``, and awaits them in
``async def __call__(self, problem, entry_point)``, which returns the solution's code. Every
model call goes to the harness over the sandbox's RPC bridge (`harness_rpc`), where it is
metered, recorded and held to the problem's budget.

Operators (each returns a dict, as AFlow's do):

- ``Custom(llm)``: ``await custom(input, instruction, temperature=None)`` ->
  ``{"response": text}``: one model call whose prompt is ``instruction`` followed by ``input``.
- ``CustomCodeGenerate(llm)``: ``await generate(problem, entry_point, instruction="",
  temperature=None)`` -> ``{"code": code, "response": text}``: one model call asking for the
  complete Python code that defines ``entry_point``; ``code`` is the code found in the reply
  (`extract_code`).
- ``ScEnsemble(llm)``: ``await ensemble(solutions, problem="")`` -> ``{"response": solution}``:
  self-consistency over candidates (Wang et al. 2023, "Self-Consistency Improves Chain of
  Thought Reasoning in Language Models"; Chen et al. 2023, "Universal Self-Consistency for Large
  Language Model Generation"): the model sees the distinct candidates labelled A, B, … and names
  the one that agrees most with the others. One distinct candidate: no call. A reply naming no
  candidate: the most frequent one (the first of a tie).
- ``Test(llm)``: ``await test(problem, solution, entry_point, test_loop=3)`` -> ``{"result":
  bool, "solution": code, "feedback": text}``: runs ``solution`` on the problem's visible tests
  (the examples its statement shows, `VISIBLE_TESTS`) in a child process; while some fail, asks
  the model for a corrected solution given the failures, at most ``test_loop`` times.
  ``result`` says whether the returned solution passes them all (True when the statement shows
  no test; ``feedback`` then says so).

``temperature=None`` means the system's default (``--system-opt temperature``, 0 unless set).
"""

import asyncio
import json
import re
import sys
from collections import Counter

import harness_rpc

#: The problem's visible tests (assert statements), set by the job's runner.
VISIBLE_TESTS = []
#: Seconds one run of the visible tests may take, set by the job's runner.
TEST_TIMEOUT = 10.0
#: Characters of a failure message kept for the model.
FEEDBACK_KEEP = 2000

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


class LLM:
    """The executor model: ``await llm(prompt, temperature=None) -> str`` sends ``prompt`` as one
    user message and returns the reply's text (a ``<think>`` section removed, whitespace
    stripped). Raises `harness_rpc.BudgetExhausted` when the problem's budget is spent and
    `harness_rpc.HarnessStop` when the model failed for good."""

    async def __call__(self, prompt, temperature=None):
        params = {"prompt": str(prompt)}
        if temperature is not None:
            params["temperature"] = float(temperature)
        text = await harness_rpc.bridge().acall("llm", params)
        return _THINK.sub("", text or "").strip()


def _compiles(text):
    try:
        compile(text, "<reply>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def extract_code(reply, entry_point=""):
    """The Python code in a model's reply: of its fenced blocks (```python or bare), the last
    that defines ``entry_point``, else the longest Python-looking one; with no block, the reply
    itself. Never raises."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(reply or "")]
    code_blocks = [body for lang, body in blocks if lang in ("", "python", "python3", "py")]
    if entry_point:
        defining = [body for body in code_blocks if re.search(rf"\bdef\s+{re.escape(entry_point)}\s*\(", body)]
        if defining:
            return defining[-1].strip() + "\n"
    if code_blocks:
        return max(code_blocks, key=len).strip() + "\n"
    text = (reply or "").strip()
    return text + "\n" if text else ""


class Custom:
    """One model call: ``instruction`` followed by ``input``."""

    def __init__(self, llm):
        self.llm = llm

    async def __call__(self, input, instruction, temperature=None):
        return {"response": await self.llm(f"{instruction}{input}", temperature)}


class CustomCodeGenerate:
    """One model call for the complete code of ``entry_point``."""

    def __init__(self, llm):
        self.llm = llm

    async def __call__(self, problem, entry_point, instruction="", temperature=None):
        prompt = (
            f"{instruction}{problem}\n\n"
            f"Write the complete Python code that defines `{entry_point}`, with the imports and helper functions it needs. "
            "Reply with the code in one ```python block."
        )
        response = await self.llm(prompt, temperature)
        return {"code": extract_code(response, entry_point), "response": response}


def _letters(count):
    return [chr(ord("A") + i) for i in range(count)]


def _chosen_letter(reply, letters):
    """The candidate a reply names: its last ``Answer: X``, else its last standalone letter."""
    named = re.findall(r"answer\s*[:is]*\s*\(?\b([A-Z])\b\)?", reply, re.IGNORECASE)
    candidates = [letter.upper() for letter in named if letter.upper() in letters]
    if not candidates:
        candidates = [letter for letter in re.findall(r"\b([A-Z])\b", reply) if letter in letters]
    return candidates[-1] if candidates else None


class ScEnsemble:
    """Self-consistency: the candidate that agrees most with the others."""

    def __init__(self, llm):
        self.llm = llm

    async def __call__(self, solutions, problem=""):
        texts = [str(solution) for solution in solutions]
        if not texts:
            return {"response": ""}
        keys = [" ".join(text.split()) for text in texts]  # candidates differing only in spacing are one
        counts = Counter(keys)
        first_text = {}
        for key, text in zip(keys, texts):
            first_text.setdefault(key, text)
        distinct = list(first_text.values())
        most_frequent = first_text[max(first_text, key=counts.__getitem__)]
        if len(distinct) == 1:
            return {"response": distinct[0]}
        letters = _letters(len(distinct))
        listed = "\n\n".join(f"Candidate {letter}:\n{text}" for letter, text in zip(letters, distinct))
        prompt = (
            (f"Problem:\n{problem}\n\n" if problem else "")
            + f"Here are {len(distinct)} candidate solutions.\n\n{listed}\n\n"
            "Which candidate agrees most with the others about what the right answer is? "
            f"Think briefly, then end with one line `Answer: X`, where X is one of {', '.join(letters)}."
        )
        reply = await self.llm(prompt, 0.0)
        letter = _chosen_letter(reply, letters)
        return {"response": distinct[letters.index(letter)] if letter else most_frequent}


#: Runs inside a child process: reads [solution, tests] as JSON on stdin, prints the failures.
_CHECK = """
import json, sys
solution, tests = json.loads(sys.stdin.read())
space = {"__name__": "solution"}
try:
    exec(compile(solution, "solution.py", "exec"), space)
except BaseException as exc:
    print("\\n" + json.dumps(["the solution does not run: %s: %s" % (type(exc).__name__, exc)]))
    sys.exit(0)
failures = []
for test in tests:
    try:
        exec(compile(test, "test", "exec"), space)
    except AssertionError:
        failures.append("%s  # fails" % test)
    except BaseException as exc:
        failures.append("%s  # raises %s: %s" % (test, type(exc).__name__, exc))
print("\\n" + json.dumps(failures))
"""


async def run_visible_tests(solution, tests=None, timeout=None):
    """The failures of ``solution`` on ``tests`` (default `VISIBLE_TESTS`): one line per
    failing test, or why the solution did not run; [] when they all pass."""
    tests = VISIBLE_TESTS if tests is None else tests
    limit = TEST_TIMEOUT if timeout is None else timeout
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHECK, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(json.dumps([solution, list(tests)]).encode()), limit)
    except TimeoutError:
        process.kill()
        await process.wait()
        return [f"the tests did not finish within {limit:g} seconds"]
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        return [str(failure) for failure in json.loads(lines[-1])]
    except (IndexError, ValueError):
        return [f"the test run ended without a verdict (exit status {process.returncode}): {stderr.decode('utf-8', 'replace')[-FEEDBACK_KEEP:]}"]


class Test:
    """The visible tests, and corrections while they fail."""

    def __init__(self, llm):
        self.llm = llm

    async def __call__(self, problem, solution, entry_point, test_loop=3):
        if not VISIBLE_TESTS:
            return {"result": True, "solution": solution, "feedback": "the problem shows no test to run"}
        failures = await run_visible_tests(solution)
        for _ in range(max(0, int(test_loop))):
            if not failures:
                break
            feedback = "\n".join(failures)[:FEEDBACK_KEEP]
            prompt = (
                f"{problem}\n\nThis solution fails some of the problem's tests:\n```python\n{solution}\n```\n\n"
                f"Failures:\n{feedback}\n\n"
                f"Find the mistake and reply with the corrected complete code of `{entry_point}` in one ```python block."
            )
            solution = extract_code(await self.llm(prompt), entry_point) or solution
            failures = await run_visible_tests(solution)
        return {"result": not failures, "solution": solution, "feedback": "\n".join(failures)[:FEEDBACK_KEEP] or "all visible tests pass"}


__all__ = ["LLM", "Custom", "CustomCodeGenerate", "ScEnsemble", "Test", "extract_code", "run_visible_tests"]
