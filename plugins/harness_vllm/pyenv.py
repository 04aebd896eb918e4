"""Asking another Python environment (vLLM's) what it has, without importing anything there."""

from __future__ import annotations

import subprocess

_FIND = "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"


def missing_modules(python: str, modules: list[str]) -> list[str]:
    """The ``modules`` that ``python`` cannot import (found by spec, not imported: importing torch
    takes seconds). Raises OSError when ``python`` cannot run at all."""
    try:
        found = subprocess.run([python, "-c", _FIND, *modules], capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"{python} did not answer within 60 s") from exc
    if found.returncode != 0:
        raise OSError(f"{python} exited with {found.returncode}: {found.stderr.strip()[-300:]}")
    return found.stdout.split()
