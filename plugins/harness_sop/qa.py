"""The QA Engineer: writes tests from the requirement, the PRD and the design (never from the code,
never from the task's hidden tests), runs them with the task statement's examples on every new
version of the code, and routes the report: back to the Engineer while it fails and fix rounds
remain (and feedback is on), else to the team as the final word."""

from __future__ import annotations

import ast
import re

from harness.codetasks.extraction import extract_code
from harness_sop.checks import run_checks, suite_path
from harness_sop.documents import Code, TestReport, TestSuite
from harness_sop.examples import examples_suite
from harness_sop.messages import TEAM, USER_REQUIREMENT, Envelope
from harness_sop.roles import (
    RUN_TESTS,
    WRITE_CODE,
    WRITE_DESIGN,
    WRITE_PRD,
    WRITE_TESTS,
    Role,
)

_TEST_DEF = re.compile(r"^\s*def\s+(test\w*)\s*\(", re.MULTILINE)


def extract_tests(reply: str) -> str:
    """QA's test module from its reply: its ``test*`` functions with the imports and helpers
    they need; bare top-level asserts (common with small models) are wrapped into functions.
    Returns "" when the reply holds no usable test."""
    names = _TEST_DEF.findall(reply)
    code, _ = extract_code(reply, names[0] if names else "", "", needed=names)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    if not names:
        asserts = [node for node in tree.body if isinstance(node, ast.Assert)]
        imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        wrapped = [f"def test_statement_{i}():\n    {ast.unparse(node)}\n" for i, node in enumerate(asserts, 1)]
        return "\n".join([ast.unparse(node) for node in imports] + wrapped) if wrapped else ""
    return code if any(isinstance(n, ast.FunctionDef) and n.name.startswith("test") for n in tree.body) else ""


class QaEngineer(Role):
    key = "qa_engineer"
    name, title = "Edward", "QA Engineer"
    goal = "check that the code does what the requirement and the design promise, and report every failure to the Engineer."
    constraints = "Test only behaviour the requirement, the PRD or the design states; you never see the code while writing tests."
    action = RUN_TESTS
    needs = (USER_REQUIREMENT, WRITE_PRD, WRITE_DESIGN, WRITE_CODE)
    reads = (USER_REQUIREMENT, WRITE_PRD, WRITE_DESIGN)

    def __init__(self, office, performed) -> None:
        super().__init__(office, performed)
        self.tests: str | None = None  # written once, on the first version of the code
        self.fixes_requested = 0

    async def act(self, news: list[Envelope]) -> list[Envelope]:
        codes = [e.document for e in news if e.cause_by == WRITE_CODE and isinstance(e.document, Code)]
        if not codes:
            return []
        code = codes[-1]
        published = []
        if self.tests is None:
            self.tests = await self.write_tests(code)
            suite = TestSuite(files={suite_path("qa"): self.tests} if self.tests else {})
            published.append(Envelope(suite.render() or "QA wrote no usable test.", WRITE_TESTS, self.key, document=suite))
        report = await run_checks(self.office, code, self.suites())
        if self.tests and any(f.suite == "qa" and f.name.startswith("loading") for f in report.failures):
            self.office.trace("qa_tests_dropped", reason="QA's test file does not load; the Engineer cannot fix that")
            self.tests = ""
            report = await run_checks(self.office, code, self.suites())
        published.append(Envelope(report.render(), self.action, self.key, frozenset({self.route(report)}), report))
        return published

    def suites(self) -> dict[str, str]:
        suites = {}
        if self.office.brief.examples:
            suites["examples"] = examples_suite(list(self.office.brief.examples))
        if self.tests:
            suites["qa"] = self.tests
        return suites

    def route(self, report: TestReport) -> str:
        """The Engineer while something failed and fixing is allowed; the team otherwise."""
        settings = self.office.settings
        if not report.failures or not settings.feedback or self.fixes_requested >= settings.max_fix_rounds:
            return TEAM
        self.fixes_requested += 1
        return "engineer"

    async def write_tests(self, code: Code) -> str:
        brief = self.office.brief
        if brief.benchmark:
            target = f"`{brief.signature or brief.entry_point}`"
            use = f"`{brief.entry_point}` is already defined when the tests run: do not define it and do not import it."
        else:
            modules = ", ".join(p[:-3].replace("/", ".") for p in code.files)
            target = f"the project (modules: {modules})"
            use = "Import what you test from those modules. Never call input()."
        instruction = (
            f"Write unit tests for {target} from the requirement, the PRD and the design; you do not see the code. "
            f"Write 3 to 5 functions named test_... that check results with assert. {use} "
            "Reply with the tests in one ```python block."
        )
        return extract_tests(await self.office.reply(self.key, self.messages(instruction)))
