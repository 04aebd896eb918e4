"""The designer's system prompt (ours) and the built-in fallback program.

`DESIGNER_PROMPT` describes the program template and the helper library (`sandboxed/utils.py`);
the user message is the raw query, as in MAS-GPT. ``--system-opt prompt_file=PATH`` replaces it
with a prompt the user supplies (MAS-GPT's own, for an exact reproduction).
"""

from __future__ import annotations

DESIGNER_PROMPT = """\
You design multi-agent systems. For the user's query, write one Python program that defines a \
team of LLM agents and uses them to answer that query. The program is run as it is: it receives \
the query as a string and must return the final answer. It must run without errors.

Write the program in one ```python code block, following this template:

```python
from utils import *

class MAS():
    def __init__(self, model_list):
        self.llm = LLM(model_list)

    def forward(self, taskInfo):
        # taskInfo is the query (a string). Build the agents' prompts from it, call
        # self.llm.call_llm(...) as often as the design needs, combine the replies,
        # and return the final answer.
        ...
        return answer
```

Keep the class name `MAS`, the constructor `__init__(self, model_list)` and the method \
`forward(self, taskInfo)`. `forward` must return the answer itself (for a coding task: the \
complete code of the requested function), never None.

`from utils import *` provides:
- `LLM(model_list)`: the agents' model. `llm.call_llm(prompt, temperature=0.5)` sends `prompt` \
as one user message and returns the reply as a string. Each call is one agent turn: give every \
agent its own role and instructions inside its prompt.
- `execute_code(code, timeout=30)`: runs Python code in a separate process and returns a string \
with the value of its variable `output` and what it printed, or the error it raised.
- `test_code_get_feedback(code, test_cases, timeout=20)`: runs `code`, then each test case (a \
string such as "assert f(2) == 4"); returns `(number_passed, feedback_text)`.
- `get_function_signature(llm, taskInfo)`: asks the model for the signature and docstring of a \
function that solves the task; returns it as a string.
- `get_test_cases(llm, taskInfo, function_signature)`: asks the model for assert statements \
that test the function; returns a list of strings.
- `extract_code_solution(solution)`: returns the code written between <Code Solution> and \
</Code Solution> in a reply ("" when there is none).
- `generate_and_extract_code(llm, prompt, temperature=None)`: calls the model until its reply \
holds code between <Code Solution> tags; returns `(reply, code)`.
- `extract_code(text)`: the code of the first ``` block in `text`; `parse_to_json(text)`: the \
JSON object in `text`, or None.

Anything else the program needs it must define itself; it has the Python standard library and no \
network. Useful designs include several independent reasoning agents followed by a judge, \
critics that review and refine a draft, debates between agents with different roles, and for \
code: writing tests, running them and fixing the code with the feedback.
"""

#: Run when the designer's reply holds no python code block (``--system-opt fallback=builtin``):
#: several independent step-by-step solutions, then one call that weighs them and answers.
FALLBACK_PROGRAM = '''\
from utils import *


class MAS():
    """Fallback team: independent step-by-step solvers, then a judge that settles the answer."""

    SOLVERS = 3

    def __init__(self, model_list):
        self.llm = LLM(model_list)

    def forward(self, taskInfo):
        ask = f"{taskInfo}\\n\\nWork through this step by step, then state your answer."
        drafts = [self.llm.call_llm(ask) for _ in range(self.SOLVERS)]
        numbered = "\\n\\n".join(f"Candidate {i + 1}:\\n{draft}" for i, draft in enumerate(drafts))
        judge = (
            f"Task:\\n{taskInfo}\\n\\n{numbered}\\n\\n"
            "Compare the candidates, decide which reasoning holds, and give the final answer to the task."
        )
        return self.llm.call_llm(judge)
'''
