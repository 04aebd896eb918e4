"""harness_vllm's pieces that need no vLLM server: options, GPU groups, launchers, model lookup,
models files, features. The real fleets are in test_vllm.py."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest
from harness_vllm.backend import VLLMBackend
from harness_vllm.fleet import Fleet
from harness_vllm.launcher import MODULE, Launcher, resolve_launcher
from harness_vllm.model import STAMP, resolve_model
from harness_vllm.modelsfile import write_models_file
from harness_vllm.options import FleetOptions, gpu_groups
from harness_vllm.serve import default_name

from harness.config import Config, load_models
from harness.errors import UsageError


def config(**options) -> Config:
    return Config(options=argparse.Namespace(**options), plugins=None)  # type: ignore[arg-type]


def test_gpu_groups_split_consecutively_and_name_the_mismatch() -> None:
    assert gpu_groups(["0", "1", "2", "3"], 2, 2) == ("0,1", "2,3")
    assert gpu_groups(["0,1", "2"], 3, 1) == ("0", "1", "2")
    assert gpu_groups(None, 3, 1) == (None, None, None)
    with pytest.raises(UsageError, match="need exactly 4"):
        gpu_groups(["0", "1", "2"], 2, 2)
    with pytest.raises(UsageError, match="listed twice"):
        gpu_groups(["0", "0"], 2, 1)


def test_fleet_options_defaults_and_checks() -> None:
    plain = FleetOptions.from_config(config())
    assert (plain.servers, plain.start_port, plain.stagger_delay, plain.vllm_args) == (1, 8000, 0.0, ())
    by_gpus = FleetOptions.from_config(config(gpu_ids=["0", "1", "2", "3"], tensor_parallel_size=2))
    assert by_gpus.servers == 2 and by_gpus.gpu_groups == ("0,1", "2,3")
    args = FleetOptions.from_config(config(vllm_arg=["--max-model-len 2048", "--enforce-eager"]))
    assert args.vllm_args == ("--max-model-len", "2048", "--enforce-eager")
    for bad in ({"vllm_servers": 0}, {"start_port": 70000}, {"stagger_delay": -1.0}):
        with pytest.raises(UsageError):
            FleetOptions.from_config(config(**bad))
    assert plain.hour_price is None and FleetOptions.from_config(config(hour_price=2.5)).hour_price == 2.5
    with pytest.raises(UsageError, match="--hour-price -1.0: give the USD one server costs per hour"):
        FleetOptions.from_config(config(hour_price=-1.0))


def test_launcher_forms() -> None:
    cli = Launcher(("vllm", "serve"), model_flag=False)
    assert cli.argv("m", ["--x"]) == ["vllm", "serve", "m", "--host", "{host}", "--port", "{port}", "--x"]
    module = Launcher(("py", "-m", MODULE), model_flag=True)
    assert module.argv("m", [])[:5] == ["py", "-m", MODULE, "--model", "m"]


def test_launcher_errors_name_the_setup_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="vLLM is not installed in that environment.*setup-vllm-cpu.sh"):
        resolve_launcher(sys.executable)  # the harness's own venv has no vLLM
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError, match="no `vllm` on PATH.*setup-vllm-cpu.sh"):
        resolve_launcher(None)


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def test_a_working_vllm_cli_is_used_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _script(tmp_path / "vllm", "#!/bin/sh\necho 0.0.1\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resolve_launcher(None) == Launcher((str(tmp_path / "vllm"), "serve"), model_flag=False)


def test_a_broken_vllm_cli_falls_back_to_the_module_of_its_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the CLI fails as vllm-cpu's does; its interpreter "has vLLM" (a stub package on its path)
    (tmp_path / "site" / "vllm").mkdir(parents=True)
    (tmp_path / "site" / "vllm" / "__init__.py").write_text("")
    python = tmp_path / "python3"
    _script(python, f'#!/bin/sh\nPYTHONPATH={tmp_path / "site"} exec {sys.executable} "$@"\n')
    _script(tmp_path / "vllm", f"#!{python}\nimport sys\nsys.exit('PackageNotFoundError: vllm')\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert resolve_launcher(None) == Launcher((str(python), "-m", MODULE), model_flag=True)


def test_model_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_MODELS_DIR", str(tmp_path / "models"))
    with pytest.raises(UsageError, match="harness models prepare smollm2 --format hf"):
        resolve_model("smollm2")
    prepared = tmp_path / "models" / "smollm2-hf"
    prepared.mkdir(parents=True)
    (prepared / "config.json").write_text('{"model_type": "llama"}')
    (prepared / STAMP).write_text("{}")
    assert resolve_model("smollm2").path == prepared
    with pytest.raises(UsageError, match="no config.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(UsageError, match="no config.json"):
        resolve_model("/no/such/folder")
    local = resolve_model(str(prepared))
    assert local.source == str(prepared) and len(local.describe()["config_sha256"]) == 64
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    hub = resolve_model("org/some-model")
    assert (hub.source, hub.path, hub.config_sha256()) == ("org/some-model", None, None)
    with pytest.raises(UsageError, match="not a checkpoint folder, a hub id"):
        resolve_model("what-is-this")


def test_models_file_round_trips_through_the_config_loader(tmp_path: Path) -> None:
    path = tmp_path / "served.toml"
    table = {"model": 'odd "name"', "base_url": ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"], "input_price": 0.5, "max_connections": 8}
    write_models_file(path, {"smol": table}, header="written by a test\nsecond line")
    model = load_models(path)["smol"]
    assert model.model == 'odd "name"' and model.base_urls == table["base_url"] and model.hour_price is None
    assert (model.input_price, model.max_connections, model.backend) == (0.5, 8, "openai")
    assert path.read_text().startswith("# written by a test\n# second line\n")


def test_default_serve_names() -> None:
    assert default_name("/x/y/smollm2-hf/") == "smollm2-hf"
    assert default_name("Qwen/Qwen3-4B") == "qwen3-4b"
    assert default_name("smollm2") == "smollm2"


def test_features_follow_the_tool_call_parser(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    model = resolve_model(str(tmp_path))
    launcher = Launcher(("vllm", "serve"), model_flag=False)
    plain = VLLMBackend("vllm:x", config(), Fleet(launcher, model, FleetOptions()))
    assert "tools" not in plain.features and {"response_format", "seed", "stop", "n"} <= plain.features
    tools = FleetOptions(vllm_args=("--enable-auto-tool-choice", "--tool-call-parser", "hermes"))
    assert {"tools", "tool_choice"} <= VLLMBackend("vllm:x", config(), Fleet(launcher, model, tools)).features


def test_fleet_gives_each_server_its_gpus_and_the_same_command(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    options = FleetOptions(servers=2, gpu_groups=("0,1", "2,3"), tensor_parallel_size=2, vllm_args=("--enforce-eager",))
    fleet = Fleet(Launcher(("vllm", "serve"), model_flag=False), resolve_model(str(tmp_path)), options)
    assert [s.env.get("CUDA_VISIBLE_DEVICES") for s in fleet.servers] == ["0,1", "2,3"]
    argv = fleet.servers[0].argv_template
    assert argv == fleet.servers[1].argv_template
    assert argv[argv.index("--tensor-parallel-size") + 1] == "2" and argv[-1] == "--enforce-eager"


def test_the_vllm_python_is_found_in_the_setup_venv_and_said(tmp_path, monkeypatch, capsys):
    from harness_vllm.options import PYTHON_ENV, vllm_python

    monkeypatch.delenv(PYTHON_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    python = tmp_path / ".venv-vllm" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert vllm_python(None) == str(python)
    assert f"vllm: using {python}" in capsys.readouterr().err
    assert vllm_python("/given/python") == "/given/python"
    monkeypatch.setenv(PYTHON_ENV, "/env/python")
    assert vllm_python(None) == "/env/python"


# A stand-in for `vllm serve` that answers the health checks: enough to time a fleet's servers.
FAKE_VLLM = """
import http.server, json, sys
port = int(sys.argv[sys.argv.index("--port") + 1])

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": "m"}]}).encode() if self.path == "/v1/models" else b"ok"
        self.send_response(200 if self.path in ("/health", "/v1/models") else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


async def test_a_priced_fleet_is_charged_for_every_server_while_it_ran(tmp_path: Path) -> None:
    import asyncio
    import time

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "fake_vllm.py").write_text(FAKE_VLLM)
    launcher = Launcher((sys.executable, str(tmp_path / "fake_vllm.py")), model_flag=True)
    options = FleetOptions(servers=2, gpu_groups=(None, None), start_port=20000, hour_price=7.2)
    backend = VLLMBackend("vllm:x", config(), Fleet(launcher, resolve_model(str(tmp_path / "model")), options))
    assert backend.hour_price == 7.2 and backend.server_seconds() == 0.0
    started = time.monotonic()
    await backend.start(tmp_path / "run")
    await asyncio.sleep(0.3)
    await backend.close()
    wall = time.monotonic() - started
    seconds = backend.server_seconds()
    assert 2 * 0.3 < seconds <= 2 * wall  # both servers, from launch to exit
    assert backend.serving() == {"server_seconds": round(seconds, 3), "hour_price": 7.2, "cost": round(seconds * 7.2 / 3600, 8)}
    assert backend.describe()["hour_price"] == 7.2


