"""The main script of an AFlow workflow job: load the workflow, solve one problem, report.

Reads ``problem.json`` (``{"problem", "entry_point", "tests", "test_timeout"}``); loads
``prompt.py`` as the module ``prompt``, then ``graph.py`` (its namespace already holds
``operators``, ``prompt`` and every operator class, so a graph that forgets an import still
loads); builds ``Workflow(llm)`` and awaits ``workflow(problem, entry_point)``. The report (RPC
method ``finish``) has ``status``: ``answered``, ``no_solution`` (the workflow returned None or
no text), ``load_error`` (prompt.py or graph.py raised while loading, graph.py defines no class
Workflow, or Workflow(llm) raised), ``exception`` (the workflow raised while solving),
``exited`` (it called sys.exit), ``budget_exhausted`` or ``stopped`` (the harness ended it);
``detail`` holds the traceback, ``solution`` the code.
"""

import asyncio
import json
import os
import sys
import traceback
import types

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # one CPU per job
    os.environ.setdefault(_variable, "1")

import harness_rpc
import operators


class LoadError(Exception):
    """The workflow could not be made; the message says why."""


def _traceback(exc):
    """The traceback without this runner's frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _module(name, path, namespace):
    module = types.ModuleType(name)
    module.__file__ = path
    module.__dict__.update(namespace)
    sys.modules[name] = module
    with open(path, encoding="utf-8") as fh:
        exec(compile(fh.read(), path, "exec"), module.__dict__)
    return module


def make_workflow():
    prompt = _module("prompt", "prompt.py", {})
    seeded = {"operators": operators, "prompt": prompt, **{name: getattr(operators, name) for name in operators.__all__}}
    graph = _module("graph", "graph.py", seeded)
    workflow_class = getattr(graph, "Workflow", None)
    if not isinstance(workflow_class, type):
        raise LoadError(f"graph.py defines no class Workflow (it defines: {sorted(n for n in vars(graph) if not n.startswith('_') and n not in seeded)[:20]})")
    return workflow_class(operators.LLM())


def solution_text(result):
    """The code a workflow returned: a string; the first item of a tuple or list (AFlow's graphs
    return ``(solution, cost)``); a dict's ``code``, ``solution`` or ``response``; else None."""
    if isinstance(result, (tuple, list)) and result:
        result = result[0]
    if isinstance(result, dict):
        result = next((result[key] for key in ("code", "solution", "response") if isinstance(result.get(key), str)), None)
    return result if isinstance(result, str) and result.strip() else None


def solve(task):
    """(status, detail, solution)."""
    operators.VISIBLE_TESTS[:] = list(task.get("tests") or [])
    operators.TEST_TIMEOUT = float(task.get("test_timeout") or operators.TEST_TIMEOUT)
    try:
        workflow = make_workflow()
    except harness_rpc.HarnessStop:
        raise
    except LoadError as exc:
        return "load_error", str(exc), None
    except BaseException as exc:  # a syntax error, a failing import, a bad constructor
        return "load_error", _traceback(exc), None
    try:
        result = asyncio.run(workflow(task["problem"], task["entry_point"]))
    except (harness_rpc.HarnessStop, SystemExit):
        raise
    except BaseException as exc:
        return "exception", _traceback(exc), None
    solution = solution_text(result)
    if solution is None:
        return "no_solution", f"the workflow returned {type(result).__name__} {str(result)[:200]!r}, not the solution's code", None
    return "answered", "", solution


def main():
    with open("problem.json", encoding="utf-8") as fh:
        task = json.load(fh)
    try:
        status, detail, solution = solve(task)
    except harness_rpc.BudgetExhausted as exc:
        status, detail, solution = "budget_exhausted", str(exc), None
    except harness_rpc.HarnessStop as exc:
        status, detail, solution = "stopped", str(exc), None
    except SystemExit as exc:
        status, detail, solution = "exited", f"the workflow called sys.exit({exc.code!r})", None
    sys.stdout.flush()
    try:
        harness_rpc.bridge().call("finish", {"status": status, "detail": detail, "solution": solution})
    except harness_rpc.HarnessStop:
        pass


if __name__ == "__main__":
    main()
