"""Running a version of the code against test suites in the sandbox, and reading the verdict.

The suites are ``examples`` (from the task statement) and ``qa`` (QA's own tests); they run with
`sandbox_runner` as the driver, which reports each module load and each test separately, so one
broken test never hides the others.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import ExecResult
from harness_sop import sandbox_runner
from harness_sop.documents import CheckFailure, Code, TestReport
from harness_sop.office import Office

RUNNER_FILE, PLAN_FILE = "_sop_runner.py", "_sop_plan.json"
PER_TEST_SECONDS = 3
#: Characters of output kept when the run ended without a report.
OUTPUT_CHARS = 1500


def suite_path(suite: str) -> str:
    return f"tests/test_{suite}.py"


def _job(code: Code, suites: dict[str, str]) -> tuple[dict[str, str], float]:
    """The files of the sandbox job, and its time limit."""
    plan = {
        "modules": [path for path in code.files if path.endswith(".py")],
        "suites": {suite: suite_path(suite) for suite in suites},
        "per_test_seconds": PER_TEST_SECONDS,
    }
    files = dict(code.files)
    files.update({suite_path(suite): source for suite, source in suites.items()})
    files[RUNNER_FILE] = Path(sandbox_runner.__file__).read_text()
    files[PLAN_FILE] = json.dumps(plan)
    steps = len(plan["modules"]) + sum(source.count("def test") + 1 for source in suites.values())
    return files, 5.0 + PER_TEST_SECONDS * steps


def read_report(result: ExecResult, code: Code) -> TestReport:
    """The report from the runner's last line; a run that never reported is one failure."""
    lines = [line for line in result.stdout.splitlines() if line.startswith(sandbox_runner.MARKER)]
    if not lines:
        why = "timed out" if result.timed_out else "ran out of memory" if result.oom else f"exited with code {result.exit_code}"
        output = (result.stderr or result.stdout)[-OUTPUT_CHARS:]
        failure = CheckFailure(suite="load", name="running the tests", error=f"the test run {why} before reporting")
        return TestReport(code_version=code.version, passed=False, examples_passed=False, tested=False, ran=0, failures=[failure], output=output)
    results = json.loads(lines[-1][len(sandbox_runner.MARKER) :])["results"]
    failures = [CheckFailure(suite=r["suite"], name=r["name"], error=r["error"]) for r in results if not r["ok"]]
    examples_ran = any(r["suite"] == "examples" for r in results)
    tested = any(r["suite"] != "load" for r in results)
    return TestReport(
        code_version=code.version,
        passed=tested and not failures,
        examples_passed=examples_ran and not any(f.suite in ("examples", "load") for f in failures),
        tested=tested,
        ran=len(results),
        failures=failures,
    )


async def run_checks(office: Office, code: Code, suites: dict[str, str]) -> TestReport:
    files, timeout = _job(code, suites)
    result = await office.execute(files, ["python3", RUNNER_FILE], timeout)
    report = read_report(result, code)
    office.trace(
        "test_run",
        code_version=code.version,
        suites=sorted(suites),
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        duration=round(result.duration, 4),
        tier=result.tier,
        passed=report.passed,
        ran=report.ran,
        failed=len(report.failures),
    )
    return report
