"""The whole slice for real: the embedded llama.cpp server with SmolLM2, the direct system,
HumanEval, the default (docker) sandbox, records on disk; Ctrl-C and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import harness, harness_env, last_json, records


def _no_process_with(needle: str) -> bool:
    out = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    return needle not in out


def test_direct_on_humaneval_with_the_embedded_model(workdir):
    proc = harness("run", "--system", "direct", "--task", "humaneval", "--limit", "3", "--system-opt", "max_tokens=96", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["attempts"] == 3 and summary["counts"]["infra_error"] == 0
    assert summary["tokens"]["input"] > 0 and summary["tokens"]["output"] > 0 and summary["llm_calls"] == 3
    run_dir = workdir / "results" / summary["run_id"]
    spec = json.loads((run_dir / "run.json").read_text())
    backend = spec["resolved"]["backends"]["default"]
    assert backend["spec"] == "llamacpp:smollm2" and backend["model_path"].endswith(".gguf")
    assert spec["resolved"]["sandbox"]["tier"] == "docker"
    logs = sorted(p.name for p in (run_dir / "logs").iterdir())
    assert any(name.startswith("llamacpp_port_") for name in logs)
    for record in records(run_dir):
        assert record["status"] in {"passed", "failed", "error", "timeout"}
        assert record["details"]["tier"] == "docker" and record["answer"] is not None
        transcript = json.loads((run_dir / record["transcript"]).read_text())
        assert transcript[0]["usage"]["output_tokens"] > 0
    assert _no_process_with(f"--port {backend['server']['port']}"), "the llama.cpp server outlived the run"


def test_ctrl_c_keeps_records_stops_the_server_and_resume_finishes(workdir):
    args = [sys.executable, "-m", "harness", "run", "--task", "humaneval", "--limit", "6", "--max-concurrency", "1",
            "--system-opt", "max_tokens=48", "--run-id", "interrupted", "--sandbox", "local"]
    proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples_file = workdir / "results" / "interrupted" / "samples.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (samples_file.exists() and samples_file.read_text().count("\n") >= 2):
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "--resume interrupted" in stderr
    run_dir = workdir / "results" / "interrupted"
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["status"] == "interrupted", (spec["status"], stderr)
    port_flag = f"--port {spec['resolved']['backends']['default']['server']['port']}"
    assert _no_process_with(port_flag), "server left running"
    done = len(records(run_dir))
    assert 2 <= done < 6
    resumed = harness("run", "--resume", "interrupted", "--json", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    keys = [(r["node_id"], r["repeat"]) for r in records(run_dir)]
    assert len(keys) == len(set(keys)) == 6
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
    port_flag = f"--port {json.loads((run_dir / 'run.json').read_text())['resolved']['backends']['default']['server']['port']}"
    assert _no_process_with(port_flag)


def test_openai_backend_against_a_served_model_never_records_the_key(workdir, tmp_path):
    import asyncio

    from harness_llamacpp.backend import llama_server

    from harness.serving.shipped import smollm2_gguf

    server = llama_server(smollm2_gguf(), "smollm2")
    asyncio.run(server.start(tmp_path))
    secret = "harness-test-key-5e1f0c9a7b"
    try:
        env = harness_env(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=secret)
        proc = harness("run", "--backend", "openai:smollm2", "--task", "humaneval", "--limit", "2", "--sandbox", "local",
                       "--system-opt", "max_tokens=32", "--json", cwd=workdir, env=env)
    finally:
        asyncio.run(server.stop())
    assert proc.returncode == 0, proc.stderr
    run_dir = workdir / "results" / last_json(proc.stdout)["run_id"]
    backend = json.loads((run_dir / "run.json").read_text())["resolved"]["backends"]["default"]
    assert server.base_url.rstrip("/") in json.dumps(backend)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), f"the API key leaked into {path}"


def test_kill_9_of_the_harness_takes_its_server_down(workdir):
    args = [sys.executable, "-m", "harness", "run", "--task", "humaneval", "--limit", "20", "--max-concurrency", "1",
            "--system-opt", "max_tokens=48", "--run-id", "killed", "--sandbox", "local"]
    proc = subprocess.Popen(args, cwd=workdir, env=harness_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_json = workdir / "results" / "killed" / "run.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (run_json.exists() and "resolved" in run_json.read_text()):
        time.sleep(0.1)
    port_flag = f"--port {json.loads(run_json.read_text())['resolved']['backends']['default']['server']['port']}"
    assert not _no_process_with(port_flag), "the server should be up while the run goes on"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not _no_process_with(port_flag):
        time.sleep(0.2)
    assert _no_process_with(port_flag), "the llama.cpp server outlived a SIGKILLed harness"
