"""OpenAIBackend against real HTTP: a scripted stdlib server in a thread, and a closed port."""

from __future__ import annotations

import argparse
import asyncio
import http.server
import importlib.metadata
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from harness_openai import OpenAIBackend, RetryPolicy

from harness.config import Config, ModelConfig
from harness.errors import BackendError, UsageError
from harness.serving.managed import free_port
from harness.types import CompletionRequest, Message

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def chat_body(*contents: str, usage: bool = True, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": text, **({"tool_calls": tool_calls} if tool_calls else {})},
            "finish_reason": "tool_calls" if tool_calls else "stop",
        }
        for i, text in enumerate(contents or ("hello",))
    ]
    body: dict[str, Any] = {"id": "c1", "object": "chat.completion", "created": 0, "model": "served-model", "choices": choices}
    if usage:
        body["usage"] = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    return body


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=chat_body)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class ScriptedServer:
    """Answers /v1/chat/completions with the scripted replies in turn, then with OK."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.active = 0
        self.max_active = 0
        self.default = Reply()
        self._lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def serve(self) -> None:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def _next(self, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append((headers, body))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            return self.script.pop(0) if self.script else self.default

    def _done(self) -> None:
        with self._lock:
            self.active -= 1

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                reply = server._next({k.lower(): v for k, v in self.headers.items()}, json.loads(self.rfile.read(length)))
                try:
                    time.sleep(reply.delay)
                    data = json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    for key, value in {"content-type": "application/json", **reply.headers}.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left
                finally:
                    server._done()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def served() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.serve()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def make_config(**models: ModelConfig) -> Config:
    return Config(options=argparse.Namespace(), plugins=None, models=models)  # type: ignore[arg-type]


def backend_for(*urls: str, retry: RetryPolicy = FAST, **fields: Any) -> OpenAIBackend:
    model = ModelConfig(name="m", model="served-model", base_urls=list(urls), **fields)
    return OpenAIBackend("m", make_config(m=model), model, retry=retry)


def ask(text: str = "hi", **params: Any) -> CompletionRequest:
    return CompletionRequest([Message("user", text)], **params)


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused


async def test_completion_usage_cost_and_endpoint(served: ScriptedServer) -> None:
    backend = backend_for(served.url, input_price=2.0, output_price=10.0)
    completion = await backend.complete(ask("2+2?", max_tokens=7, temperature=0.5))
    assert completion.message.content == "hello" and completion.finish_reason == "stop"
    assert (completion.usage.input_tokens, completion.usage.output_tokens, completion.usage.estimated) == (1000, 500, False)
    assert completion.cost == pytest.approx(1000 * 2.0 / 1e6 + 500 * 10.0 / 1e6)
    assert completion.endpoint == served.url and completion.model == "served-model"
    assert completion.latency > 0
    _, sent = served.requests[0]
    assert sent["model"] == "served-model" and sent["max_tokens"] == 7 and sent["temperature"] == 0.5
    assert sent["messages"] == [{"role": "user", "content": "2+2?"}]
    await backend.close()


async def test_request_options_pass_through(served: ScriptedServer) -> None:
    backend = backend_for(served.url)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    fmt = {"type": "json_object"}
    await backend.complete(ask(stop=["\n"], seed=7, tools=tools, tool_choice="auto", response_format=fmt, n=2))
    _, sent = served.requests[0]
    expected = {"stop": ["\n"], "seed": 7, "tools": tools, "tool_choice": "auto", "response_format": fmt, "n": 2}
    assert {key: sent[key] for key in expected} == expected
    await backend.complete(ask())
    _, plain = served.requests[1]
    assert not {"stop", "seed", "tools", "tool_choice", "response_format", "n"} & set(plain)
    await backend.close()


async def test_tool_calls_choices_and_missing_usage(served: ScriptedServer) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    served.script = [Reply(body=chat_body("a", "b", tool_calls=[call])), Reply(body=chat_body("four chars x4", usage=False))]
    backend = backend_for(served.url)
    completion = await backend.complete(ask(n=2))
    assert [c.content for c in completion.choices] == ["a", "b"]
    assert completion.finish_reason == "tool_calls"
    (tool_call,) = completion.message.tool_calls or []
    assert (tool_call.id, tool_call.name, tool_call.arguments) == ("call_1", "lookup", '{"q": "x"}')
    estimated = await backend.complete(ask("12345678"))
    assert (estimated.usage.input_tokens, estimated.usage.output_tokens, estimated.usage.estimated) == (2, 4, True)
    await backend.close()


async def test_5xx_then_ok_is_retried(served: ScriptedServer) -> None:
    served.script = [Reply(503, {"error": {"message": "overloaded"}}), Reply(500, {"error": {"message": "oops"}})]
    backend = backend_for(served.url)
    completion = await backend.complete(ask())
    assert completion.message.content == "hello"
    assert len(served.requests) == 3
    await backend.close()


async def test_429_honours_retry_after(served: ScriptedServer) -> None:
    served.script = [Reply(429, {"error": {"message": "slow down"}}, {"retry-after": "0.3"})]
    backend = backend_for(served.url, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=1.0))
    started = time.monotonic()
    await backend.complete(ask())
    assert time.monotonic() - started >= 0.3
    assert len(served.requests) == 2
    await backend.close()


async def test_persistent_5xx_gives_up_after_the_attempts(served: ScriptedServer) -> None:
    served.default = Reply(502, {"error": {"message": "bad gateway"}})
    backend = backend_for(served.url)
    with pytest.raises(BackendError, match=r"3 tries .* failed at http://127\.0\.0\.1:\d+/v1; the last one .*: HTTP 502"):
        await backend.complete(ask())
    assert len(served.requests) == 3
    await backend.close()


async def test_client_errors_are_not_retried(served: ScriptedServer) -> None:
    served.script = [
        Reply(400, {"error": {"message": "context length exceeded"}}),
        Reply(401, {"error": {"message": "bad key"}}),
        Reply(404, {"error": {"message": "no such model"}}),
    ]
    model = ModelConfig(name="m", model="served-model", base_urls=[served.url], api_key_env="HARNESS_TEST_KEY")
    backend = OpenAIBackend("m", make_config(m=model), model, retry=FAST)
    with pytest.raises(BackendError, match="refused the request .*HTTP 400.*context length"):
        await backend.complete(ask())
    with pytest.raises(BackendError, match=r"HTTP 401.*check the API key in \$HARNESS_TEST_KEY"):
        await backend.complete(ask())
    with pytest.raises(BackendError, match="HTTP 404.*/models lists 'served-model'"):
        await backend.complete(ask())
    assert len(served.requests) == 3
    await backend.close()


@pytest.fixture(autouse=True)
def _test_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_KEY", "sk-test-SECRET-4242")


async def test_connection_refused_gives_up_fast_with_a_clear_message() -> None:
    url = dead_url()
    backend = backend_for(url)
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        await backend.complete(ask())
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert f"3 tries of model 'served-model' failed at {url}" in message
    assert "cannot connect" in message and "Check that the server is running" in message
    await backend.close()


async def test_timeouts_are_retried_then_reported(served: ScriptedServer) -> None:
    served.default = Reply(delay=1.0)
    backend = backend_for(served.url, timeout=0.2, retry=RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(BackendError, match="2 tries .*timed out.*raise timeout \\(now 0.2s\\) in \\[models.m\\]"):
        await backend.complete(ask())
    await backend.close()


async def test_a_dead_replica_is_skipped(served: ScriptedServer) -> None:
    """Failover to a live replica is immediate (no backoff), and the dead one then rests."""
    backend = backend_for(dead_url(), served.url, retry=RetryPolicy(attempts=3, base_delay=5.0))
    started = time.monotonic()
    completions = [await backend.complete(ask()) for _ in range(5)]
    assert time.monotonic() - started < 3
    assert {c.endpoint for c in completions} == {served.url}
    assert len(served.requests) == 5
    await backend.close()


async def test_requests_spread_over_replicas_by_least_outstanding(served: ScriptedServer) -> None:
    other = ScriptedServer()
    other.serve()
    try:
        served.default = other.default = Reply(delay=0.2)
        backend = backend_for(served.url, other.url)
        completions = await asyncio.gather(*(backend.complete(ask()) for _ in range(6)))
        assert sorted(c.endpoint for c in completions).count(served.url) == 3
        assert served.max_active == other.max_active == 3
        await backend.close()
    finally:
        other.httpd.shutdown()
        other.httpd.server_close()


async def test_max_connections_bounds_requests_in_flight(served: ScriptedServer) -> None:
    served.default = Reply(delay=0.1)
    backend = backend_for(served.url, max_connections=2)
    await asyncio.gather(*(backend.complete(ask()) for _ in range(6)))
    assert served.max_active == 2
    await backend.close()


async def test_key_is_sent_but_never_described(served: ScriptedServer) -> None:
    model = ModelConfig(name="m", model="served-model", base_urls=[served.url], api_key_env="HARNESS_TEST_KEY")
    backend = OpenAIBackend.from_spec("m", make_config(m=model))
    await backend.complete(ask())
    headers, _ = served.requests[0]
    assert headers["authorization"] == "Bearer sk-test-SECRET-4242"
    described = backend.describe()
    assert described["api_key_env"] == "HARNESS_TEST_KEY" and described["base_urls"] == [served.url]
    assert "SECRET" not in json.dumps(described)
    await backend.close()
    await backend.close()  # safe twice


def test_from_spec_errors_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"no \[models.nope\] in harness.toml \(models there: m\)"):
        OpenAIBackend.from_spec("nope", make_config(m=ModelConfig(name="m", model="x", base_urls=["http://h/v1"])))
    model = ModelConfig(name="keyed", model="x", base_urls=["http://h/v1"], api_key_env="HARNESS_UNSET_KEY")
    monkeypatch.delenv("HARNESS_UNSET_KEY", raising=False)
    with pytest.raises(UsageError, match="HARNESS_UNSET_KEY holding its API key is not set"):
        OpenAIBackend.from_spec("keyed", make_config(keyed=model))
    with pytest.raises(UsageError, match="expected openai:MODEL"):
        OpenAIBackend.from_spec("openai:", make_config())


async def test_openai_spec_reads_the_environment(served: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", served.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-SECRET")
    backend = OpenAIBackend.from_spec("openai:gpt-test", make_config())
    completion = await backend.complete(ask())
    headers, sent = served.requests[0]
    assert sent["model"] == "gpt-test" and headers["authorization"] == "Bearer sk-env-SECRET"
    assert completion.endpoint == served.url
    assert "sk-env-SECRET" not in json.dumps(backend.describe())
    await backend.close()


def test_both_backends_are_registered_plugins() -> None:
    """Through their entry points, as any third-party plugin would be."""
    points = {ep.name: ep for ep in importlib.metadata.entry_points(group="harness")}
    assert points["openai"].load().harness_add_backends() == [OpenAIBackend]
    (llamacpp,) = points["llamacpp"].load().harness_add_backends()
    assert llamacpp.scheme == "llamacpp"


async def test_an_hour_priced_endpoint_is_charged_per_replica_for_the_time_the_run_holds_it(served: ScriptedServer, tmp_path) -> None:
    backend = backend_for(served.url, served.url, hour_price=3.6)  # two replicas at $3.60 a server-hour
    assert backend.server_seconds() == 0.0 and backend.describe()["hour_price"] == 3.6
    opened = time.monotonic()
    await backend.start(tmp_path)
    await backend.complete(ask())
    await asyncio.sleep(0.2)
    await backend.close()
    held = time.monotonic() - opened
    seconds = backend.server_seconds()
    assert 2 * 0.2 <= seconds <= 2 * held
    assert backend.serving() == {"server_seconds": round(seconds, 3), "hour_price": 3.6, "cost": round(seconds / 1000, 8)}
    await asyncio.sleep(0.05)
    assert backend.server_seconds() == seconds  # closed: the meter stopped
    tokens_only = backend_for(served.url, input_price=1.0)
    assert tokens_only.server_seconds() is None and tokens_only.serving() is None
