"""The main script of a MAS job: load ``mas_program.py``, build ``MAS(model_list)``, call
``forward(query)`` and report what happened to the harness (the RPC method ``finish``).

Reads ``task.json`` (``{"query": str, "model_list": list}``). The report's ``status`` is one of
``answered``, ``none_answer`` (forward returned None), ``syntax_error``, ``no_mas`` (the program
defines no class MAS), ``no_forward`` (its instance has no callable forward), ``exception``
(raised while loading the program, building MAS or in forward; ``detail`` is the traceback),
``exited`` (the program called sys.exit), ``budget_exhausted`` and ``stopped`` (the harness
ended it). A program that dies without a report (os._exit, a signal) is judged by the host.
"""

import json
import os
import sys
import traceback
import types

# one BLAS thread: the container has one CPU, and a thread per host core would not fit the job's memory limit
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import utils  # after the environment that the programs' imports read

PROGRAM = "mas_program.py"


def _traceback(exc):
    """The traceback of ``exc`` without this runner's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _answer_text(answer):
    return answer if isinstance(answer, str) else str(answer)


def run(query, model_list):
    """(status, detail, answer text, answer type name)."""
    with open(PROGRAM, encoding="utf-8") as fh:
        source = fh.read()
    try:
        code = compile(source, PROGRAM, "exec")
    except SyntaxError as exc:
        return "syntax_error", "".join(traceback.format_exception_only(type(exc), exc)), None, None
    module = types.ModuleType("mas_program")
    module.__file__ = PROGRAM
    sys.modules["mas_program"] = module
    exec(code, module.__dict__)
    mas_class = module.__dict__.get("MAS")
    if not callable(mas_class):
        return "no_mas", f"{PROGRAM} defines no class MAS (names it defines: {sorted(n for n in module.__dict__ if not n.startswith('__'))[:30]})", None, None
    system = mas_class(model_list)
    forward = getattr(system, "forward", None)
    if not callable(forward):
        return "no_forward", "the MAS instance has no callable forward(taskInfo)", None, None
    answer = forward(query)
    if answer is None:
        return "none_answer", "forward returned None", None, None
    return "answered", "", _answer_text(answer), type(answer).__name__


def main():
    with open("task.json", encoding="utf-8") as fh:
        task = json.load(fh)
    try:
        status, detail, answer, answer_type = run(task["query"], task["model_list"])
    except utils.BudgetExhausted as exc:
        status, detail, answer, answer_type = "budget_exhausted", str(exc), None, None
    except utils.HarnessStop as exc:
        status, detail, answer, answer_type = "stopped", str(exc), None, None
    except SystemExit as exc:
        status, detail, answer, answer_type = "exited", f"the program called sys.exit({exc.code!r})", None, None
    except BaseException as exc:
        status, detail, answer, answer_type = "exception", _traceback(exc), None, None
    sys.stdout.flush()
    try:
        utils._bridge().call("finish", {"status": status, "detail": detail, "answer": answer, "answer_type": answer_type})
    except utils.HarnessStop:
        pass


if __name__ == "__main__":
    main()
