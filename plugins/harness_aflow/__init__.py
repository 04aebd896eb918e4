"""System ``aflow`` and the command ``harness optimize``: AFlow (Zhang et al. 2024, "AFlow:
Automating Agentic Workflow Generation") in mas-harness.

An optimizer model (``--role optimizer=SPEC``) rewrites a workflow (`harness_aflow.workflows`:
Python code composing our operators, `sandboxed/operators.py`) round after round; each candidate
is scored on the validation side of the task (``--task-opt holdout=validation``) as ordinary runs
of the system ``aflow`` (`harness_aflow.optimize`), its operators' model calls served by the
``executor`` model over the sandbox's RPC bridge (`harness_aflow.execute`). Everything goes into
a resumable search folder (`harness_aflow.folder`); ``harness run --system aflow --system-opt
workflow=DIR[:ROUND]`` then scores a chosen workflow on the test side.
"""

from typing import Any

from harness import Config, hookimpl
from harness_aflow.system import AFlow

__all__ = ["AFlow"]


@hookimpl
def harness_add_systems() -> list[type]:
    return [AFlow]


@hookimpl
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    from harness_aflow.command import add_command

    add_command(subparsers, add_common)


@hookimpl
def harness_show(config: Config, name: str) -> int | None:
    from harness_aflow.command import show_search

    return show_search(config, name)
