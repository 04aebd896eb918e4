"""Every hook of mas-harness. The docstrings here are the hooks' documentation.

A plugin is an ordinary module (or object) with functions named like these hooks and
decorated with `harness.hookimpl`. It is found through the entry-point group ``harness``
or named on the command line with ``-p module.name``; ``-p no:NAME`` keeps the plugin with
entry-point name (or module name) NAME from loading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from harness.config import Config, OptionParser
    from harness.runner import Run
    from harness.types import Sample

hookspec = pluggy.HookspecMarker("harness")

# --- registration ---------------------------------------------------------------------------


@hookspec
def harness_add_backends() -> list[type]:
    """Return backend classes. Each has a class attribute ``scheme`` (the part before ``:`` of a
    backend spec, e.g. ``openai`` in ``openai:gpt-4o-mini``) and ``from_spec(spec, config)``.
    A scheme registered by two plugins is an error that names both distributions."""


@hookspec
def harness_add_systems() -> list[type]:
    """Return agent-system classes (``harness.system.System`` subclasses), unique by ``name``."""


@hookspec
def harness_add_tasks() -> list[type]:
    """Return task classes (``harness.task.Task`` subclasses), unique by ``name``."""


@hookspec
def harness_add_sandboxes() -> list[type]:
    """Return sandbox tiers (``harness.sandbox.Sandbox`` subclasses), unique by ``name``."""


@hookspec
def harness_add_exporters() -> list[type]:
    """Return leaderboard exporter classes, each with a ``name``, ``formats`` (names accepted by
    ``--format``) and ``export(rows, fmt) -> str | bytes``; they are created with no arguments
    and receive the rows of `harness.leaderboard.build_rows`. A format claimed by two exporters
    is an error that names both plugins."""


# --- options and configuration ---------------------------------------------------------------


@hookspec
def harness_addoption(parser: OptionParser) -> None:
    """Add command-line options with ``parser.addoption(*names, **argparse_kwargs)``.

    They are accepted by every command that runs samples (run, score, check-task, sandbox …)
    and are read back with ``config.getoption(dest)``."""


@hookspec
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    """Add sub-commands to ``harness``: ``p = subparsers.add_parser(NAME, help=…)``, then
    ``add_common(p)`` for the usual ``-p``/``--config``/``--results-dir``, and
    ``p.set_defaults(handler=fn)`` where ``fn(config) -> int`` returns the exit code."""


@hookspec
def harness_configure(config: Config) -> None:
    """Called once after the command line and harness.toml are parsed, before any work."""


# --- selection --------------------------------------------------------------------------------


@hookspec
def harness_collection_modifyitems(config: Config, samples: list[Sample]) -> None:
    """Filter or reorder the selected samples in place, after -k/-m/node ids/--lf, before --limit."""


# --- lifecycle (reporters, tracers, exporters) -------------------------------------------------


@hookspec
def harness_run_start(run: Run) -> None:
    """A run is about to schedule its first sample; ``run.spec`` is what run.json holds."""


@hookspec
def harness_llm_call(run: Run, call: dict[str, Any]) -> None:
    """A model call finished (or failed for good). ``call`` is the transcript entry: role,
    request, response, usage, cost, latency, error."""


@hookspec
def harness_sample_finish(run: Run, record: dict[str, Any]) -> None:
    """One (sample, repeat) finished and its record was written to samples.jsonl."""


@hookspec
def harness_run_finish(run: Run, summary: dict[str, Any]) -> None:
    """The run ended (finished, interrupted or stopped by budget); ``summary`` is summary.json."""
