"""The base of backends that launch their own servers and then talk to them as an
OpenAI-compatible endpoint (llama.cpp, vLLM fleets)."""

from __future__ import annotations

import abc
from pathlib import Path

from harness import Backend, BackendError, Completion, CompletionRequest
from harness_openai.backend import OpenAIBackend


class LaunchedBackend(Backend):
    """`start` launches the servers and builds the client (`launch`); every request first
    checks the servers are alive (`check`, so a dead server fails at once), then goes through the
    client; `close` closes the client and always stops the servers (`stop_servers`)."""

    _client: OpenAIBackend | None = None

    @abc.abstractmethod
    async def launch(self, run_dir: Path) -> OpenAIBackend:
        """Start the servers (logging under ``run_dir/logs``); return the client that reaches them."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raise ServerError when the servers are gone."""

    @abc.abstractmethod
    async def stop_servers(self) -> None:
        """Stop what `launch` started; safe after a failed or missing start."""

    def adapt(self, request: CompletionRequest) -> CompletionRequest:
        """The request as the server's dialect wants it (default: unchanged)."""
        return request

    @property
    def client(self) -> OpenAIBackend:
        if self._client is None:
            raise BackendError(f"{self.spec}: complete() before start(): the {self.scheme} server is not running")
        return self._client

    def capacity(self) -> int | None:
        """The client's (its replicas' max_connections, summed); None before `start`."""
        return None if self._client is None else self._client.capacity()

    async def start(self, run_dir: Path) -> None:
        self._client = await self.launch(run_dir)

    async def complete(self, request: CompletionRequest) -> Completion:
        client = self.client
        self.check()
        return await client.complete(self.adapt(request))

    async def close(self) -> None:
        try:
            if self._client is not None:
                await self._client.close()
        finally:
            await self.stop_servers()
