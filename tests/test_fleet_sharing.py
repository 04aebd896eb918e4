"""Model fleets shared across hosts (issue 16, item 2): `harness serve` refuses to listen beyond
loopback without an API key (no vLLM needed for the refusal), and several models files combine
into one models table whose replicas of one model merge, checked against real HTTP replicas."""

from __future__ import annotations

import ipaddress
import json
import socket

import pytest
from conftest import harness, harness_env
from test_auto_concurrency import replicas  # noqa: F401 - the fixture

from harness.config import load_settings
from harness.errors import ConfigError


def beyond_loopback() -> list[str]:
    """Addresses that listen beyond loopback: every interface, and this host's own addresses."""
    own = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    return ["0.0.0.0", "::", *sorted(a for a in own if not ipaddress.ip_address(a).is_loopback)]


@pytest.mark.parametrize("host", beyond_loopback())
def test_serve_beyond_loopback_without_a_key_is_refused(workdir, host):
    proc = harness("serve", "vllm:smollm2", "--host", host, cwd=workdir)
    assert proc.returncode == 2, proc.stderr
    assert f"--host {host} listens beyond this host's loopback" in proc.stderr and "--api-key-env" in proc.stderr
    assert not list(workdir.glob("served-*.toml"))


def test_serve_refuses_an_unset_key_variable_and_a_key_on_the_command_line(workdir):
    env = harness_env()
    env.pop("FLEET_KEY", None)
    unset = harness("serve", "vllm:smollm2", "--host", "0.0.0.0", "--api-key-env", "FLEET_KEY", cwd=workdir, env=env)
    assert unset.returncode == 2 and "the environment variable FLEET_KEY is not set" in unset.stderr
    inline = harness("serve", "vllm:smollm2", "--vllm-arg=--api-key s3cret", cwd=workdir)
    assert inline.returncode == 2 and "--vllm-arg --api-key would write the key" in inline.stderr


def models_file(path, name: str, url: str, **extra: object) -> None:
    table = {"base_url": [url], "model": "served-model", "max_connections": 3, "attempts": 1} | extra
    path.write_text(f"[models.{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()))


def test_models_files_of_two_hosts_merge_their_replicas_for_a_run(workdir, replicas):  # noqa: F811
    a, b = replicas
    models_file(workdir / "host-a.toml", "fleet", a.url)
    models_file(workdir / "host-b.toml", "fleet", b.url)
    proc = harness("run", "--config", "host-a.toml", "--config", "host-b.toml", "--backend", "fleet", "--task", "humaneval", "--limit", "6",
                   "--sandbox", "local", "--sandbox-pool", "1", "--max-concurrency", "auto", "--run-id", "merged", cwd=workdir)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert "--max-concurrency auto: 7 = backend fleet 6 + sandbox local 1" in proc.stderr
    spec = json.loads((workdir / "results" / "merged" / "run.json").read_text())
    assert spec["resolved"]["backends"]["default"]["base_urls"] == [a.url, b.url]
    assert a.requests and b.requests and len(a.requests) + len(b.requests) == 6  # both hosts served


def test_a_harness_toml_lists_models_files(tmp_path):
    models_file(tmp_path / "a.toml", "fleet", "http://a:8000/v1")
    models_file(tmp_path / "b.toml", "fleet", "http://b:8000/v1")
    models_file(tmp_path / "c.toml", "other", "http://c:8000/v1")
    (tmp_path / "harness.toml").write_text('models_files = ["a.toml", "b.toml", "c.toml"]\n\n[run]\nrepeats = 2\n')
    settings = load_settings(tmp_path / "harness.toml")
    assert settings.models["fleet"].base_urls == ["http://a:8000/v1", "http://b:8000/v1"] and settings.models["other"].base_urls == ["http://c:8000/v1"]
    assert settings.run == {"repeats": 2}


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ({"api_key_env": "OTHER_KEY"}, "[models.fleet] api_key_env = 'OTHER_KEY', but the same model read before has api_key_env = None"),
        ({"model": "another"}, "[models.fleet] model = 'another'"),
    ],
)
def test_replicas_that_disagree_are_refused_by_key(tmp_path, other, message):
    models_file(tmp_path / "a.toml", "fleet", "http://a:8000/v1")
    models_file(tmp_path / "b.toml", "fleet", "http://b:8000/v1", **other)
    (tmp_path / "harness.toml").write_text('models_files = ["a.toml", "b.toml"]\n')
    with pytest.raises(ConfigError, match="must agree on everything but base_url") as caught:
        load_settings(tmp_path / "harness.toml")
    assert message in str(caught.value) and str(tmp_path / "b.toml") in str(caught.value)


def test_a_missing_models_file_and_a_models_file_with_run_options_are_refused(tmp_path):
    (tmp_path / "harness.toml").write_text('models_files = ["nowhere.toml"]\n')
    with pytest.raises(ConfigError, match="lists 'nowhere.toml', but .* is no file"):
        load_settings(tmp_path / "harness.toml")
    (tmp_path / "x.toml").write_text("[run]\nrepeats = 3\n")
    (tmp_path / "harness.toml").write_text('models_files = ["x.toml"]\n')
    with pytest.raises(ConfigError, match="a models file holds only"):
        load_settings(tmp_path / "harness.toml")
