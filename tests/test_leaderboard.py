"""`harness leaderboard`: numbers checked against hand computation, every format read back."""

from __future__ import annotations

import csv
import io
import json
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fake_runs import outcomes, write_run
from tabulate import tabulate_formats

from harness.cli.main import main
from harness.results.leaderboard import build_rows, load_runs
from harness.results.stats import bootstrap_mean_ci


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """Configuration X in two runs (merged), Y, X with another system option, a run of another
    task, and an interrupted run that must be left out."""
    results = tmp_path / "results"
    x1 = outcomes("s0:PP s1:PF s2:F-", cost=0.02)
    x2 = outcomes("s0:P s1:F s2:FP", cost=0.01)
    for latency, attempt in enumerate(x1 + x2, 1):
        attempt.latency = float(latency)
    write_run(results, "x1", x1, repeats=2, wall_seconds=12.5)
    write_run(results, "x2", x2, started_at="2026-11-02T09:00:00+0000", ended_at="2026-11-02T09:00:08+0000", wall_seconds=7.5)
    write_run(results, "y", outcomes("s0:F s1:P s2:F"), backend="fake:b", started_at="2026-11-03T09:00:00+0000")
    write_run(results, "o", outcomes("s0:P"), system_options={"rounds": "3"}, started_at="2026-11-04T09:00:00+0000")
    write_run(results, "m", outcomes("11:P"), task="mbpp", started_at="2026-11-05T09:00:00+0000")
    write_run(results, "z", outcomes("s0:P"), status="interrupted", started_at="2026-11-06T09:00:00+0000")
    return results


def board(results: Path, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["leaderboard", "--results-dir", str(results), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_rows_equal_hand_computed_values(results):
    runs, left_out = load_runs(results, "humaneval")
    assert left_out == [("z", "status interrupted")]
    rows = build_rows(runs)
    assert [(r["system"], r["models"], r["options"]) for r in rows] == [("direct", "fake:a", "rounds=3"), ("direct", "fake:a", ""), ("direct", "fake:b", "")]
    x = rows[1]
    assert x["runs"] == ["x1", "x2"]  # one configuration, two runs: merged, not listed twice
    # pooled per sample, infra errors left out: s0 3/3, s1 1/3, s2 1/3
    assert (x["n"], x["attempts"], x["infra_errors"]) == (3, 9, 1)
    assert x["pass@1"] == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    assert x["pass@2"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)  # 1 - C(2,2)/C(3,2) = 2/3
    assert x["pass^2"] == pytest.approx(1 / 3)  # only s0 has two passes to draw
    assert x["pass@3"] == pytest.approx(1.0) and x["pass^3"] == pytest.approx(1 / 3)
    # resampling 3 samples with rates (1, 1/3, 1/3): P(mean = 1/3) = 8/27 > 2.5%, P(mean < 1) = 26/27 < 97.5%
    assert (x["pass@1_low"], x["pass@1_high"]) == (pytest.approx(1 / 3), pytest.approx(1.0))
    assert x["cost"] == pytest.approx(6 * 0.02 + 4 * 0.01) and x["cost_per_sample"] == pytest.approx(0.016)
    assert (x["input_tokens"], x["output_tokens"]) == (1000, 100)
    assert x["median_latency"] == 5.5 and x["wall_seconds"] == 20.0
    assert (x["sandbox"], x["harness"], x["date"], x["dataset"]) == ("local", "0.1.0", "2026-11-02", "ab" * 6)
    y = rows[2]
    assert y["pass@1"] == pytest.approx(1 / 3) and y["pass@2"] is None and y["pass^3"] is None
    assert set(y) == set(x)  # every row has every column


def test_bootstrap_interval_is_seeded_and_degenerate_when_every_sample_agrees():
    values = [1.0, 0.0, 1.0, 1.0, 0.5, 0.0, 1.0]
    assert bootstrap_mean_ci(values) == bootstrap_mean_ci(values)
    low, high = bootstrap_mean_ci(values)
    assert low < sum(values) / len(values) < high
    assert bootstrap_mean_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)


def test_cli_filters_by_task_and_says_what_it_left_out(results, capsys):
    code, out, err = board(results, capsys, "--format", "json")
    assert code == 0
    assert [r["task"] for r in json.loads(out)] == ["humaneval"] * 3 + ["mbpp"]
    assert "left out 1 run(s)" in err and "z (status interrupted)" in err
    code, out, _ = board(results, capsys, "--task", "mbpp", "--format", "json")
    assert [r["runs"] for r in json.loads(out)] == [["m"]]


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])

    def handle_data(self, data):
        if self.rows and data.strip():
            self.rows[-1].append(data.strip())


@pytest.mark.parametrize("fmt", ["md", *tabulate_formats])
def test_every_table_format_renders(results, capsys, fmt):
    code, out, _ = board(results, capsys, "--task", "humaneval", "--format", fmt)
    assert code == 0 and "fake:b" in out and "0.556 [0.333, 1.000]" in out
    if fmt in ("html", "unsafehtml"):
        parsed = _Cells()
        parsed.feed(out)
        assert len(parsed.rows) == 4 and parsed.rows[2][:3] == ["humaneval", "direct", "fake:a"]
    if fmt.startswith("latex"):
        assert "\\begin{" in out and "\\end{" in out and out.count("\\\\") >= 4


def test_machine_formats_parse_back(results, capsys, tmp_path):
    expected = build_rows(load_runs(results)[0])
    assert json.loads(board(results, capsys, "--format", "json")[1]) == expected
    assert [json.loads(line) for line in board(results, capsys, "--format", "jsonl")[1].splitlines()] == expected
    table = list(csv.DictReader(io.StringIO(board(results, capsys, "--format", "csv")[1])))
    assert [row["runs"] for row in table] == ["o", "x1 x2", "y", "m"]
    assert float(table[1]["pass@2"]) == pytest.approx(expected[1]["pass@2"]) and table[0]["pass@2"] == ""
    target = tmp_path / "board.parquet"
    assert board(results, capsys, "--output", str(target))[0] == 0  # the format comes from the suffix
    import pyarrow.parquet

    assert pyarrow.parquet.read_table(target).to_pylist() == expected


def test_a_third_party_exporter_adds_a_format_and_a_clash_is_named(results, capsys, tmp_path, monkeypatch):
    (tmp_path / "shout_exporter.py").write_text(
        "from harness import hookimpl\n"
        "class Shout:\n    name = 'shout'\n    formats = ('shout',)\n"
        "    def export(self, rows, fmt):\n        return ' '.join(r['models'].upper() for r in rows) + '\\n'\n"
        "class Csv2:\n    name = 'csv2'\n    formats = ('csv',)\n"
        "    def export(self, rows, fmt):\n        return ''\n"
        "@hookimpl\ndef harness_add_exporters():\n    return [Shout, Csv2]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = board(results, capsys, "-p", "shout_exporter", "--task", "humaneval", "--format", "shout")
    assert (code, out) == (0, "FAKE:A FAKE:A FAKE:B\n")
    code, _, err = board(results, capsys, "-p", "shout_exporter", "--format", "csv")
    assert code == 2 and "'csv' is claimed by exporter 'csv' of plugin 'exporters' and exporter 'csv2' of plugin 'shout_exporter'" in err
    code, _, err = board(results, capsys, "--format", "yaml")
    assert code == 2 and "unknown format 'yaml'" in err and "parquet" in err


def test_parquet_without_datasets_names_the_install(results, capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` raises ImportError
    code, _, err = board(results, capsys, "--output", str(tmp_path / "board.parquet"))
    assert code == 2 and "pip install datasets" in err
