"""A hand-written MAS program that uses every helper of `utils` once (tests/test_masgpt_sandbox.py).
It prints what each helper returned as one JSON line and answers "42"."""

from utils import *


class MAS():
    def __init__(self, model_list):
        self.llm = LLM(model_list)

    def forward(self, taskInfo):
        draft = self.llm.call_llm(f"Answer in one short sentence: {taskInfo}", temperature=0.0)
        signature = get_function_signature(self.llm, taskInfo)
        tests = get_test_cases(self.llm, taskInfo, signature or "def solve():")
        response, code = generate_and_extract_code(self.llm, "Write `x = 1` between <Code Solution> and </Code Solution> tags.", temperature=0.2, max_attempts=1)
        seen = {
            "call_llm": draft,
            "get_function_signature": signature,
            "get_test_cases": tests,
            "generate_and_extract_code": [response, code],
            "execute_code": execute_code("output = 6 * 7\nprint('computed')"),
            "execute_code_numpy": execute_code("import numpy as np\noutput = int(np.arange(4).sum())"),
            "sympy": str(__import__("sympy").factor("x**2 - 1")),
            "execute_code_timeout": execute_code("while True:\n    pass", timeout=1),
            "test_code_get_feedback": list(test_code_get_feedback("def double(x):\n    return 2 * x\n", ["assert double(2) == 4", "assert double(3) == 7"])),
            "extract_code_solution": extract_code_solution("<Code Solution>\n```python\ny = 2\n```\n</Code Solution>"),
            "extract_code": extract_code("Here:\n```python\nanswer = 42\n```"),
            "parse_to_json": parse_to_json('The JSON is {"k": [1, 2]}.'),
            "websearch": websearch(taskInfo),
        }
        print(json.dumps(seen))
        return 42
