"""The Engineer: writes the code from the upstream documents, and rewrites it from QA's reports.

A fix prompt carries the current code, QA's latest report (error output included) and a line per
earlier version, so the Engineer sees the history of what failed.
"""

from __future__ import annotations

import re
import textwrap

from harness.codetasks.extraction import extract_code
from harness_sop.brief import SOLUTION_FILE
from harness_sop.documents import Code, SystemDesign, TaskList, TestReport
from harness_sop.messages import USER_REQUIREMENT, Envelope
from harness_sop.roles import (
    RUN_TESTS,
    WRITE_CODE,
    WRITE_DESIGN,
    WRITE_PRD,
    WRITE_TASKS,
    Role,
)

MAX_FILES = 4
REPORT_CHARS = 2500
_PY_PATH = re.compile(r"^[A-Za-z_][\w/]*\.py$")


def project_files(design: SystemDesign | None, tasks: TaskList | None) -> list[str]:
    """The source files to write: the task list's order, then the design's list; only plain
    relative ``.py`` paths that are not tests; ``main.py`` when nothing usable is named."""
    named = (tasks.task_list if tasks else []) + (design.file_list if design else [])
    paths = []
    for item in named:
        words = item.strip().strip("`'\"").split()
        path = words[0].strip("`'\":,") if words else ""
        if _PY_PATH.match(path) and ".." not in path and not path.split("/")[-1].startswith("test"):
            paths.append(path)
    return list(dict.fromkeys(paths))[:MAX_FILES] or ["main.py"]


def _fence(source: str) -> str:
    return f"```python\n{source.rstrip()}\n```"


class Engineer(Role):
    key = "engineer"
    name, title = "Alex", "Engineer"
    goal = "write correct, complete, runnable Python code that meets the requirement and passes the tests."
    constraints = "Use the standard library only; keep the required names and signatures; write complete code, no placeholders."
    action = WRITE_CODE
    needs = (USER_REQUIREMENT, WRITE_PRD, WRITE_DESIGN, WRITE_TASKS)
    reacts_to = (RUN_TESTS,)

    def __init__(self, office, performed) -> None:
        super().__init__(office, performed)
        self.versions: list[Code] = []
        self.reports: list[TestReport] = []

    async def act(self, news: list[Envelope]) -> list[Envelope]:
        reports = [e.document for e in news if e.cause_by == RUN_TESTS and isinstance(e.document, TestReport)]
        if reports:
            self.reports.extend(reports)
            code = await self.write(reports[-1])
        elif not self.versions:
            code = await self.write(None)
        else:
            return []
        self.versions.append(code)
        return [Envelope(code.render(), self.action, self.key, document=code)]

    def files_to_write(self, report: TestReport | None) -> list[str]:
        if self.office.brief.benchmark:
            return [SOLUTION_FILE]
        files = project_files(self.document(WRITE_DESIGN), self.document(WRITE_TASKS))  # type: ignore[arg-type]
        if report is None:
            return files
        blamed = [f for f in files if any(f in failure.error or f in failure.name for failure in report.failures)]
        return blamed or files

    async def write(self, report: TestReport | None) -> Code:
        files = dict(self.versions[-1].files) if self.versions else {}
        answer, notes = (self.versions[-1].answer, []) if self.versions else ("", [])
        for path in self.files_to_write(report):
            reply = await self.office.reply(self.key, self.messages(self.instruction(path, files, report)))
            if self.office.brief.benchmark:
                answer, decisions = self.function_code(reply)
                files[path] = self.office.brief.preamble + ("" if answer.startswith((" ", "\t")) else "\n") + answer
            else:
                files[path], decisions = self.module_code(reply)
            notes += [f"{path}: {d}" for d in decisions]
        return Code(version=len(self.versions) + 1, files=files, answer=answer, notes=notes)

    def function_code(self, reply: str) -> tuple[str, list[str]]:
        """The completion as the task's scorer would take it: the reply's code, appended to the
        prompt's code (a body is indented under the prompt's signature)."""
        brief = self.office.brief
        return extract_code(reply, brief.entry_point or "", brief.preamble)

    @staticmethod
    def module_code(reply: str) -> tuple[str, list[str]]:
        """A whole module from the reply: with no entry point and no prompt, extract_code keeps
        the code it finds as it is (``if __name__ == "__main__":`` included)."""
        return extract_code(reply, "", "")

    def shown(self, path: str, files: dict[str, str]) -> str:
        """The Engineer's own code of ``path`` (in benchmark mode without the prompt's preamble)."""
        if self.office.brief.benchmark and self.versions:
            return self.versions[-1].answer
        return files.get(path, "")

    def instruction(self, path: str, files: dict[str, str], report: TestReport | None) -> str:
        brief = self.office.brief
        what = brief.contract() if brief.benchmark else f"Write the file {path} of the project."
        if report is None:
            others = {p: s for p, s in files.items() if p != path}
            written = f"Files already written:\n{textwrap.shorten(str(list(others)), 200)}\n" if others else ""
            return f"{written}{what} Reply with the complete code of {path} in one ```python block."
        history = "\n".join(
            f"- version {r.code_version}: {len(r.failures)} of {r.ran} checks failed" + (f" ({r.failures[0].name})" if r.failures else "")
            for r in self.reports[:-1]
        )
        return (
            f"Your code (version {report.code_version}) did not pass QA.\n\n{_fence(self.shown(path, files))}\n\n"
            f"{report.render()[:REPORT_CHARS]}\n\n"
            + (f"Earlier versions:\n{history}\n\n" if history else "")
            + f"Fix the code. {what} Reply with the complete corrected code of {path} in one ```python block."
        )
