"""The command-line options of a vLLM fleet, and the checked settings read back from them.

The same options go on ``harness run`` (through `harness_addoption`) and on ``harness serve``
(added to its own parser), so both take them with one definition.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness import Config, UsageError

PYTHON_ENV = "HARNESS_VLLM_PYTHON"
#: The environment scripts/setup-vllm-cpu.sh builds (and `make test` through it).
SETUP_VENV = ".venv-vllm"
DEFAULT_START_PORT = 8000
DEFAULT_SERVER_TIMEOUT = 900.0


def add_fleet_options(add: Callable[..., Any]) -> None:
    """Declare the options with ``add(*names, **argparse_kwargs)`` (addoption or add_argument)."""
    add("--vllm-servers", type=int, metavar="N", help="vLLM servers (replicas) to launch for vllm:MODEL (default 1, or one per GPU group of --gpu-ids)")
    add("--gpu-ids", nargs="+", metavar="ID", help="GPUs to use, split into one group of --tensor-parallel-size per server (CUDA_VISIBLE_DEVICES)")
    add("--tensor-parallel-size", type=int, metavar="N", help="GPUs per vLLM server (default 1)")
    add("--start-port", type=int, metavar="PORT", help=f"first loopback port to try for the vLLM servers; ports in use are skipped (default {DEFAULT_START_PORT})")
    add("--stagger-delay", type=float, metavar="S", help="seconds between launching one vLLM server and the next (default 0)")
    add("--server-timeout", type=float, metavar="S", help=f"seconds each vLLM server may take to become ready (default {DEFAULT_SERVER_TIMEOUT:g})")
    add("--vllm-arg", action="append", metavar="ARGS", help="arguments for `vllm serve`, split like a shell line (repeatable), e.g. --vllm-arg='--max-model-len 4096'")
    add("--hour-price", type=float, metavar="USD", help="price of one vLLM server per hour (e.g. its GPUs' rent), charged for the time the servers run; without it the report plots local models against tokens per sample")
    add("--vllm-python", metavar="PYTHON", help=f"python of the environment where vLLM is installed (default ${PYTHON_ENV}, else `vllm` on PATH)")


@dataclass(frozen=True)
class FleetOptions:
    servers: int = 1
    gpu_groups: tuple[str | None, ...] = (None,)  # CUDA_VISIBLE_DEVICES per server; None: not set
    tensor_parallel_size: int = 1
    start_port: int = DEFAULT_START_PORT
    stagger_delay: float = 0.0
    server_timeout: float = DEFAULT_SERVER_TIMEOUT
    vllm_args: tuple[str, ...] = ()
    python: str | None = None
    hour_price: float | None = None  # USD per server-hour; None: unpriced

    @classmethod
    def from_config(cls, config: Config) -> FleetOptions:
        tp = config.getoption("tensor_parallel_size", 1)
        gpu_ids = config.getoption("gpu_ids")
        servers = config.getoption("vllm_servers")
        if servers is None:
            servers = len(gpu_ids) // tp if gpu_ids and tp >= 1 else 1
        start_port = config.getoption("start_port", DEFAULT_START_PORT)
        stagger = config.getoption("stagger_delay", 0.0)
        timeout = config.getoption("server_timeout", DEFAULT_SERVER_TIMEOUT)
        for flag, value, low in (("--vllm-servers", servers, 1), ("--tensor-parallel-size", tp, 1), ("--start-port", start_port, 1), ("--stagger-delay", stagger, 0), ("--server-timeout", timeout, 1)):
            if value < low:
                raise UsageError(f"{flag} {value}: give a number >= {low}")
        hour_price = config.getoption("hour_price")
        if hour_price is not None and not hour_price >= 0:
            raise UsageError(f"--hour-price {hour_price}: give the USD one server costs per hour, 0 or more")
        if start_port > 65535:
            raise UsageError(f"--start-port {start_port}: a TCP port is at most 65535")
        args = tuple(a for chunk in config.getoption("vllm_arg", []) for a in shlex.split(chunk))
        return cls(
            servers=servers,
            gpu_groups=gpu_groups(gpu_ids, servers, tp),
            tensor_parallel_size=tp,
            start_port=start_port,
            stagger_delay=stagger,
            server_timeout=timeout,
            vllm_args=args,
            python=vllm_python(config.getoption("vllm_python")),
            hour_price=hour_price,
        )


def vllm_python(given: str | None) -> str | None:
    """vLLM's python: --vllm-python, else $HARNESS_VLLM_PYTHON, else the .venv-vllm that
    scripts/setup-vllm-cpu.sh builds (in the current folder or beside the harness's own
    checkout), else None (``vllm`` on PATH). Says on stderr which one it picked and why."""
    if given:
        return given
    if os.environ.get(PYTHON_ENV):
        return os.environ[PYTHON_ENV]
    checkout = Path(harness.__file__).resolve().parent.parent
    for folder in dict.fromkeys([Path.cwd(), checkout]):
        python = folder / SETUP_VENV / "bin" / "python"
        if python.is_file():
            print(f"vllm: using {python} (the {SETUP_VENV} of scripts/setup-vllm-cpu.sh; --vllm-python or ${PYTHON_ENV} picks another)", file=sys.stderr)
            return str(python)
    return None


def gpu_groups(gpu_ids: list[str] | None, servers: int, tp: int) -> tuple[str | None, ...]:
    """CUDA_VISIBLE_DEVICES for each server: consecutive groups of ``tp`` ids; without --gpu-ids
    the variable is left as it is (every server sees what the harness sees)."""
    if not gpu_ids:
        return (None,) * servers
    ids = [i for chunk in gpu_ids for i in chunk.split(",") if i]
    if len(ids) != servers * tp:
        raise UsageError(
            f"--gpu-ids lists {len(ids)} GPU(s) ({' '.join(ids)}), but {servers} server(s) of "
            f"--tensor-parallel-size {tp} need exactly {servers * tp}. List that many, or change --vllm-servers."
        )
    if len(set(ids)) != len(ids):
        raise UsageError(f"--gpu-ids {' '.join(ids)}: a GPU is listed twice; give each server its own GPUs")
    return tuple(",".join(ids[k * tp : (k + 1) * tp]) for k in range(servers))
