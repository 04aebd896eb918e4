"""Per-problem time limits from the reference solution's measured CPU time.

A problem's limit is ``max(floor, factor x the CPU seconds its reference solution takes)``, so
that a problem whose own tests are slow is not failed for being slow, and a quick one does not
wait long on a looping answer. CPU time (the kernel's accounting of the program's process) does
not grow with the machine's load as wall-clock time does. Reference times are measured in the
run's sandbox tier the first time a problem is scored and cached in
``$XDG_CACHE_HOME/mas-harness/reference-times/TASK.TIER.cpu.json`` (``~/.cache`` by default),
keyed by the sha256 of the reference program: a new dataset version (a changed reference or
test) is measured again, an unchanged one never is.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

from harness.codetasks.testrunner import execute_once, judge
from harness.sandbox import Sandbox
from harness.store import cache_folder, write_json_atomic

#: How much CPU time a reference may take while it is being measured (seconds).
MEASURE_LIMIT = 60.0
_FAILED = -1.0  # a measurement that raised (sandbox trouble): not a time


def cache_dir() -> Path:
    return cache_folder("reference-times")


def program_key(program: str) -> str:
    return hashlib.sha256(program.encode()).hexdigest()


class ReferenceTimes:
    """Measured reference times of one task in one sandbox tier, cached on disk."""

    def __init__(self, task: str, floor: float, factor: float) -> None:
        self.task = task
        self.floor = floor
        self.factor = factor
        self._lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[float | None]] = {}  # key -> measurement in flight

    def path(self, tier: str) -> Path:
        return cache_dir() / f"{self.task}.{tier}.cpu.json"

    def _read(self, tier: str) -> dict[str, float | None]:
        try:
            return json.loads(self.path(tier).read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def _remember(self, tier: str, key: str, seconds: float | None) -> None:
        """Merge with what is on disk (another process may have measured others) and write."""
        path = self.path(tier)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, self._read(tier) | {key: seconds})

    async def measured(self, sandbox: Sandbox, reference_program: str) -> float | None:
        """The reference's CPU time in seconds (None: it ran past MEASURE_LIMIT), measured once."""
        tier, key = sandbox.name, program_key(reference_program)
        async with self._lock:
            cached = self._read(tier)
            if key in cached:
                return cached[key]
            future = self._pending.get(key)
            owner = future is None
            if owner:
                future = self._pending[key] = asyncio.get_running_loop().create_future()
        if not owner:
            seconds = await asyncio.shield(future)
            return await self.measured(sandbox, reference_program) if seconds is _FAILED else seconds
        try:
            run = await execute_once(sandbox, reference_program, MEASURE_LIMIT)
            seconds = None if judge(run, MEASURE_LIMIT).status == "timeout" else round(run.cpu_seconds, 4)
            async with self._lock:
                self._remember(tier, key, seconds)
            future.set_result(seconds)
            return seconds
        except BaseException:
            future.set_result(_FAILED)  # whoever waits measures it again
            raise
        finally:
            self._pending.pop(key, None)

    async def limit(self, sandbox: Sandbox, reference_program: str) -> tuple[float, float | None]:
        """(CPU time limit in seconds, the reference's measured CPU time)."""
        seconds = await self.measured(sandbox, reference_program)
        if seconds is None:
            return self.floor, None
        return max(self.floor, self.factor * seconds), seconds
