"""Replica routing of harness_openai against real HTTP servers: per-replica max_connections,
replicas marked down and their requests moved, re-probing, waiting when every replica is down;
and usage counted by the model's tokenizer when a server reports none."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from harness_openai import OpenAIBackend, RetryPolicy
from test_openai_backend import (
    Reply,
    ScriptedServer,
    ask,
    backend_for,
    chat_body,
    make_config,
)

from harness.config import ModelConfig
from harness.types import Usage


@pytest.fixture
def pair() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    servers = (ScriptedServer(), ScriptedServer())
    for server in servers:
        server.serve()
    yield servers
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()


async def test_max_connections_holds_per_replica(pair: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, b = pair
    a.default = b.default = Reply(delay=0.15)
    backend = backend_for(a.url, b.url, max_connections=2)
    completions = await asyncio.gather(*(backend.complete(ask()) for _ in range(8)))
    assert len(completions) == 8
    assert a.max_active == b.max_active == 2 and len(a.requests) == len(b.requests) == 4
    await backend.close()


async def test_failing_replica_is_marked_down_then_reprobed(pair: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, b = pair
    a.script = [Reply(status=503)]
    backend = backend_for(a.url, b.url, retry=RetryPolicy(attempts=3, base_delay=0.4, max_delay=1.0))
    first = await backend.complete(ask())
    assert first.endpoint == b.url and len(a.requests) == 1  # failed over at once
    during = [await backend.complete(ask()) for _ in range(4)]
    assert {c.endpoint for c in during} == {b.url} and len(a.requests) == 1  # down: left alone
    await asyncio.sleep(0.45)
    a.default = b.default = Reply(delay=0.2)
    probe_round = await asyncio.gather(*(backend.complete(ask()) for _ in range(3)))
    assert Counter(c.endpoint for c in probe_round) == {a.url: 1, b.url: 2}  # one probe, not a flood
    after = await asyncio.gather(*(backend.complete(ask()) for _ in range(4)))
    assert Counter(c.endpoint for c in after) == {a.url: 2, b.url: 2}  # back in service
    await backend.close()


async def test_requests_in_flight_on_a_failing_replica_move_to_the_other(pair: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, b = pair
    a.default = Reply(status=502, delay=0.2)
    b.default = Reply(delay=0.2)
    backend = backend_for(a.url, b.url, retry=RetryPolicy(attempts=3, base_delay=5.0))
    started = time.monotonic()
    completions = await asyncio.gather(*(backend.complete(ask()) for _ in range(6)))
    assert {c.endpoint for c in completions} == {b.url}
    assert len(a.requests) == 3 and len(b.requests) == 6  # a's three in-flight requests were retried on b
    assert time.monotonic() - started < 2  # no backoff while another replica can take them
    assert backend._pool.replicas[0].failures == 1  # failures together count once
    await backend.close()


async def test_a_replica_that_times_out_is_routed_around(pair: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, b = pair
    a.default = Reply(delay=3.0)
    backend = backend_for(a.url, b.url, timeout=0.3)
    completion = await backend.complete(ask())
    assert completion.endpoint == b.url and completion.latency < 0.3
    await backend.close()


async def test_when_every_replica_is_down_requests_wait_for_the_probe(pair: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, _ = pair
    a.script = [Reply(status=500), Reply(status=500)]
    backend = backend_for(a.url, retry=RetryPolicy(attempts=4, base_delay=0.1, max_delay=0.2))
    started = time.monotonic()
    completion = await backend.complete(ask())
    assert completion.endpoint == a.url and len(a.requests) == 3
    assert time.monotonic() - started >= 0.1 + 0.2  # the two cool-downs were waited out
    await backend.close()


async def test_missing_usage_is_counted_by_the_token_counter(pair: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, _ = pair
    a.default = Reply(body=chat_body("four words of text", usage=False))
    seen = []

    async def count(request, choices):
        seen.append((request.messages[-1].content, [c.content for c in choices]))
        return Usage(11, 4, estimated=True)

    model = ModelConfig(name="m", model="served-model", base_urls=[a.url], input_price=1.0, output_price=2.0)
    backend = OpenAIBackend("m", make_config(m=model), model, count_tokens=count)
    completion = await backend.complete(ask("hi there"))
    assert seen == [("hi there", ["four words of text"])]
    assert completion.usage == Usage(11, 4, estimated=True) and completion.cost == pytest.approx((11 + 8) / 1e6)
    await backend.close()

    async def cannot(request, choices):
        return None

    rough = OpenAIBackend("m", make_config(m=model), model, count_tokens=cannot)
    assert (await rough.complete(ask("hi there"))).usage.estimated  # the rough estimate stands
    await rough.close()
