"""Public wing: the kit shared by code tasks (HumanEval, MBPP) and systems that write code.

- `harness.codetasks.task`: `CodeTask`, the base of tasks whose answers are Python programs
  checked by executing tests (options, extraction, time limits, verdicts, dataset identity);
- `harness.codetasks.extraction`: `extract_code`, finding the program in a chatty reply;
- `harness.codetasks.testrunner`: `run_tests`, running a test program in the sandbox and
  turning what happened into an Outcome;
- `harness.codetasks.reftimes`: per-problem time limits from measured reference solutions;
- `harness.codetasks.datafiles`: reading JSON/JSONL data files and hub datasets;
- `harness.codetasks.external`: the system ``external`` (scoring completions made elsewhere).
"""

from harness.codetasks.extraction import extract_code
from harness.codetasks.task import CodeTask, Problem
from harness.codetasks.testrunner import run_tests

__all__ = ["CodeTask", "Problem", "extract_code", "run_tests"]
