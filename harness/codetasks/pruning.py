"""Which top-level statements of a model's program the solution needs (used by harness.codetasks.extraction).

A reply's program mixes the solution with driver code: example calls, prints, asserts, the model's
own tests, code that reads input. Driver code must go (it calls ``input()``, prints, fails its own
asserts), and everything that builds state the solution uses must stay. `needed_statements` keeps,
transitively from the names the tests use (the entry point, and for MBPP the classes its setup
code builds):

- every statement that binds a needed name: definitions, imports, assignments, and compound
  statements (``for``/``while``/``with``/``try``/``if``) that assign one; a driver statement only
  when no other statement binds that name (``for T in cases: print(f(T))`` does not replace the
  ``T`` the solution reads);
- every statement that changes a needed name's state without binding it, unless it is driver
  code: ``MEMO.append(...)``, ``TABLE[k] = v``, ``random.seed(0)``, ``fill(TABLE)``, a call of a
  top-level function that assigns the name as a ``global`` or changes its state, and loops or
  blocks doing so;
- star imports, while some needed name is bound nowhere in the code (it may come from them);
- calls that configure the interpreter (``sys.setrecursionlimit``).

"Needed" follows Python's scoping (the standard library's ``symtable``): a function needs the
global names it reads, not its parameters or locals, so a driver loop that reuses a parameter's
name (``n = int(input())``) is not pulled in. Driver code: ``if __name__ == "__main__":`` blocks,
and statements that assert, call the entry point, read input (``input``, ``sys.stdin``,
``sys.argv``, ``fileinput``), write to ``sys.stdout``/``sys.stderr``, exit, or run a test runner
(``unittest.main``, ``doctest.testmod``, a ``main()``). An import of a name the code itself
defines (``from solution import f``) is the model importing its own answer, and is dropped.
"""

from __future__ import annotations

import ast
import builtins
import symtable
import warnings
from dataclasses import dataclass, field

#: Top-level calls that configure the interpreter rather than exercise the code: kept.
CONFIGURING_CALLS = {"setrecursionlimit", "set_int_max_str_digits"}
#: Names (or attributes) whose mention marks driver code: input, output, exits, test runners.
_DRIVER_NAMES = {"input", "stdin", "stdout", "stderr", "argv", "fileinput", "exit", "quit", "_exit", "breakpoint", "main", "testmod"}
#: Calls that only show their arguments: passing a name to them does not change its state.
_OUTPUT_CALLS = {"print", "pprint", "display"}
_BUILTINS = set(dir(builtins))
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class _Statement:
    node: ast.stmt
    binds: set[str]
    uses: set[str]
    changes: set[str]
    driver: bool
    kept: bool = field(default=False)


def needed_statements(source: str, tree: ast.Module, entry_point: str, roots: set[str]) -> list[bool]:
    """For each statement of ``tree.body`` (the AST of ``source``), whether the solution needs it
    (module docstring). ``roots``: the names the tests use, the entry point among them."""
    lines = source.split("\n")
    tables = [_symbol_table(source_segment(lines, node)) for node in tree.body]
    functions = {node.name: _global_changes(node, table) for node, table in zip(tree.body, tables) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    statements = [
        _Statement(node, bound_names(node), _global_uses(node, table), _changed_names(node, functions), _is_driver(node, entry_point))
        for node, table in zip(tree.body, tables)
    ]
    defined = set().union(*(s.binds for s in statements if isinstance(s.node, _DEFINITIONS)))
    candidates = [s for s in statements if not is_main_guard(s.node) and not _imports_own_definition(s.node, defined)]
    resolved = set().union(*(s.binds for s in statements)) | _BUILTINS
    bound_outside_drivers = set().union(*(s.binds for s in candidates if not s.driver))
    needed = set(roots)
    for statement in candidates:
        if _is_configuring_call(statement.node):
            statement.kept = True
            needed |= statement.uses
    changed = True
    while changed:
        changed = False
        for statement in (s for s in candidates if not s.kept):
            binds = statement.binds & needed
            if statement.driver:  # a driver loop rebinding a global: only when nothing else binds it
                binds -= bound_outside_drivers
            if binds or (_is_star_import(statement.node) and needed - resolved):
                needed |= statement.uses
            elif statement.changes & needed and not statement.driver:
                needed |= statement.uses - statement.binds
            else:
                continue
            statement.kept = changed = True
    return [s.kept for s in statements]


def _assignment_targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
        return [node.target]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [item.optional_vars for item in node.items if item.optional_vars]
    return []


def bound_names(node: ast.AST) -> set[str]:
    """Names a top-level statement binds (descending into if/try/with/for/while blocks)."""
    if isinstance(node, _DEFINITIONS):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*"}
    names = {n.id for target in _assignment_targets(node) for n in ast.walk(target) if isinstance(n, ast.Name)}
    names |= {n.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)}
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            names |= bound_names(child)
        elif isinstance(child, ast.ExceptHandler):
            for stmt in child.body:
                names |= bound_names(stmt)
    return names


