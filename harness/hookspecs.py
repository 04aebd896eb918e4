"""Every hook of mas-harness. The docstrings here are the hooks' documentation.

A plugin is an ordinary module (or object) with functions named like these hooks and decorated
with `harness.hookimpl`. It is found through the entry-point group ``harness`` or named on the
command line with ``-p module.name``; ``-p no:NAME`` keeps the plugin with entry-point name (or
module name) NAME from loading, built-in plugins included (see
`harness.plugins.BUILTIN_PLUGINS`). A plugin implements any subset of the hooks and may omit
parameters it does not use (pluggy passes only the ones named).

Four groups of hooks:

- **registration** hooks are called once, when the plugins are loaded, and return classes;
- **option** and **selection** hooks are called once per command, before any work;
- **service** hooks are called by commands when they need what another plugin provides (the
  first implementation that answers wins; a built-in plugin provides each);
- **lifecycle** hooks are called while a run executes, *inside its asyncio event loop*: they
  must return quickly and must not block (no network or disk waits; hand long work to a
  thread). They receive read-only views (`harness.RunInfo`, `harness.Record`), never the
  engine's live objects, and their return values are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from harness.config import Config, OptionParser
    from harness.resources import Resources
    from harness.subruns import SampleRun
    from harness.types import Record, RunInfo, Sample

hookspec = pluggy.HookspecMarker("harness")

# --- registration: called once when plugins load; each returns a list of classes -------------


@hookspec
def harness_add_backends() -> list[type]:
    """Return backend classes (`harness.Backend` subclasses). Each sets ``scheme``, the part of a
    backend spec before ``:`` (``openai`` in ``openai:gpt-4o-mini``), and may override
    ``from_spec(spec, config)``. A scheme registered by two plugins is an error that names both
    distributions; a class that leaves an abstract method unimplemented is refused, naming the
    plugin and the method."""


@hookspec
def harness_add_systems() -> list[type]:
    """Return agent-system classes (`harness.System` subclasses), unique by ``name``. A system
    must implement the method each of its ``kinds`` needs (``solve`` for code/qa, ``act`` for
    dialog), else registration fails naming the plugin."""


@hookspec
def harness_add_tasks() -> list[type]:
    """Return task classes (`harness.Task` subclasses, or `harness.codetasks.CodeTask` for code
    tasks), unique by ``name``."""


@hookspec
def harness_add_sandboxes() -> list[type]:
    """Return sandbox tiers (`harness.Sandbox` subclasses), unique by ``name``."""


@hookspec
def harness_add_exporters() -> list[type]:
    """Return leaderboard exporter classes, each with a ``name``, ``formats`` (names accepted by
    ``--format``) and ``export(rows, fmt) -> str | bytes``; they are created with no arguments
    and receive the rows of `harness.results.leaderboard.build_rows` (dicts, one per
    configuration). A format claimed by two exporters is an error that names both plugins."""


# --- options, commands and configuration: once per command, before any work -----------------


@hookspec
def harness_addoption(parser: OptionParser) -> None:
    """Add command-line options with ``parser.addoption(*names, **argparse_kwargs)``.

    They are accepted by every command that runs samples (``run``, ``score``, ``check-task``,
    ``sandbox check|exec`` …) and read back with ``config.getoption(dest)``, which gives the
    value typed, else harness.toml's ``[run]`` one, else the ``default`` given here. Called
    before the command line is parsed."""


@hookspec
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    """Add sub-commands to ``harness``. ``subparsers`` is argparse's sub-parser action:
    ``p = subparsers.add_parser(NAME, help=…)``; then ``add_common(p)`` adds the usual ``-p``,
    ``--config`` and ``--results-dir`` (``add_common(p, plugin_options=True)`` also adds the
    options of `harness_addoption`, for commands that run samples; ``results_dir=False`` leaves
    out ``--results-dir``, for commands that neither read nor write run records); and
    ``p.set_defaults(handler=fn)`` where ``fn(config) -> int`` returns the exit code (see
    `harness.ExitCode`) and raises `harness.HarnessError` subclasses for bad input. Every
    built-in command is added this way too."""


@hookspec
def harness_configure(config: Config) -> None:
    """Called once after the command line and harness.toml are parsed, before the command's
    handler runs. ``config`` may be inspected; raise `harness.ConfigError` to refuse it."""


# --- selection: once per run, before scheduling -----------------------------------------------


@hookspec
def harness_collection_modifyitems(config: Config, samples: list[Sample]) -> None:
    """Filter or reorder the selected samples in place, after -k/-m/node ids/--lf and before
    --limit. The run records the final selection in run.json."""


# --- services: called by commands; the first implementation that answers wins --------------


@hookspec(firstresult=True)
def harness_run_samples(config: Config, resources: Resources, request: SampleRun) -> Awaitable[dict[str, Any]] | None:
    """Return an awaitable that runs ``request`` (a `harness.subruns.SampleRun`: a system on
    chosen samples of a task, as a run folder) on ``resources`` that the caller holds open, and
    gives its summary. Plugins call it through `harness.subruns.run_samples`; the built-in plugin
    ``subruns`` implements it with the engine that `harness run` uses."""


@hookspec(firstresult=True)
def harness_show(config: Config, name: str) -> int | None:
    """``harness show NAME`` where NAME is no run in the results folder: a plugin that keeps
    other records there (``harness optimize``'s searches) prints the one named NAME and returns
    the exit code; None when NAME is not one of its own."""


# --- lifecycle: inside the run's event loop; must not block ----------------------------------


@hookspec
def harness_run_start(run: RunInfo) -> None:
    """A run has started its backends and sandbox and is about to schedule its first sample.
    ``run.spec`` is a copy of what run.json holds; ``run.pending`` the attempts to schedule."""


@hookspec
def harness_sample_start(run: RunInfo, node_id: str, repeat: int) -> None:
    """One (sample, repeat) is about to be solved: it is in flight until its
    `harness_sample_finish`."""


@hookspec
def harness_sample_phase(run: RunInfo, node_id: str, repeat: int, phase: str) -> None:
    """The system working on (``node_id``, ``repeat``) entered a phase: it called
    ``ctx.phase(name)`` (or ``ctx.trace("phase", name=…)``), which also writes a ``phase`` event
    to the transcript. ``phase`` is a short text for people, e.g. ``round 2: Engineer``; it lasts
    until the sample's next phase or its finish. Systems whose samples take long (several roles,
    rounds) report phases so that progress displays can show where each sample is."""


@hookspec
def harness_llm_call(run: RunInfo, call: dict[str, Any]) -> None:
    """A model call finished (or failed for good). ``call`` is its transcript entry: role,
    backend, request, response, usage (tokens), cost (USD), latency (seconds), error."""


@hookspec
def harness_server_state(backend: str, server: dict[str, Any], state: str, detail: str) -> None:
    """A server that a backend launched (a llama.cpp or vLLM process, see
    `harness.serving.managed.ManagedServer`) changed state, during any command that starts
    backends, before `harness_run_start` too. ``backend`` is the backend's spec; ``server`` a
    copy of its description (name, argv, port, logs, pid); ``state`` one of ``starting``,
    ``loading`` (still starting, reported every few seconds; ``detail`` is its newest log
    line), ``ready`` (``detail``: how long it took), ``failed`` (``detail``: why, with the tail
    of its log) and ``stopped``. May be called from an exit handler when the harness ends."""


@hookspec
def harness_sample_finish(run: RunInfo, record: Record) -> None:
    """One (sample, repeat) finished and its record was appended to samples.jsonl."""


@hookspec
def harness_run_finish(run: RunInfo, summary: dict[str, Any]) -> None:
    """The run ended (finished, stopped, interrupted, crashed or stopped by budget), its
    backends and sandbox are closed, and ``summary`` (what summary.json holds) was written."""
