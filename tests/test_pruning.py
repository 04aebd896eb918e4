"""Top-level pruning, property-based (hypothesis): whatever mix and order of statements that build
the table the solution reads and driver statements (prints, asserts, input-reading loops that
reuse a parameter's or the table's name, bare calls, ``__main__`` blocks), extraction keeps every
builder, in order, and drops every driver."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.codetasks.extraction import extract_code

HEADER = "import contextlib\n\nT = []\n\n\ndef _add(value):\n    T.append(value)\n\n\ndef f(n=None):\n    return list(T)\n"
BUILDERS = [
    "T.append({k})",
    "T.extend([{k}, {k}])",
    "T[:0] = [{k}]",
    "for _i in range({k}):\n    T.append(_i)",
    "while len(T) < {k} + 3:\n    T.append({k})",
    "with contextlib.suppress(KeyError):\n    T.append({k})",
    "try:\n    T.append({k})\nexcept Exception:\n    pass",
    "if T is not None:\n    T.insert(0, {k})",
    "_add({k})",
]
DRIVERS = [
    "print(f())",
    "n = int(input())\nprint(f(n))",
    "while True:\n    n = input()\n    print(f(n))",
    "for T in [[{k}]]:\n    assert f() == [{k}]",
    "assert f() is not None",
    "f()",
    "result = f()\nprint(result)",
    "import sys\nsys.stdout.write(str(f()))",
    "if __name__ == '__main__':\n    print(f({k}))",
]

#: (is a builder, the statement)
statement = st.one_of(st.tuples(st.just(True), st.sampled_from(BUILDERS)), st.tuples(st.just(False), st.sampled_from(DRIVERS)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(statement, st.integers(1, 5)), max_size=10))
def test_builders_are_kept_in_order_and_drivers_dropped(statements):
    lines = [(is_builder, template.format(k=k)) for (is_builder, template), k in statements]
    program = HEADER + "\n" + "\n".join(line for _, line in lines) + "\n"
    oracle = {}
    exec(HEADER + "\n" + "\n".join(line for is_builder, line in lines if is_builder) + "\n", oracle)

    code, decisions = extract_code(f"```python\n{program}```", "f")
    namespace = {}
    exec(code, namespace)
    assert namespace["f"]() == oracle["f"](), (program, code, decisions)
    assert not any(marker in code for marker in ("print(", "input(", "assert", "__main__", "stdout", "\nf()")), (program, code)