def source_segment(lines: list[str], node: ast.stmt) -> str:
    """The source lines of a top-level statement, its decorators included."""
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
    return "\n".join(lines[start : node.end_lineno])


def _symbol_table(segment: str) -> symtable.SymbolTable | None:
    """The symbol table of a statement's source (warnings such as invalid escape sequences not
    shown); None when the compiler refuses it (``nonlocal`` at the top level)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return symtable.symtable(segment, "<statement>", "exec")
        except SyntaxError:
            return None


def _global_uses(node: ast.stmt, table: symtable.SymbolTable | None) -> set[str]:
    """The global names a statement reads, by Python's scoping rules: a function's parameters
    and locals are not among them, the globals its body reads are. Without a symbol table: every
    name the statement mentions."""
    if table is None:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return _referenced(table, top=True)


def _referenced(table: symtable.SymbolTable, top: bool) -> set[str]:
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced() and (top or s.is_global())}
    for child in table.get_children():
        names |= _referenced(child, top=False)
    return names


def _base_name(node: ast.expr) -> str | None:
    """``MEMO`` for ``MEMO[0].append`` or ``MEMO.x``; None when the base is not a name."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _mutated_names(nodes: list[ast.stmt]) -> set[str]:
    """Names whose state ``nodes`` change: one of their methods is called (``MEMO.append``,
    ``random.seed``), they are passed to a call (``fill(TABLE)``), or one of their items or
    attributes is assigned or deleted (``TABLE[k] = v``)."""
    names: set[str | None] = set()
    for child in (n for node in nodes for n in ast.walk(node)):
        if isinstance(child, ast.Call):
            if isinstance(child.func, ast.Attribute):
                names.add(_base_name(child.func))
            if _callee_name(child) not in _OUTPUT_CALLS:
                names |= {arg.id for arg in [*child.args, *(k.value for k in child.keywords)] if isinstance(arg, ast.Name)}
        targets = child.targets if isinstance(child, (ast.Assign, ast.Delete)) else [child.target] if isinstance(child, (ast.AugAssign, ast.AnnAssign)) else []
        names |= {_base_name(t) for t in targets if isinstance(t, (ast.Subscript, ast.Attribute))}
    return {name for name in names if name}


def _global_changes(function: ast.FunctionDef | ast.AsyncFunctionDef, table: symtable.SymbolTable | None) -> set[str]:
    """The globals a top-level function changes when called: those it declares ``global`` and
    assigns, and those whose state it changes (`_mutated_names`)."""
    scopes = [t for t in table.get_children() if t.get_name() == function.name and t.get_type() == "function"] if table else []
    if not scopes:
        return set()
    scope = scopes[-1]
    declared = {s.get_name() for s in scope.get_symbols() if s.is_declared_global() and s.is_assigned()}
    return declared | (_mutated_names(function.body) & {s.get_name() for s in scope.get_symbols() if s.is_global()})


def _changed_names(node: ast.stmt, functions: dict[str, set[str]]) -> set[str]:
    """Names whose state a top-level statement changes without binding them: directly
    (`_mutated_names`) or through the top-level functions it calls (``init()`` filling TABLE)."""
    if isinstance(node, (*_DEFINITIONS, ast.Import, ast.ImportFrom)):
        return set()
    called = {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return _mutated_names([node]).union(*(functions.get(name, set()) for name in called))


def _is_driver(node: ast.stmt, entry_point: str) -> bool:
    """True for driver code (module docstring); a definition or an import never is."""
    if isinstance(node, (*_DEFINITIONS, ast.Import, ast.ImportFrom)):
        return False
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id == entry_point:
            return True
        name = child.id if isinstance(child, ast.Name) else child.attr if isinstance(child, ast.Attribute) else None
        if name in _DRIVER_NAMES:
            return True
    return False


def is_main_guard(node: ast.stmt) -> bool:
    """True for ``if __name__ == "__main__":`` (any test that reads ``__name__``)."""
    return isinstance(node, ast.If) and any(isinstance(n, ast.Name) and n.id == "__name__" for n in ast.walk(node.test))


def _callee_name(call: ast.Call) -> str:
    """``print`` for ``print(x)``, ``setrecursionlimit`` for ``sys.setrecursionlimit(n)``."""
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _is_configuring_call(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and _callee_name(node.value) in CONFIGURING_CALLS


def _is_star_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)


def _imports_own_definition(node: ast.stmt, defined: set[str]) -> bool:
    """True for ``from solution import f`` when the code defines ``f`` itself."""
    return isinstance(node, ast.ImportFrom) and bool(bound_names(node) & defined)
