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
