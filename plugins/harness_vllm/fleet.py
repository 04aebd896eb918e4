"""A fleet of vLLM servers serving one model: one ManagedServer per GPU group, on free loopback
ports from ``--start-port``, launched ``--stagger-delay`` seconds apart, stopped together.

If any server exits or does not become ready, the others are stopped too and the error names
the server, with the tail of its log. Once running, a server that dies is routed around by the
client (its replica is marked down); only when every server is gone does `check` raise.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

from harness import ServerError
from harness.serving.managed import ManagedServer
from harness_vllm.exposure import Exposure
from harness_vllm.launcher import Launcher
from harness_vllm.model import ServedModel
from harness_vllm.options import FleetOptions


class Fleet:
    def __init__(self, launcher: Launcher, model: ServedModel, options: FleetOptions, exposure: Exposure | None = None) -> None:
        self.launcher = launcher
        self.model = model
        self.options = options
        self.exposure = exposure or Exposure()
        key = self.exposure.key
        args = ["--served-model-name", model.name, "--tensor-parallel-size", str(options.tensor_parallel_size), *options.vllm_args]
        argv = launcher.argv(model.source, args)
        self.servers = [
            ManagedServer(
                "vllm",
                argv,
                env=({"CUDA_VISIBLE_DEVICES": group} if group is not None else {}) | self.exposure.server_env,
                host=self.exposure.host,
                startup_timeout=options.server_timeout,
                port_from=options.start_port,
                probe_headers={"Authorization": f"Bearer {key}"} if key else None,
            )
            for group in options.gpu_groups
        ]

    @property
    def base_urls(self) -> list[str]:
        return [server.base_url for server in self.servers]

    @property
    def advertised_urls(self) -> list[str]:
        """The base URLs other hosts use (the models file's): the servers' ports on the host name
        of `Exposure.advertised_host`."""
        host = self.exposure.advertised_host
        host = f"[{host}]" if ":" in host else host
        return [f"http://{host}:{server.port}/v1" for server in self.servers]

    @property
    def served_name(self) -> str:
        """The model id the servers list in /v1/models (``--served-model-name`` may be overridden)."""
        ids = self.servers[0].model_ids
        return ids[0] if ids else self.model.name

    async def start(self, run_dir: Path) -> None:
        """Launch every server and wait until all serve; on any failure stop them all and raise."""
        launches = [asyncio.create_task(self._launch(k, server, run_dir)) for k, server in enumerate(self.servers)]
        try:
            await asyncio.wait(launches, return_when=asyncio.FIRST_EXCEPTION)
            for launch in launches:
                if launch.done() and launch.exception() is not None:
                    raise launch.exception()  # type: ignore[misc]
        except BaseException:
            for launch in launches:
                launch.cancel()
            await asyncio.gather(*launches, return_exceptions=True)
            await self.stop()
            raise

    async def _launch(self, k: int, server: ManagedServer, run_dir: Path) -> None:
        await asyncio.sleep(k * self.options.stagger_delay)
        try:
            await server.start(run_dir)
        except ServerError as exc:
            others = " The other servers of the fleet were stopped." if len(self.servers) > 1 else ""
            raise ServerError(f"vLLM server {k + 1} of {len(self.servers)}{self._gpus(k)} for {self.model.name}: {exc}{others}") from exc

    def _gpus(self, k: int) -> str:
        group = self.options.gpu_groups[k]
        return f" (GPUs {group})" if group is not None else ""

    async def stop(self) -> None:
        """Stop every server (all at once, one grace period). Safe to repeat."""
        await asyncio.gather(*(server.stop() for server in self.servers))

    @property
    def server_seconds(self) -> float:
        """Uptime summed over the servers (two servers up for an hour: 7200)."""
        return sum(server.uptime for server in self.servers)

    def check(self) -> None:
        """Raise ServerError when no server of the fleet runs any more; one dead replica among
        live ones is the router's business, not an error."""
        gone: list[str] = []
        for server in self.servers:
            try:
                server.check()
            except ServerError as exc:
                gone.append(str(exc))
        if len(gone) == len(self.servers):
            raise ServerError(f"every vLLM server serving {self.model.name} has exited:\n" + "\n".join(gone))

    async def version(self) -> str | None:
        """vLLM's version as the first server reports it (GET /version)."""
        try:
            return str((await request_json(f"{self.servers[0].url}/version"))["version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def live_url(self) -> str | None:
        """The root URL of a server that still runs (any: they share one tokenizer)."""
        return next((server.url for server in self.servers if server.running), None)

    def describe(self) -> list[dict[str, Any]]:
        """Per server: the exact command line, port, logs, pid and GPUs."""
        return [
            server.describe() | {"pid": server.pid, "cuda_visible_devices": self.options.gpu_groups[k]}
            for k, server in enumerate(self.servers)
        ]


#: Proxy-free: the servers are on the loopback interface.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


async def request_json(url: str, body: dict[str, Any] | None = None) -> Any:
    """GET (or POST ``body`` as JSON) and decode the answer; raises OSError or ValueError."""

    def call() -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
        with _opener.open(request, timeout=10.0) as response:
            return json.loads(response.read())

    return await asyncio.to_thread(call)
