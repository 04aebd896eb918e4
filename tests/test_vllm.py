"""vLLM fleets for real: vLLM on CPU (scripts/setup-vllm-cpu.sh) serving SmolLM2-135M-Instruct,
prepared from the shipped GGUF by `harness models prepare smollm2 --format hf`.

vLLM is found through $HARNESS_VLLM_PYTHON, else the repository's .venv-vllm; without it these
tests fail, saying how to install it. Fleet start-ups are few (each costs a minute or two on two
cores): one `harness run` that launches its own fleet, one bad model that fails fast, and one
`harness serve` fleet shared by the rest of the module.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT, harness, harness_env, last_json, records
from harness_vllm.tokens import ServerTokenCounter

from harness.config import Config, load_models
from harness.plugins import load_plugins
from harness.resources import resolve_backend
from harness.types import CompletionRequest, Message

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

#: The shared fleet listens on every interface, so only with a key (issue 16).
FLEET_KEY_ENV, FLEET_KEY = "FLEET_KEY", "test-fleet-key-0123456789"
FLEET_ARGS = ["--vllm-arg=--enforce-eager --max-model-len 1024"]
TOOL_ARGS = ["--vllm-arg=--enable-auto-tool-choice --tool-call-parser hermes"]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "strict": True,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False},
    },
}


@pytest.fixture(scope="module")
def vllm_env() -> dict[str, str]:
    python = os.environ.get("HARNESS_VLLM_PYTHON") or str(ROOT / ".venv-vllm" / "bin" / "python")
    if not Path(python).is_file():
        pytest.fail(f"vLLM is not installed: no {python}. Run `bash scripts/setup-vllm-cpu.sh` (or set HARNESS_VLLM_PYTHON).", pytrace=False)
    os.environ[FLEET_KEY_ENV] = FLEET_KEY  # for the backends this process builds from the models file
    return harness_env(HARNESS_VLLM_PYTHON=python, VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), **{FLEET_KEY_ENV: FLEET_KEY})


@pytest.fixture(scope="module")
def model(vllm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    done = harness("models", "prepare", "smollm2", "--format", "hf", cwd=tmp_path_factory.mktemp("prepare"), env=vllm_env)
    assert done.returncode == 0, done.stderr
    again = harness("models", "prepare", "smollm2", "--format", "hf", cwd=tmp_path_factory.mktemp("prepare"), env=vllm_env)
    assert again.returncode == 0 and "already prepared" in again.stderr  # idempotent
    path = Path(done.stdout.strip().splitlines()[-1])
    assert json.loads((path / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in (path / "config.json").read_text()
    assert "<|im_start|>" in (path / "chat_template.jinja").read_text()
    return path


def assert_gone(pids: list[int]) -> None:
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_run_launches_a_fleet_and_stops_it(model: Path, vllm_env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:  # the first port tried is in use: it must be skipped
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        done = harness(
            "run", "--backend", f"vllm:{model}", "--vllm-servers", "2", "--start-port", str(busy), *FLEET_ARGS,
            "--sandbox", "local", "--task", "humaneval", "--limit", "4", "--system-opt", "max_tokens=32", "--json", "--hour-price", "3.6",
            cwd=tmp_path, env=vllm_env,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = last_json(done.stdout)
    run_dir = tmp_path / summary["results"]
    assert summary["counts"]["infra_error"] == 0 and len(records(run_dir)) == 4
    backend = json.loads((run_dir / "run.json").read_text())["resolved"]["backends"]["default"]
    assert backend["vllm_version"] and backend["model_path"] == str(model)
    assert backend["config_sha256"] == hashlib.sha256((model / "config.json").read_bytes()).hexdigest()
    ports = [server["port"] for server in backend["servers"]]
    assert busy not in ports and all(port > busy for port in ports) and len(set(ports)) == 2
    for server in backend["servers"]:
        assert server["argv"][server["argv"].index("--port") + 1] == str(server["port"])
        out, err = (run_dir / "logs" / f"vllm_port_{server['port']}.out", run_dir / "logs" / f"vllm_port_{server['port']}.err")
        assert out.exists() and err.stat().st_size > 0
    answered = {call["endpoint"] for r in records(run_dir) for call in json.loads((run_dir / r["transcript"]).read_text())}
    assert answered == set(backend["base_urls"])  # four samples in flight at once: both replicas served
    assert_gone([server["pid"] for server in backend["servers"]])
    # each server's start-up was shown, and both servers' uptime is charged at $3.60 an hour
    for port in ports:
        assert f"server vllm on port {port} (vllm:{model}) ready after" in done.stderr
    serving = summary["serving"][f"vllm:{model}"]
    assert serving["hour_price"] == 3.6 and serving["server_seconds"] > summary["wall_seconds"]  # two servers
    assert serving["cost"] == pytest.approx(serving["server_seconds"] / 1000, abs=1e-6) and backend["hour_price"] == 3.6


def test_a_bad_model_fails_fast_with_the_log_tail(vllm_env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    started = time.monotonic()
    done = harness(
        "run", "--backend", f"vllm:{broken}", "--vllm-servers", "2", *FLEET_ARGS,
        "--sandbox", "local", "--task", "humaneval", "--limit", "1", cwd=tmp_path, env=vllm_env,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 240
    assert "exited with" in done.stderr and "during start-up" in done.stderr
    assert "--- last lines of" in done.stderr and "vllm_port_" in done.stderr
    assert "no-such-architecture" in done.stderr  # vLLM's own complaint, from its log
    assert re.search(r"server vllm on port \d+ \(vllm:\S+\) failed:\n", done.stderr)  # shown as it failed, log tail below
    leftovers = subprocess.run(["pgrep", "-f", str(broken)], capture_output=True, text=True, check=False).stdout.split()
    assert leftovers == []


# --- one `harness serve` fleet for the rest of the module ---------------------------------------


class Served:
    def __init__(self, proc: subprocess.Popen, models_file: Path, results: Path) -> None:
        self.proc = proc
        self.models_file = models_file
        self.results = results

    @property
    def spec(self) -> dict:
        (serve_json,) = self.results.glob("serve-*/serve.json")
        return json.loads(serve_json.read_text())

    def config(self) -> Config:
        options = argparse.Namespace()
        return Config(options=options, plugins=load_plugins(), models=load_models(self.models_file), config_path=self.models_file)


@pytest.fixture(scope="module")
def served(model: Path, vllm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("serve")
    models_file = workdir / "served.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "serve", f"vllm:{model}", "--vllm-servers", "2", "--name", "smol",
         "--models-file", str(models_file), "--results-dir", str(workdir / "results"), "--host", "0.0.0.0", "--api-key-env", FLEET_KEY_ENV,
         *FLEET_ARGS, *TOOL_ARGS],
        cwd=workdir, env=vllm_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while not models_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"harness serve did not come up (exit {proc.returncode}):\n{out}\n{err[-3000:]}", pytrace=False)
        time.sleep(1)
    server = Served(proc, models_file, workdir / "results")
    pids = [s["pid"] for s in server.spec["servers"]]
    yield server
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert not models_file.exists()  # no models file without a fleet behind it
    assert_gone(pids)


def test_serve_writes_a_models_file_with_every_replica(served: Served) -> None:
    table = load_models(served.models_file)["smol"]
    assert table.model == served.spec["served_model"] and len(table.base_urls) == 2 and table.api_key_env == FLEET_KEY_ENV
    host = socket.getfqdn()  # a bind on every interface is advertised by this host's name
    assert table.base_urls == [url.replace("0.0.0.0", host) for url in served.spec["base_urls"]] and served.spec["host"] == "0.0.0.0"
    assert all(FLEET_KEY not in " ".join(server["argv"]) for server in served.spec["servers"])  # the key is in no command line


def test_the_served_fleet_demands_its_key(served: Served) -> None:
    url = load_models(served.models_file)["smol"].base_urls[0] + "/models"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as refused:
        direct.open(url, timeout=10)
    assert refused.value.code == 401
    keyed = urllib.request.Request(url, headers={"Authorization": f"Bearer {FLEET_KEY}"})
    with direct.open(keyed, timeout=10) as answer:
        assert answer.status == 200 and json.loads(answer.read())["data"][0]["id"] == served.spec["served_model"]


async def complete(served: Served, **params) -> object:
    backend = resolve_backend("smol", served.config())
    try:
        await backend.start(served.results)
        return await backend.complete(CompletionRequest(**params))
    finally:
        await backend.close()


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
async def test_tool_calls_are_valid_with_strict_schemas(served: Served, choice) -> None:
    completion = await complete(served, messages=[Message("user", "What is the weather in Paris?")], tools=[WEATHER], tool_choice=choice, max_tokens=64)
    (call,) = completion.message.tool_calls
    assert call.name == "get_weather"
    assert isinstance(json.loads(call.arguments)["city"], str)


async def test_guided_json_follows_the_schema(served: Served) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}}, "required": ["answer"], "additionalProperties": False}
    completion = await complete(
        served,
        messages=[Message("user", "Is the sky blue? Answer in JSON.")],
        response_format={"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}},
        max_tokens=32,
    )
    assert json.loads(completion.message.content)["answer"] in ("yes", "no")


async def test_seed_stop_n_and_usage(served: Served) -> None:
    ask = {"messages": [Message("user", "Count from one to twenty in words, separated by commas.")], "temperature": 1.0, "max_tokens": 24}
    first = await complete(served, seed=7, n=3, **ask)
    again = await complete(served, seed=7, n=3, **ask)
    assert len(first.choices) == 3 and [c.content for c in first.choices] == [c.content for c in again.choices]
    assert first.usage.input_tokens > 10 and 0 < first.usage.output_tokens <= 3 * 24 and not first.usage.estimated
    free = (await complete(served, messages=ask["messages"], max_tokens=24)).message.content
    cut = free[len(free) // 2 :][:3]  # stop at a piece of what the model says anyway (temperature 0)
    stopped = await complete(served, messages=ask["messages"], max_tokens=24, stop=[cut])
    assert stopped.message.content == free[: free.index(cut)] and stopped.finish_reason == "stop"


async def test_token_counter_agrees_with_the_servers_usage(served: Served) -> None:
    """What a response without usage would be charged: counted by the model's own tokenizer."""
    messages = [Message("user", "Name three colours.")]
    completion = await complete(served, messages=messages, max_tokens=16)
    root = served.spec["base_urls"][0].removesuffix("/v1")
    counted = await ServerTokenCounter(lambda: root, served.spec["served_model"])(CompletionRequest(messages), completion.choices)
    assert counted.estimated and counted.input_tokens == completion.usage.input_tokens
    assert abs(counted.output_tokens - completion.usage.output_tokens) <= 2


