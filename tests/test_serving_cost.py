"""Server time in summary.json: a resumed run adds each invocation's seconds and cost."""

from __future__ import annotations

from harness.backend import serving_entry
from harness.resources import add_serving


def test_serving_entry_prices_the_hours():
    assert serving_entry(5400.0, 2.0) == {"server_seconds": 5400.0, "hour_price": 2.0, "cost": 3.0}
    assert serving_entry(12.34567, None) == {"server_seconds": 12.346, "hour_price": None, "cost": None}


def test_a_resumed_run_adds_up_its_server_time():
    earlier = {"vllm:m": serving_entry(3600.0, 2.0), "llamacpp:smollm2": serving_entry(10.0, None)}
    now = {"vllm:m": serving_entry(1800.0, 4.0), "openai:x": serving_entry(60.0, 1.0)}
    total = add_serving(earlier, now)
    assert total["vllm:m"] == {"server_seconds": 5400.0, "hour_price": 4.0, "cost": 2.0 + 2.0}  # each part at its own price
    assert total["llamacpp:smollm2"] == earlier["llamacpp:smollm2"] and total["openai:x"] == now["openai:x"]
    assert add_serving({"a": serving_entry(10.0, None)}, {"a": serving_entry(10.0, 3.6)})["a"]["cost"] is None  # part unpriced
    assert add_serving({}, {}) == {}
