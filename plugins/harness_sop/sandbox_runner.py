"""QA's test runner. Its source is copied into the sandbox and run there with ``python3``; it uses
the standard library only and is never imported by the harness.

It reads ``_sop_plan.json`` (``modules``: the project's files in load order; ``suites``: suite
name -> test file; ``per_test_seconds``), loads every module, executes each test file in a
namespace holding the modules' names (so tests need no import, and a test file's redefinition
of one of those names is undone), then calls every ``test*`` function the file defines that takes
no argument, each under an alarm. Output of the code under test is swallowed; the last line printed is
``MARKER`` + a JSON report: ``{"results": [{"suite", "name", "ok", "error"}]}``.
"""

import importlib.util
import io
import json
import os
import signal
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout

MARKER = "@@SOP-REPORT@@ "
ERROR_CHARS = 700


class _Capped(io.StringIO):
    """Swallows what the code under test prints, keeping memory bounded."""

    def write(self, text):
        if self.tell() < 10000:
            super().write(text[:10000])
        return len(text)


class _Overtime(Exception):
    pass


def _alarm(signum, frame):
    raise _Overtime("the test ran out of time (an endless loop?)")


def _error():
    """The exception and the frames of the code under test (the runner's own are left out)."""
    kind, value, tb = sys.exc_info()
    if kind is _Overtime:
        return str(value)
    frames = [f for f in traceback.extract_tb(tb) if f.filename != __file__ and f.name != "_expect"]
    text = "".join(traceback.format_list(frames[-6:]) + traceback.format_exception_only(kind, value))
    return text.strip()[-ERROR_CHARS:]


def _load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _guarded(seconds, fn, *args):
    """fn(*args) under an alarm with its output swallowed: (result, None) or (None, error text)."""
    sink = _Capped()
    signal.alarm(seconds)
    try:
        with redirect_stdout(sink), redirect_stderr(sink):
            return fn(*args), None
    except BaseException:  # SystemExit and KeyboardInterrupt from model code are failures too
        return None, _error()
    finally:
        signal.alarm(0)


def _exec_file(source, path, namespace):
    exec(compile(source, path, "exec"), namespace)


def _is_test(fn, path):
    """A function of this test file that can be called with no argument."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_filename != path:
        return False
    return code.co_argcount + code.co_kwonlyargcount <= len(fn.__defaults__ or ()) + len(fn.__kwdefaults__ or {})


def main():
    with open("_sop_plan.json") as fh:
        plan = json.load(fh)
    seconds = int(plan.get("per_test_seconds", 3))
    signal.signal(signal.SIGALRM, _alarm)
    sys.path.insert(0, os.getcwd())
    results = []
    names = {}
    for path in plan["modules"]:
        module, error = _guarded(seconds, _load, path)
        results.append({"suite": "load", "name": f"import {path}", "ok": error is None, "error": error or ""})
        if error is None:
            names.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    for suite, path in plan["suites"].items():
        with open(path) as fh:
            source = fh.read()
        namespace = dict(names, __name__=f"sop_tests_{suite}")
        _, error = _guarded(seconds, _exec_file, source, path, namespace)
        if error is not None:
            results.append({"suite": suite, "name": f"loading {path}", "ok": False, "error": error})
            continue
        namespace.update(names)
        tests = [(name, fn) for name, fn in namespace.items() if name.startswith("test") and _is_test(fn, path)]
        for name, fn in tests:
            _, error = _guarded(seconds, fn)
            results.append({"suite": suite, "name": name, "ok": error is None, "error": error or ""})
    sys.stdout.write("\n" + MARKER + json.dumps({"results": results}) + "\n")


if __name__ == "__main__":
    main()