def test_run_survives_a_replica_killed_mid_run(served: Served, vllm_env: dict[str, str], tmp_path: Path) -> None:
    """Runs last in the module: it kills one replica of the shared fleet."""
    urls = served.spec["base_urls"]
    victim = served.spec["servers"][1]
    run = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--config", str(served.models_file), "--backend", "smol",
         "--sandbox", "local", "--task", "humaneval", "--limit", "8", "--max-concurrency", "4",
         "--system-opt", "max_tokens=64", "--run-id", "failover", "--json"],
        cwd=tmp_path, env=vllm_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    samples = tmp_path / "results" / "failover" / "samples.jsonl"
    deadline = time.monotonic() + 300
    while not (samples.exists() and samples.read_text().strip()):
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1][-3000:]
        time.sleep(0.2)
    os.killpg(victim["pid"], signal.SIGKILL)  # its engine process too
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err[-3000:]
    done = records(tmp_path / "results" / "failover")
    assert sorted(r["node_id"] for r in done) == sorted({r["node_id"] for r in done}) and len(done) == 8
    assert all(r["status"] != "infra_error" and r["llm_calls"] == 1 for r in done)
    answered = Counter(
        call["endpoint"] for r in done for call in json.loads((tmp_path / "results" / "failover" / r["transcript"]).read_text())
    )
    assert sum(answered.values()) == 8
    assert answered[urls[0]] > answered[urls[1]]  # the dead replica's share went to the live one
    last = json.loads((tmp_path / "results" / "failover" / done[-1]["transcript"]).read_text())
    assert last[-1]["endpoint"] == urls[0]
