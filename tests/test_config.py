import pytest

from harness.config import load_models, parse_pairs
from harness.errors import ConfigError


def test_models_table(tmp_path):
    path = tmp_path / "harness.toml"
    path.write_text(
        '[models.fast]\nbase_url = ["http://127.0.0.1:1/v1/", "http://127.0.0.1:2/v1"]\n'
        'api_key_env = "FAST_KEY"\nmodel = "m"\ninput_price = 1.5\noutput_price = 2\nmax_connections = 3\n'
    )
    fast = load_models(path)["fast"]
    assert fast.base_urls == ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    assert (fast.model, fast.input_price, fast.output_price, fast.max_connections) == ("m", 1.5, 2.0, 3)
    assert "FAST_KEY" in str(fast.describe()) and fast.backend == "openai"


def test_malformed_toml_names_file_and_line(tmp_path):
    path = tmp_path / "harness.toml"
    path.write_text('[models.x]\nbase_url = "http://a"\nmodel = \n')
    with pytest.raises(ConfigError) as info:
        load_models(path)
    assert str(path) in str(info.value) and "line 3" in str(info.value)


@pytest.mark.parametrize(
    "body, message",
    [
        ('[models.x]\nmodel = "m"\n', "needs base_url"),
        ('[models.x]\nbase_url = "http://a"\nbase_ur = 1\n', "unknown key"),
        ('[models.x]\nbase_url = "http://a"\ninput_price = "cheap"\n', "models.x"),
        ("models = 3\n", "must be a table"),
    ],
)
def test_bad_model_tables(tmp_path, body, message):
    path = tmp_path / "harness.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_models(path)


def test_pairs():
    assert parse_pairs(["a=1", "b = x=y"], "--task-opt") == {"a": "1", "b": "x=y"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_pairs(["novalue"], "--task-opt")


def test_hour_price_of_a_models_table(tmp_path):
    path = tmp_path / "harness.toml"
    path.write_text('[models.local]\nbase_url = "http://127.0.0.1:1/v1"\nhour_price = 2.5\n[models.api]\nbase_url = "http://a/v1"\n')
    models = load_models(path)
    assert models["local"].hour_price == 2.5 and models["local"].describe()["hour_price"] == 2.5
    assert models["api"].hour_price is None
    path.write_text('[models.local]\nbase_url = "http://127.0.0.1:1/v1"\nhour_price = -1\n')
    with pytest.raises(ConfigError, match=r"\[models.local\] hour_price = -1.0: give USD per server-hour, 0 or more"):
        load_models(path)


def test_option_layers_typed_over_harness_toml_over_defaults():
    import argparse

    from harness.config import Config, FileSettings

    args = argparse.Namespace(repeats=None, sandbox="docker", seed=0, lf=False, node_ids=[], sandbox_pool=None)
    settings = FileSettings(path=None, run={"repeats": 3, "sandbox": "local", "seed": 5})
    config = Config(args, plugins=None, settings=settings, option_defaults={"sandbox_pool": 2})  # type: ignore[arg-type]
    assert config.getoption("repeats") == 3  # harness.toml over the built-in default
    assert config.getoption("sandbox") == "docker"  # typed over harness.toml
    assert config.getoption("seed") == 0 and config.given("seed")  # a typed 0 is typed
    assert config.getoption("max_concurrency") == 4 and config.getoption("sandbox_pool") == 2
    assert config.getoption("nothing", "fallback") == "fallback"
    assert not any(config.given(name) for name in ("lf", "node_ids", "repeats", "sandbox_pool"))
    assert config.origin("repeats") == "harness.toml [run] repeats =" and config.origin("sandbox") == "--sandbox"


def test_results_dir_typed_then_environment_then_harness_toml(monkeypatch):
    import argparse

    from harness.config import Config, FileSettings

    settings = FileSettings(run={"results_dir": "from-toml"})
    monkeypatch.delenv("HARNESS_RESULTS_DIR", raising=False)
    assert str(Config(argparse.Namespace(results_dir=None), None, settings=settings).results_dir) == "from-toml"  # type: ignore[arg-type]
    assert str(Config(argparse.Namespace(results_dir=None), None).results_dir) == "results"  # type: ignore[arg-type]
    monkeypatch.setenv("HARNESS_RESULTS_DIR", "from-env")
    assert str(Config(argparse.Namespace(results_dir=None), None, settings=settings).results_dir) == "from-env"  # type: ignore[arg-type]
    assert str(Config(argparse.Namespace(results_dir="typed"), None, settings=settings).results_dir) == "typed"  # type: ignore[arg-type]
