"""`OpenAIBackend`: any OpenAI-compatible chat endpoint, one or several replicas of it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from harness import (
    Backend,
    BackendError,
    Completion,
    CompletionRequest,
    Config,
    Message,
    ModelConfig,
    TokenPrice,
    Usage,
    UsageError,
)
from harness_openai import wire
from harness_openai.replicas import Replica, ReplicaPool
from harness_openai.retry import RetryPolicy

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: The key sent to servers that want none (the SDK insists on having one).
NO_KEY = "no-key"
#: Seconds a replica has to answer the start-up reachability probe.
PROBE_TIMEOUT = 10.0
#: Counts (input, output) tokens with the model's own tokenizer, for servers that report no
#: usage; None when it cannot (the rough estimate then stands).
TokenCounter = Callable[[CompletionRequest, list[Message]], Awaitable[Usage | None]]


class OpenAIBackend(Backend):
    """``openai:MODEL`` (``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` from the environment) or a
    name from the models table, whose ``base_url`` may list replicas.

    Each request goes to the least busy replica (see replicas.py: per-replica ``max_connections``,
    replicas marked down on failure and re-probed after a cool-down); a timeout, a connection
    failure, 408/409/429 or a 5xx is tried again: at once on another replica when one is usable,
    otherwise after a jittered exponential backoff; after ``retry.attempts`` tries it is a
    BackendError. ``timeout`` bounds each try."""

    scheme = "openai"
    features = frozenset({"tools", "tool_choice", "response_format", "seed", "stop", "n"})

    def __init__(
        self,
        spec: str,
        config: Config,
        model_config: ModelConfig,
        *,
        retry: RetryPolicy | None = None,
        check: Callable[[], None] | None = None,
        count_tokens: TokenCounter | None = None,
    ) -> None:
        """A backend for the endpoints described by ``model_config``; other backends talk through
        one to a local server they launched. ``check`` is called after every failed try and may
        raise to stop retrying, e.g. when the server process behind the endpoint is gone.
        ``count_tokens`` replaces the rough estimate (four characters a token) when a response
        carries no usage; either way the usage is flagged as estimated."""
        super().__init__(spec, config)
        self.model_config = model_config
        self.hour_price = model_config.hour_price
        self._opened: float | None = None  # time.monotonic() at start and at close
        self._closed: float | None = None
        self.retry = retry or RetryPolicy(attempts=model_config.attempts, base_delay=model_config.backoff)
        self._check = check
        self._count_tokens = count_tokens
        key = _api_key(spec, model_config)
        self._pool = ReplicaPool(
            [
                Replica(url, wire.make_client(url, key, model_config.timeout), capacity=model_config.max_connections)
                for url in model_config.base_urls
            ]
        )

    @classmethod
    def from_spec(cls, spec: str, config: Config) -> OpenAIBackend:
        scheme, sep, model = spec.partition(":")
        if not sep:
            model_config = config.models.get(spec)
            if model_config is None:
                known = ", ".join(sorted(config.models)) or "none"
                raise UsageError(
                    f"backend {spec!r}: no [models.{spec}] in harness.toml (models there: {known}). "
                    f"Add that table, or write openai:MODEL to use OPENAI_BASE_URL and OPENAI_API_KEY."
                )
            return cls(spec, config, model_config)
        if scheme != cls.scheme or not model:
            raise UsageError(f"backend {spec!r}: expected openai:MODEL, e.g. openai:gpt-4o-mini")
        base_url = os.environ.get("OPENAI_BASE_URL", DEFAULT_BASE_URL).rstrip("/")
        model_config = ModelConfig(name=spec, model=model, base_urls=[base_url], api_key_env="OPENAI_API_KEY")
        return cls(spec, config, model_config)

    @property
    def base_urls(self) -> list[str]:
        return self._pool.base_urls

    async def complete(self, request: CompletionRequest) -> Completion:
        kwargs = wire.request_kwargs(request, self.model_config.model)
        tried: list[tuple[str, str]] = []
        for attempt in range(1, self.retry.attempts + 1):
            async with self._pool.lease() as replica:
                started = time.monotonic()
                try:
                    response = await replica.client.chat.completions.create(**kwargs)
                except Exception as exc:
                    failure = wire.classify(exc)
                    if failure is None:
                        raise
                    if not failure.transient:
                        raise BackendError(self._refused(replica.base_url, failure)) from exc
                    tried.append((replica.base_url, failure.reason))
                    # A replica failing while others serve cools down longer each time; when none is
                    # left, this request's own backoff bounds the wait, so giving up stays prompt.
                    failures = replica.failures + 1 if self._pool.others_usable(replica) else attempt
                    self._pool.failed(replica, self.retry.backoff(failures))
                else:
                    self._pool.succeeded(replica)
                    completion = self._completion(response, request, replica.base_url, time.monotonic() - started)
                    if completion.usage.estimated and self._count_tokens is not None:
                        completion.usage = await self._count_tokens(request, completion.choices) or completion.usage
                        completion.cost = self._cost(completion.usage)
                    return completion
            if self._check is not None:
                self._check()
            if attempt < self.retry.attempts and not self._pool.others_usable(replica):
                await asyncio.sleep(self.retry.delay(attempt, failure.retry_after))
        raise BackendError(self._gave_up(tried))

    def _completion(self, response: Any, request: CompletionRequest, endpoint: str, latency: float) -> Completion:
        try:
            completion = wire.to_completion(response, request)
        except (ValueError, AttributeError, TypeError) as exc:
            raise BackendError(f"{self.spec}: {endpoint} sent a response that is not a chat completion ({exc})") from exc
        completion.cost = self._cost(completion.usage)
        completion.latency = latency
        completion.endpoint = endpoint
        return completion

    def _cost(self, usage: Usage) -> float:
        """USD, from the models table's prices per million tokens."""
        prices = self.model_config
        return (usage.input_tokens * prices.input_price + usage.output_tokens * prices.output_price) / 1e6

    def token_price(self) -> TokenPrice | None:
        """The models table's prices; None when it gives none (both 0: a local or free model)."""
        prices = self.model_config
        if not (prices.input_price or prices.output_price):
            return None
        return TokenPrice(prices.input_price, prices.output_price)

    def _refused(self, endpoint: str, failure: wire.Failure) -> str:
        """The message for an error that another try would not fix."""
        model = self.model_config.model
        if failure.status in (401, 403):
            env = self.model_config.api_key_env
            if env:
                fix = f"check the API key in ${env}"
            else:
                fix = f"set api_key_env in [models.{self.model_config.name}] to the variable holding the key"
        elif failure.status == 404:
            fix = f"check that {endpoint}/models lists {model!r} and that base_url ends in /v1"
        else:
            fix = "the server rejected the request: check the model's limits (context length, max_tokens) and the request options"
        return f"{self.spec}: {endpoint} refused the request for model {model!r} ({failure.reason}); {fix}."

    def _gave_up(self, tried: list[tuple[str, str]]) -> str:
        urls = ", ".join(self.base_urls)
        endpoint, reason = tried[-1]
        return (
            f"{self.spec}: {len(tried)} tries of model {self.model_config.model!r} failed at {urls}; "
            f"the last one ({endpoint}): {reason}. Check that the server is running and reachable there, and its logs; "
            f"if requests time out, raise timeout (now {self.model_config.timeout:g}s) in [models.{self.model_config.name}]."
        )

    async def start(self, run_dir: Path) -> None:
        """Fail before the first sample when no replica can even be connected to: a run of
        thousands of requests against an endpoint that is down should stop at once, not retry
        each request. Any HTTP answer (even 401 or 404) counts as reachable."""
        self._opened = time.monotonic()
        failures = await asyncio.gather(*(self._unreachable(replica) for replica in self._pool.replicas))
        if all(failures):
            listing = "; ".join(f"{r.base_url}: {reason}" for r, reason in zip(self._pool.replicas, failures))
            raise BackendError(
                f"{self.spec}: no endpoint of model {self.model_config.model!r} answers ({listing}). "
                f"Start the server or fix base_url (OPENAI_BASE_URL for openai:MODEL, else [models.{self.model_config.name}])."
            )

    async def _unreachable(self, replica: Replica) -> str | None:
        """None when the replica answers HTTP at all, else why not."""
        try:
            await replica.client.models.list(timeout=min(self.model_config.timeout, PROBE_TIMEOUT))
        except Exception as exc:
            failure = wire.classify(exc)
            if failure is None:
                raise
            return None if failure.status is not None else failure.reason
        return None

    async def close(self) -> None:
        if self._opened is not None and self._closed is None:
            self._closed = time.monotonic()
        for replica in self._pool.replicas:
            await replica.client.close()

    def capacity(self) -> int:
        """Requests in flight at most: ``max_connections`` per replica, summed over the replicas."""
        return sum(replica.capacity for replica in self._pool.replicas)

    def server_seconds(self) -> float | None:
        """For endpoints with an ``hour_price``: the time the run held them (start to close),
        times the replicas; None for endpoints priced by tokens alone."""
        if self.hour_price is None:
            return None
        if self._opened is None:
            return 0.0
        held = (self._closed if self._closed is not None else time.monotonic()) - self._opened
        return held * len(self._pool.replicas)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "scheme": self.scheme, **self.model_config.describe(), "retry": self.retry.describe()}


def _api_key(spec: str, model_config: ModelConfig) -> str:
    """The key from the environment variable the model names; never stored anywhere else."""
    env = model_config.api_key_env
    if not env:
        return NO_KEY
    key = os.environ.get(env)
    if not key:
        raise UsageError(
            f"backend {spec!r}: the environment variable {env} holding its API key is not set. Export {env}=<key> and run again."
        )
    return key