def test_multi_node_flags_reach_the_server_command_and_run_json(tmp_path: Path) -> None:
    """The README's multi-node recipe: vLLM's Ray executor and its parallel sizes go to the
    server's command line as given, and run.json's backend description records that line."""
    (tmp_path / "config.json").write_text("{}")
    recipe = config(tensor_parallel_size=8, vllm_arg=["--pipeline-parallel-size 2 --distributed-executor-backend ray"])
    fleet = Fleet(Launcher(("vllm", "serve"), model_flag=False), resolve_model(str(tmp_path)), FleetOptions.from_config(recipe))
    (server,) = VLLMBackend("vllm:x", recipe, fleet).describe()["servers"]
    argv = server["argv"]
    assert argv[argv.index("--tensor-parallel-size") + 1] == "8"
    assert argv[-4:] == ["--pipeline-parallel-size", "2", "--distributed-executor-backend", "ray"]


def test_a_served_fleet_beyond_loopback_keeps_its_key_out_of_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness_vllm.exposure import Exposure

    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("FLEET_KEY", "s3cret-key")
    exposure = Exposure.from_config(config(host="0.0.0.0", api_key_env="FLEET_KEY"))
    fleet = Fleet(Launcher(("vllm", "serve"), model_flag=False), resolve_model(str(tmp_path)), FleetOptions(), exposure)
    (server,) = fleet.servers
    assert server.host == "0.0.0.0" and server.env["VLLM_API_KEY"] == "s3cret-key" and server.probe_headers == {"Authorization": "Bearer s3cret-key"}
    assert "s3cret-key" not in " ".join(server.argv_template) and "s3cret-key" not in str(VLLMBackend("vllm:x", config(), fleet).describe())
    assert Exposure.from_config(config(host="localhost")).api_key_env is None  # loopback: no key needed
