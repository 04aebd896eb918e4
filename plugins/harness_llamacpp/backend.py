"""`LlamaCppBackend`: the embedded default model, served by llama.cpp on a loopback port."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from harness_openai import OpenAIBackend
from harness_openai.launched import LaunchedBackend

from harness import (
    CompletionRequest,
    Config,
    ModelConfig,
    UsageError,
)
from harness.serving.managed import ManagedServer, StateCallback
from harness_llamacpp.model import DEFAULT_MODEL, require_server, resolve_model

N_CTX = 4096
#: Seconds to wait for the server to load the model and answer /v1/models.
STARTUP_TIMEOUT = 180.0


def llama_server(model_path: Path, alias: str, on_state: StateCallback | None = None) -> ManagedServer:
    """llama.cpp's OpenAI-compatible server for one GGUF, serving it under the name ``alias``
    with the chat template stored in the GGUF; ``on_state`` hears of its start-up and stop."""
    argv = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--model_alias", alias,
        "--n_ctx", str(N_CTX),
        "--host", "{host}",
        "--port", "{port}",
    ]  # fmt: skip
    return ManagedServer("llamacpp", argv, startup_timeout=STARTUP_TIMEOUT, on_state=on_state)


def llama_dialect(request: CompletionRequest) -> CompletionRequest:
    """llama.cpp's server takes a JSON Schema as ``{"type": "json_object", "schema": …}``, not as
    OpenAI's ``{"type": "json_schema", "json_schema": {"schema": …}}``: translate the latter."""
    fmt = request.response_format
    if not fmt or fmt.get("type") != "json_schema":
        return request
    return dataclasses.replace(request, response_format={"type": "json_object", "schema": fmt["json_schema"]["schema"]})


class LlamaCppBackend(LaunchedBackend):
    """``llamacpp:smollm2`` (default) or ``llamacpp:/path/model.gguf``.

    `start` launches ``python -m llama_cpp.server`` (chat template from the GGUF) as a
    ManagedServer logging under ``<run_dir>/logs``; requests then go through an OpenAIBackend.
    llama-cpp-python's server ignores ``n`` and only parses tool calls for special chat formats,
    so neither is claimed in ``features``."""

    scheme = "llamacpp"
    features = frozenset({"response_format", "seed", "stop"})

    def __init__(self, spec: str, config: Config, model_path: Path, alias: str) -> None:
        super().__init__(spec, config)
        self.model_path = model_path
        self.alias = alias
        self.server = llama_server(model_path, alias, self.report_server)

    @classmethod
    def from_spec(cls, spec: str, config: Config) -> LlamaCppBackend:
        scheme, _, name = spec.partition(":")
        if scheme != cls.scheme:
            raise UsageError(f"backend {spec!r}: expected llamacpp:{DEFAULT_MODEL} or llamacpp:/path/model.gguf")
        name = name or DEFAULT_MODEL
        require_server()
        path = resolve_model(name)
        return cls(spec, config, path, DEFAULT_MODEL if name == DEFAULT_MODEL else path.stem)

    async def launch(self, run_dir: Path) -> OpenAIBackend:
        await self.server.start(run_dir)
        model = ModelConfig(name=self.spec, model=self.alias, base_urls=[self.server.base_url])
        return OpenAIBackend(self.spec, self.config, model, check=self.server.check)

    def check(self) -> None:
        self.server.check()  # a dead server fails at once; one that dies mid-request fails on the retry's check

    async def stop_servers(self) -> None:
        await self.server.stop()

    def adapt(self, request: CompletionRequest) -> CompletionRequest:
        return llama_dialect(request)

    def server_seconds(self) -> float:
        """The server's uptime (it has no price per hour: `serving` reports it unpriced)."""
        return self.server.uptime

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "scheme": self.scheme,
            "model": self.alias,
            "model_path": str(self.model_path),
            "server": self.server.describe(),
        }
