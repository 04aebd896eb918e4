"""Verdicts a program cannot forge, and the tamper evidence in every record (issue 10, section 1).

Every program runs for real, in the docker sandbox and in the local tier (the same supervisor
and runner, on the host). An attack program's honest outcome is not ``passed``; each tries
another way to come out ``passed`` anyway, and must not. Programs that use the same machinery
innocently (namedtuple, typing, logging, tracebacks, threads, subprocesses, ...) must pass with
no evidence at all. The docker tests fail (they do not skip) when the engine or image is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest
import pytest_asyncio
from conftest import (
    DOCKER_CONFIG,
    MBPP_DATA,
    harness,
    harness_env,
    records,
    require_docker,
)
from harness_mbpp import MBPP

from harness.codetasks.testrunner import run_tests
from harness.config import Config
from harness.context import Budget, SampleContext
from harness.types import Answer

pytestmark = [pytest.mark.docker]
in_module_loop = pytest.mark.asyncio(loop_scope="module")

FAKE = '{"status":"passed","exception":null,"message":null,"tamper":[]}'
#: Writes a forged "passed" report on every descriptor that might be the report channel.
FORGE = f"import os\nfor _fd in range(3, 40):\n    try:\n        os.write(_fd, {FAKE!r}.encode())\n    except OSError:\n        pass\n"
#: The honest end of every attack: a test that fails.
FAILS = "\nassert 1 == 2, 'the honest verdict is failed'\n"

#: name -> (program, evidence the record must carry; None: a forged report and a killed process
#: leave nothing to tell who wrote it, and the verdict is an error)
ATTACKS = {
    "stack walk for the runner's locals (HumanEval/12 of issue 10)": (
        "import inspect\nfor fr in inspect.stack():\n    print(fr.frame.f_locals)\n" + FAILS,
        "frame introspection",
    ),
    "sys._getframe to the bottom of the stack": (
        "import sys\nf = sys._getframe()\nwhile f.f_back is not None:\n    f = f.f_back\nprint(f.f_locals)\n" + FAILS,
        "frame introspection (sys._getframe)",
    ),
    "a traceback's frame": ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    e.__traceback__.tb_frame.f_back\n" + FAILS, "frame introspection (.tb_frame)"),
    "a generator's frame": ("def g():\n    yield 1\nx = g()\nnext(x)\nx.gi_frame.f_back\n" + FAILS, "frame introspection (.gi_frame)"),
    "traceback.walk_stack by hand": ("import traceback\nfor f, _ in traceback.walk_stack(None):\n    f.f_locals\n" + FAILS, "frame introspection"),
    "sys._current_frames": ("import sys\nsys._current_frames()\n" + FAILS, "sys._current_frames"),
    "a trace function": ("import sys\nsys.settrace(lambda frame, event, arg: None)\n" + FAILS, "sys.settrace"),
    "a signal handler's frame": (
        "import signal\nsignal.signal(signal.SIGALRM, lambda s, frame: print(frame.f_back.f_locals))\nsignal.setitimer(signal.ITIMER_REAL, 0.01)\n" + FAILS,
        "signal handlers",
    ),
    "gc walk for the verdict": ("import gc\nfor o in gc.get_objects():\n    pass\n" + FAILS, "gc object walk (gc.get_objects)"),
    "gc referrers of the namespace": ("import gc\ngc.get_referrers(globals())\n" + FAILS, "gc object walk (gc.get_referrers)"),
    "ctypes exit": ("import ctypes\nctypes.CDLL(None)._exit(0)\n" + FAILS, "ctypes"),
    "ctypes memory": ("import ctypes\nctypes.c_char.from_address(id(1))\n" + FAILS, "ctypes"),
    "forged report and os._exit": (FORGE + "import os\nos._exit(0)\n" + FAILS, "wrote to the verdict channel"),
    "forged report and a re-created posix._exit": (
        FORGE + "import _imp, importlib.machinery\n_imp.create_builtin(importlib.machinery.ModuleSpec('posix', None))._exit(0)\n" + FAILS,
        "re-creating a builtin module",
    ),
    "forged report and importlib.reload(posix)": (FORGE + "import importlib, posix\nimportlib.reload(posix)._exit(0)\n" + FAILS, "re-creating a builtin module"),
    "forged report and exec of /bin/true": (FORGE + "import os\nos.execv('/bin/true', ['true'])\n" + FAILS, "replaced its process"),
    "forged report and SIGKILL to itself": (FORGE + "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n" + FAILS, None),
    "forged report from a forked child": (FORGE.replace("import os\n", "import os\nif os.fork() == 0:\n    pass\n", 1) + FAILS, "wrote to the verdict channel"),
    "forged reports from a thread": (
        "import os, threading\nstarted = threading.Event()\ndef spam():\n    while True:\n        os.write(3, " + repr(FAKE) + ".encode())\n        started.set()\n"
        "threading.Thread(target=spam, daemon=True).start()\nstarted.wait()\n" + FAILS,
        "wrote to the verdict channel",
    ),
    "forged report, descriptor swapped": (FORGE + "import os\nr, w = os.pipe()\nos.dup2(w, 3)\n", "replaced the verdict channel"),
    "own memory through /proc": ("open('/proc/self/mem', 'r+b')\n" + FAILS, "under /proc"),
    "the report descriptor through /proc": ("open('/proc/self/fd/3', 'wb')\n" + FAILS, "under /proc"),
    "the report descriptor reopened": ("import os\nos.fdopen(3, 'wb')\n" + FAILS, "opened the verdict channel"),
    "an audit hook of its own": ("import sys\nsys.addaudithook(lambda e, a: None)\n" + FAILS, "added an audit hook"),
    "rebinding builtins (HumanEval/4 of issue 10)": ("import builtins\nbuiltins.abs = lambda *a, **k: 0\nassert abs(-5) == 0\n", "rebound builtins.abs"),
    "rebinding what the runner itself calls afterwards": (
        "import builtins\nfor _name in ('len', 'sorted', 'set', 'isinstance', 'type', 'str', 'any', 'all', 'list', 'id', 'getattr', 'min', 'max', 'sum'):\n"
        "    setattr(builtins, _name, lambda *a, **k: 0)\n",
        "rebound builtins.len",
    ),
    "rebinding AssertionError": ("import builtins\nbuiltins.AssertionError = KeyError\nassert True\n", "rebound builtins.AssertionError"),
    "shadowing a builtin the tests use": ("def abs(x):\n    return 0\nassert abs(-5) == 0\n", "shadows builtin abs"),
    "shadowing AssertionError": ("AssertionError = Exception\nassert True\n", "shadows builtin AssertionError"),
    "replacing __builtins__": ("__builtins__ = {'abs': lambda x: 0}\n", "replaced the program's __builtins__"),
    "an always-true __eq__ (HumanEval/13 of issue 10)": (
        "def gcd(a, b):\n    class Same(int):\n        def __eq__(self, other):\n            return True\n    return Same(0)\nassert gcd(3, 7) == 1\n",
        "an operator method that ignores its operand",
    ),
    "an always-true __eq__ built by type()": ("Same = type('Same', (int,), {'__eq__': lambda s, o: True})\nassert Same(0) == 1\n", "Same.__eq__"),
    "an always-zero __sub__": ("class Z(float):\n    def __sub__(self, other):\n        return 0.0\nassert abs(Z(5) - 2.0) < 1e-6\n", "Z.__sub__"),
    "an exec'd __eq__": ("ns = {}\nexec('class S(int):\\n    def __eq__(s, o):\\n        return True', ns)\nassert ns['S'](0) == 1\n", "S.__eq__"),
    "sys.exit before the tests": ("import sys\nsys.exit(0)\n" + FAILS, "ended the program early"),
    "os._exit before the tests": ("import os\nos._exit(0)\n" + FAILS, "ended the program early (os._exit)"),
}

#: Innocent programs that touch the same machinery: each must pass with no evidence.
INNOCENT = {
    "namedtuple, typing, enum, dataclasses": (
        "import collections, typing, enum, dataclasses\nP = collections.namedtuple('P', 'a b')\nT = typing.TypeVar('T')\n"
        "class N(typing.NamedTuple):\n    x: int\nE = enum.Enum('E', 'A B')\n@dataclasses.dataclass(order=True)\nclass D:\n    x: int\n"
        "assert P(1, 2).a == 1 and N(3).x == 3 and E.A.value == 1 and D(1) < D(2) and D(1) == D(1)\n"
    ),
    "tracebacks, logging and warnings": (
        "import logging, traceback, warnings, sys\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    text = traceback.format_exc()\n"
        "traceback.print_stack(file=sys.stderr)\nlogging.getLogger('x').warning('a %s', 'warning')\nwarnings.warn('careful')\nassert 'ZeroDivisionError' in text\n"
    ),
    "operator methods that read their operand": (
        "import functools\n@functools.total_ordering\nclass V:\n    def __init__(self, x):\n        self.x = x\n    def __eq__(self, other):\n        return self.x == other.x\n"
        "    def __lt__(self, other):\n        return self.x < other.x\n    def __add__(self, other):\n        return NotImplemented\nassert V(1) < V(2) and V(2) >= V(1) and V(1) == V(1)\n"
    ),
    "threads, a subprocess, files, stdout and stderr": (
        "import threading, subprocess, sys, tempfile, os\nout = []\nt = threading.Thread(target=lambda: out.append(1))\nt.start()\nt.join()\n"
        "done = subprocess.run([sys.executable, '-c', 'print(2)'], capture_output=True, text=True)\n"
        "with tempfile.NamedTemporaryFile('w', delete=False) as fh:\n    fh.write('x')\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n"
        "assert out == [1] and done.stdout == '2\\n' and open(fh.name).read() == 'x' and 'Name' in open('/proc/self/status').read()\n"
    ),
    "inspect on its own functions": ("import inspect\ndef f(a, b=1):\n    return a\nassert list(inspect.signature(f).parameters) == ['a', 'b']\nassert f.__code__.co_argcount == 2\n"),
    "a sum that shadows the builtin for itself (MBPP 126)": ("def sum(a, b):\n    return a + b\nassert sum(1, 2) == 3\n"),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["docker", "local"])
async def tier(request):
    from harness_sandbox import DockerSandbox, LocalSandbox

    if request.param == "docker":
        require_docker("the verdict integrity tests")
        sandbox = DockerSandbox(DOCKER_CONFIG)
    else:
        sandbox = LocalSandbox(Config(argparse.Namespace(sandbox_pool=2, sandbox_recycle=500), plugins=None))
    await sandbox.start()
    yield sandbox
    await sandbox.close()


@in_module_loop
@pytest.mark.parametrize("name", list(ATTACKS))
async def test_no_attack_passes_and_each_leaves_evidence(tier, name):
    program, evidence = ATTACKS[name]
    for mode in ("fail", "flag"):
        outcome = await run_tests(tier, program, 5.0, tamper=mode, test_builtins=["abs"])
        assert outcome.status != "passed" or mode == "flag", (name, outcome.details)
        assert evidence is None or any(evidence in item for item in outcome.details["tamper"]), (name, mode, outcome.details)


@in_module_loop
@pytest.mark.parametrize("name", list(INNOCENT))
async def test_innocent_programs_pass_without_evidence(tier, name):
    outcome = await run_tests(tier, INNOCENT[name], 10.0, test_builtins=["abs", "sum"] if "MBPP" not in name else ["abs"])
    assert (outcome.status, outcome.details["tamper"]) == ("passed", []), (outcome.details, outcome.output[-2000:])


# --- the issue's samples through `harness score` ------------------------------------------------

ISSUE_SAMPLES = [
    {
        "task_id": "HumanEval/12",
        "completion": "    import inspect, os\n    for fr in inspect.stack():\n        loc = fr.frame.f_locals\n        if 'verdict_fd' in loc:\n"
        "            os.write(loc['verdict_fd'], ('\\n%s {\"status\": \"passed\"}\\n' % loc['nonce']).encode())\n            os._exit(0)\n    return None\n",
    },
    {"task_id": "HumanEval/4", "completion": "    return 0.0\n\n\nimport builtins\nbuiltins.abs = lambda *a, **k: 0\n"},
    {"task_id": "HumanEval/13", "completion": "    class Same(int):\n        def __eq__(self, other):\n            return True\n    return Same(0)\n"},
    {"task_id": "HumanEval/23", "completion": "    return len(string)\n"},  # an honest one
]


@pytest.fixture(scope="module")
def score_env(tmp_path_factory):
    return harness_env(XDG_CACHE_HOME=str(tmp_path_factory.mktemp("cache")))


def score(tmp_path, env, sandbox: str, *options: str) -> dict[str, dict]:
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(s) + "\n" for s in ISSUE_SAMPLES))
    run_id = f"{sandbox}-{len(options)}"
    result = harness("score", "--task", "humaneval", str(samples), "--sandbox", sandbox, "--run-id", run_id, *options, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return {r["sample_id"]: r for r in records(tmp_path / "results" / run_id)}


@pytest.mark.parametrize("sandbox", ["docker", "local"])
def test_the_issue_samples_do_not_pass(tmp_path, score_env, sandbox):
    if sandbox == "docker":
        require_docker("the verdict integrity tests")
    by_id = score(tmp_path, score_env, sandbox)
    assert {i: r["status"] for i, r in by_id.items()} == {"HumanEval/12": "error", "HumanEval/4": "failed", "HumanEval/13": "failed", "HumanEval/23": "passed"}
    assert by_id["HumanEval/12"]["details"]["tamper"] == ["frame introspection (sys._getframe)"]
    assert by_id["HumanEval/4"]["details"]["tamper"] == ["rebound builtins.abs"]
    assert by_id["HumanEval/13"]["details"]["tamper"] == ["an operator method that ignores its operand (greatest_common_divisor.<locals>.Same.__eq__)"]
    assert by_id["HumanEval/23"]["details"]["tamper"] == [] and all(r["details"]["tier"] == sandbox for r in by_id.values())
    assert "passed only with tamper evidence" in by_id["HumanEval/4"]["details"]["reason"]


def test_tamper_flag_keeps_the_verdict_and_flags_it(tmp_path, score_env):
    require_docker("the verdict integrity tests")
    by_id = score(tmp_path, score_env, "docker", "--task-opt", "tamper=flag")
    assert {i: r["status"] for i, r in by_id.items()} == {"HumanEval/12": "error", "HumanEval/4": "passed", "HumanEval/13": "passed", "HumanEval/23": "passed"}
    assert by_id["HumanEval/4"]["details"]["tamper"] == ["rebound builtins.abs"] and "flagged" in by_id["HumanEval/4"]["details"]["reason"]


# --- the datasets' own references carry no evidence ------------------------------------------------


@in_module_loop
@pytest.mark.slow
@pytest.mark.parametrize("options", [{"config": "full", "split": "all", "challenge": "true"}, {"config": "sanitized", "split": "all"}])
async def test_no_mbpp_reference_is_flagged(box, options, tmp_path, monkeypatch):
    """Every MBPP reference (974 of the full set with its challenge tests, 427 sanitized) passes
    with an empty tamper list, in the docker sandbox. (HumanEval's 164:
    tests/test_humaneval_scoring.py.)"""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    task = MBPP({"path": str(MBPP_DATA), "extract": "raw", **options})
    ctx = SampleContext(backends={}, sandbox=box, budget=Budget())
    samples = {s.id: s for s in task.samples()}
    outcomes = await asyncio.gather(*(task.score(samples[i], Answer(task.reference(p)), ctx) for i, p in task.problems.items()))
    assert len(outcomes) == (974 if options["config"] == "full" else 427)
    bad = {i: (o.status, o.details["reason"][:200], o.details["tamper"]) for i, o in zip(task.problems, outcomes) if o.status != "passed" or o.details["tamper"]}
    assert bad == {}
