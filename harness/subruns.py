"""Runs started by a plugin's command: a system on chosen samples of a task, recorded as a run.

A command that scores systems as part of its own work (``harness optimize`` scores every
candidate workflow on the validation problems) gets the same run folders, records, sandbox,
costs and resumability as ``harness run``, on the backends and sandbox it already holds open::

    async with resources.opened(folder):
        summary = await run_samples(config, resources, SampleRun(
            results_dir=folder / "runs", run_id="round-2-pass-1",
            system="aflow", system_options={"workflow": f"{folder}:2"},
            task="humaneval", task_options={"holdout": "validation"},
            node_ids=("humaneval::HumanEval/3", …),
        ))

Plugins may not import the engine; this module is the public door to it: the built-in plugin
``subruns`` answers the `harness_run_samples` hook with the engine's scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.context import Budget
from harness.errors import PluginError

if TYPE_CHECKING:
    from harness.config import Config
    from harness.resources import Resources


@dataclass(frozen=True)
class SampleRun:
    """One run to make (or finish): ``system`` with ``system_options`` on the samples
    ``node_ids`` of ``task`` with ``task_options``, as the run folder ``results_dir/run_id``.

    ``repeats`` attempts per sample (seed of repeat r: ``seed + r``), at most ``max_concurrency``
    samples in flight (or ``"auto"``: what the backends and sandbox can serve); ``budget`` (USD), when given, is shared with the caller: the run adds what
    it spends and stops scheduling once it is exhausted."""

    results_dir: Path
    run_id: str
    system: str
    task: str
    node_ids: tuple[str, ...]
    system_options: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    seed: int | None = None
    max_concurrency: int | str = 4
    budget: Budget | None = None


async def run_samples(config: Config, resources: Resources, request: SampleRun) -> dict[str, Any]:
    """Run ``request`` on ``resources``, which the caller has opened (``resources.opened``): its
    backends and sandbox are used as they are, never started or closed here, and the caller
    keeps SIGTERM and the servers' time (the summary's ``serving`` is empty). Returns the run's
    summary (what summary.json holds: ``counts``, ``metrics`` with ``pass@1``, ``cost``,
    ``tokens``, ``wall_seconds``, ``status`` …).

    A run folder that exists already is not made again: a finished run's summary is returned as
    it is (nothing runs), and an unfinished one (its process was killed) is taken over and
    resumed, running only its missing records, as ``harness run --resume`` does. Raises
    UsageError when that folder holds a run of other options, or names unknown samples; lifecycle
    hooks fire as for any run (progress lines, `harness_sample_finish` …)."""
    awaitable = config.plugins.hook.harness_run_samples(config=config, resources=resources, request=request)
    if awaitable is None:
        raise PluginError("no plugin runs samples: the built-in plugin `subruns` is disabled (drop -p no:subruns)")
    return await awaitable
