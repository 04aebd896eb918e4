"""System ``sop``: a MetaGPT-style software company (Hong et al., "MetaGPT: Meta Programming for a
Multi-Agent Collaborative Framework") whose QA feedback really reaches the Engineer.

Roles (``--role KEY=SPEC``): product_manager, architect, project_manager, engineer, qa_engineer.
Also registers the sub-command ``harness sop "IDEA" --out DIR`` (see `harness_sop.company`).
"""

from typing import Any

from harness import hookimpl
from harness_sop.company import add_command
from harness_sop.system import Sop

__all__ = ["Sop"]


@hookimpl
def harness_add_systems() -> list[type]:
    return [Sop]


@hookimpl
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    add_command(subparsers, add_common)
