"""System ``masgpt``: MAS-GPT (Ye et al., "MAS-GPT: Training LLMs to Build LLM-based Multi-Agent
Systems", ICML 2025), run safely and scored honestly.

For each query a designer model (``--role designer=SPEC``) writes a Python program defining
``class MAS`` (`harness_masgpt.design`); the program runs in the sandbox with our helper library
as ``utils`` (`sandboxed/utils.py`), its ``call_llm``s served by the ``agent`` model
(``--role agent=SPEC``) over the sandbox's RPC bridge, metered and held to a per-sample budget
(`harness_masgpt.execute`). Every way a program can fail is a scored failure with its own status
(`harness_masgpt.execute.STATUSES`). Options: `harness_masgpt.options`.
"""

from harness import hookimpl
from harness_masgpt.system import MasGpt

__all__ = ["MasGpt"]


@hookimpl
def harness_add_systems() -> list[type]:
    return [MasGpt]
