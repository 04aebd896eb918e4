"""`VLLMBackend`: ``vllm:MODEL`` — a fleet of local vLLM servers launched for the run, reached
through harness_openai's backend with every replica's base URL (routing, retries, failover)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness_openai import OpenAIBackend
from harness_openai.launched import LaunchedBackend

from harness import (
    Config,
    ModelConfig,
    UsageError,
)
from harness_vllm.exposure import Exposure
from harness_vllm.fleet import Fleet
from harness_vllm.launcher import resolve_launcher
from harness_vllm.model import resolve_model
from harness_vllm.options import FleetOptions
from harness_vllm.tokens import ServerTokenCounter

#: What any vLLM server does; tool calls need its tool-call parser (``--tool-call-parser NAME``).
BASE_FEATURES = frozenset({"response_format", "seed", "stop", "n"})
TOOL_FEATURES = frozenset({"tools", "tool_choice"})


class VLLMBackend(LaunchedBackend):
    """``vllm:MODEL`` with the fleet options (``--vllm-servers``, ``--gpu-ids`` …, see options.py)."""

    scheme = "vllm"

    def __init__(self, spec: str, config: Config, fleet: Fleet) -> None:
        super().__init__(spec, config)
        self.fleet = fleet
        self.hour_price = fleet.options.hour_price
        for server in fleet.servers:
            server.on_state = self.report_server
        self.features = BASE_FEATURES | (TOOL_FEATURES if "--tool-call-parser" in fleet.options.vllm_args else frozenset())
        self.vllm_version: str | None = None

    @classmethod
    def from_spec(cls, spec: str, config: Config) -> VLLMBackend:
        scheme, _, name = spec.partition(":")
        if scheme != cls.scheme:
            raise UsageError(f"backend {spec!r}: expected vllm:MODEL (a checkpoint folder, a hub id or smollm2)")
        exposure = Exposure.from_config(config)  # first: a bind refused needs no model nor vLLM
        model = resolve_model(name)
        options = FleetOptions.from_config(config)
        return cls(spec, config, Fleet(resolve_launcher(options.python), model, options, exposure))

    async def launch(self, run_dir: Path) -> OpenAIBackend:
        await self.fleet.start(run_dir)
        self.vllm_version = await self.fleet.version()
        endpoint = ModelConfig(name=self.spec, model=self.fleet.served_name, base_urls=self.fleet.base_urls, api_key_env=self.fleet.exposure.api_key_env)
        counter = ServerTokenCounter(self.fleet.live_url, self.fleet.served_name)
        return OpenAIBackend(self.spec, self.config, endpoint, check=self.fleet.check, count_tokens=counter)

    def check(self) -> None:
        self.fleet.check()  # a fleet that is all gone fails at once

    async def stop_servers(self) -> None:
        await self.fleet.stop()

    def server_seconds(self) -> float:
        """The fleet's servers' uptimes, summed: charged at ``--hour-price`` per server-hour."""
        return self.fleet.server_seconds

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "spec": self.spec,
            "scheme": self.scheme,
            **self.fleet.model.describe(),
            "served_model": self.fleet.served_name,
            "vllm_version": self.vllm_version,
            "launcher": self.fleet.launcher.describe(),
            "features": sorted(self.features),
            "base_urls": self.fleet.base_urls,
            "host": self.fleet.exposure.host,
            "api_key_env": self.fleet.exposure.api_key_env,
            "hour_price": self.hour_price,
            "servers": self.fleet.describe(),
        }
        if self._client is not None:
            client = self._client.describe()
            out["routing"] = {key: client[key] for key in ("max_connections", "timeout", "retry")}
        return out
