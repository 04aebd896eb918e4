"""``harness serve vllm:MODEL --vllm-servers N …``: a vLLM fleet standalone, for many runs.

It writes a models file (``[models.NAME]`` listing every replica's base_url) that later runs use
with ``--config FILE --backend NAME``, keeps the fleet up until Ctrl-C (or SIGTERM), then stops
every server and removes the file, so a models file on disk means a fleet behind it.

For runs on other hosts: ``--host 0.0.0.0 --api-key-env VAR`` (a bind beyond loopback is refused
without a key, see exposure.py); the models file then names this host and ``api_key_env = VAR``,
and a run combines the files of several hosts with ``--config`` given once per file.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from harness import Config, ExitCode, UsageError
from harness_vllm.backend import VLLMBackend
from harness_vllm.fleet import Fleet
from harness_vllm.modelsfile import write_models_file
from harness_vllm.options import add_fleet_options

#: Seconds between two looks at the fleet's processes.
WATCH_INTERVAL = 1.0


def add_parser(subparsers: Any, add_common: Any) -> None:
    p = subparsers.add_parser("serve", help="launch a vLLM fleet standalone and write a models file for later runs (Ctrl-C stops it)")
    add_common(p)
    p.add_argument("spec", metavar="vllm:MODEL", help="the model to serve, as for --backend vllm:MODEL")
    p.add_argument("--name", help="name of the [models.NAME] table later runs give to --backend (default: from the model)")
    p.add_argument("--models-file", metavar="FILE", help="models file to write (default: ./served-NAME.toml); removed when the fleet stops")
    p.add_argument("--input-price", type=float, default=0.0, metavar="USD", help="USD per million input tokens, for the runs' cost")
    p.add_argument("--output-price", type=float, default=0.0, metavar="USD", help="USD per million output tokens")
    p.add_argument("--host", metavar="ADDRESS", help="address the servers listen on (default 127.0.0.1); anything beyond loopback (0.0.0.0, this host's address) needs --api-key-env")
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key the servers demand (vLLM's --api-key); the models file names it, so runs send it")
    add_fleet_options(p.add_argument)
    p.set_defaults(handler=cmd_serve)


def default_name(model: str) -> str:
    """``/x/smollm2-hf`` -> ``smollm2-hf``, ``Qwen/Qwen3-4B`` -> ``qwen3-4b``."""
    last = Path(model.rstrip("/")).name or model
    return re.sub(r"[^a-z0-9._-]+", "-", last.lower()).strip("-") or "vllm"


def cmd_serve(config: Config) -> int:
    spec = config.getoption("spec")
    if not spec.startswith(f"{VLLMBackend.scheme}:"):
        raise UsageError(f"harness serve {spec}: serve launches vLLM fleets; give vllm:MODEL")
    backend = VLLMBackend.from_spec(spec, config)
    name = config.getoption("name") or default_name(backend.fleet.model.name)
    path = Path(config.getoption("models_file") or f"served-{name}.toml")
    log_root = config.results_dir / f"serve-{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    prices = {"input_price": config.getoption("input_price"), "output_price": config.getoption("output_price")}
    try:
        return asyncio.run(_serve(backend, name, prices, path, log_root))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"serve: stopped the {name} fleet", file=sys.stderr)
        return ExitCode.OK


async def _serve(backend: VLLMBackend, name: str, prices: dict[str, float], path: Path, log_root: Path) -> int:
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    wrote = False
    try:
        await backend.start(log_root)
        (log_root / "serve.json").write_text(json.dumps(backend.describe(), indent=2))
        fleet = backend.fleet
        table = {"model": fleet.served_name, "base_url": fleet.advertised_urls, "api_key_env": fleet.exposure.api_key_env, "hour_price": backend.hour_price} | prices
        header = f"Written by `harness serve {backend.spec}` (pid {os.getpid()}); removed when that fleet stops.\nUse: harness run --config {path} --backend {name} …"
        write_models_file(path, {name: table}, header)
        wrote = True
        print(f"serving {backend.spec} as {name!r} at {' '.join(fleet.advertised_urls)}" + (f" (API key from ${fleet.exposure.api_key_env})" if fleet.exposure.api_key_env else ""), flush=True)
        print(f"models file {path}: harness run --config {path} --backend {name} …", flush=True)
        print(f"logs in {log_root / 'logs'}; Ctrl-C stops the fleet", flush=True)
        return await _watch(backend.fleet)
    finally:
        if wrote:
            path.unlink(missing_ok=True)
        await backend.close()
        if main is not None:
            loop.remove_signal_handler(signal.SIGTERM)


async def _watch(fleet: Fleet) -> int:
    """Report each server that dies; return when none is left."""
    reported: set[int] = set()
    while True:
        await asyncio.sleep(WATCH_INTERVAL)
        for k, server in enumerate(fleet.servers):
            if k not in reported and not server.running:
                reported.add(k)
                print(f"serve: server {k + 1} of {len(fleet.servers)} ({server.base_url}) exited with code {server.returncode}; see {server.log_paths[1]}", file=sys.stderr, flush=True)
        if len(reported) == len(fleet.servers):
            print("serve: every server of the fleet has exited; stopping", file=sys.stderr)
            return ExitCode.FAILED
