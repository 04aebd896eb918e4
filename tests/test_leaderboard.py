"""`harness leaderboard`: numbers checked against hand computation, every format read back."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fake_runs import outcomes, write_run
from tabulate import tabulate_formats

from harness.cli.main import main
from harness.results.leaderboard import build_rows, display_table, load_runs, wall_label
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
    write_run(results, "x2", x2, repeats=2, started_at="2026-11-02T09:00:00+0000", ended_at="2026-11-02T09:00:08+0000", wall_seconds=7.5)
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
    assert "pass@3" not in x  # three attempts of each sample, but no run had three repeats
    # resampling 3 samples with rates (1, 1/3, 1/3): P(mean = 1/3) = 8/27 > 2.5%, P(mean < 1) = 26/27 < 97.5%
    assert (x["pass@1_low"], x["pass@1_high"]) == (pytest.approx(1 / 3), pytest.approx(1.0))
    assert x["cost"] == pytest.approx(6 * 0.02 + 4 * 0.01) and x["cost_per_sample"] == pytest.approx(0.016)
    assert (x["input_tokens"], x["output_tokens"]) == (1000, 100)
    assert x["median_latency"] == 5.5 and x["wall_seconds"] == [12.5, 7.5]  # per run, never summed
    assert x["tokens_per_sample"] == pytest.approx(110.0) and x["seconds_per_sample"] == pytest.approx(2.0)
    assert x["priced"] and (x["token_cost"], x["server_cost"]) == (pytest.approx(0.16), 0.0)
    assert (x["sandbox"], x["harness"], x["date"], x["dataset"]) == ("local", "0.1.0", "2026-11-02", "ab" * 6)
    y = rows[2]
    assert y["pass@1"] == pytest.approx(1 / 3) and y["pass@2"] is None and y["pass^2"] is None  # y ran once
    assert not y["priced"] and y["cost"] == 0.0  # nothing had a price: its cost is unknown, not $0
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


# --- what a row pools, and how it shows it (issue 15 items 3, 5, 7, 9) -----------------------


def test_one_dataset_spelled_two_ways_is_one_configuration(tmp_path, capsys):
    """Real runs of mbpp from one file, given once as an absolute and once as a relative path."""
    from conftest import MBPP_DATA, harness

    results = tmp_path / "results"
    shutil.copy(MBPP_DATA / "sanitized-mbpp.json", tmp_path / "mbpp.json")
    for path in (str(tmp_path / "mbpp.json"), "mbpp.json"):
        run = harness("run", "-p", "harness_test_scripted", "--sandbox", "local", "--task", "mbpp", "--task-opt", f"path={path}",
                      "--backend", "scripted:wrong", "--limit", "2", "--results-dir", str(results), cwd=tmp_path)  # fmt: skip
        assert run.returncode in (0, 1), run.stderr
    rows = json.loads(board(results, capsys, "--format", "json")[1])
    assert len(rows) == 1 and len(rows[0]["runs"]) == 2 and rows[0]["attempts"] == 4
    assert "path=" not in rows[0]["options"]  # the row is not labelled with one of the two spellings
    # another file (other problems, another sha256) stays another configuration
    write_run(results, "other", outcomes("11:P 12:F"), task="mbpp", sha256="cd" * 32, task_options={"path": "mbpp.json"})
    assert len(json.loads(board(results, capsys, "--format", "json")[1])) == 2


def test_a_run_with_no_scored_sample_is_never_pooled(tmp_path, capsys):
    results = tmp_path / "results"
    write_run(results, "good", outcomes("s0:P s1:F"))
    write_run(results, "broke", [], status="budget_exhausted", started_at="2026-11-02T09:00:00+0000")  # spent before any answer
    write_run(results, "infra", outcomes("s0:- s1:-"), status="budget_exhausted", started_at="2026-11-03T09:00:00+0000")
    runs, left_out = load_runs(results)
    assert [r.run_id for r in runs] == ["good"]
    assert left_out == [("broke", "status budget_exhausted with no scored sample"), ("infra", "status budget_exhausted with no scored sample")]
    _, out, err = board(results, capsys, "--format", "json")
    assert [row["runs"] for row in json.loads(out)] == [["good"]] and "broke (status budget_exhausted with no scored sample)" in err


def test_pass_at_k_only_where_every_pooled_run_had_k_repeats(tmp_path):
    results = tmp_path / "results"
    write_run(results, "a3", outcomes("s0:PPF s1:PFF"), repeats=3)
    write_run(results, "a2", outcomes("s0:PF s1:FF"), repeats=2, started_at="2026-11-02T09:00:00+0000")
    write_run(results, "b5", outcomes("s0:PPPPF s1:FFFFF"), repeats=5, backend="fake:b")
    rows = {row["models"]: row for row in build_rows(load_runs(results)[0])}
    a, b = rows["fake:a"], rows["fake:b"]
    # a: five attempts of each sample pooled, but one run had only two repeats: pass@2, no pass@3 or pass@5
    assert a["attempts"] == 10 and a["pass@2"] == pytest.approx(((1 - 1 / 10) + (1 - 6 / 10)) / 2)  # 1 - C(n-c,2)/C(n,2): s0 3 of 5, s1 1 of 5
    assert a["pass@5"] is None and "pass@3" not in a
    assert b["pass@5"] == pytest.approx(0.5) and b["pass^5"] == 0.0 and b["pass@2"] == pytest.approx((1 + 0) / 2)
    headers, cells = display_table(list(rows.values()))
    assert {"pass@2", "pass^2", "pass@5", "pass^5"} <= set(headers) and "pass@3" not in headers
    assert all(len(c) == len(headers) for c in cells)
    a_cells = dict(zip(headers, cells[list(rows).index("fake:a")], strict=True))
    assert a_cells["pass@5"] == "" and a_cells["runs"] == "2" and a_cells["attempts"] == "10"


@pytest.mark.parametrize("fmt", ["github", "csv", "json", "latex", "html"])
def test_runs_and_attempts_and_wall_time_per_run_in_every_format(results, capsys, fmt):
    code, out, _ = board(results, capsys, "--task", "humaneval", "--format", fmt)
    assert code == 0 and "runs" in out and "attempts" in out
    if fmt == "json":
        x = json.loads(out)[1]
        assert (x["runs"], x["attempts"], x["wall_seconds"]) == (["x1", "x2"], 9, [12.5, 7.5])
    elif fmt == "csv":
        x = list(csv.DictReader(io.StringIO(out)))[1]
        assert (x["runs"], x["attempts"], x["wall_seconds"]) == ("x1 x2", "9", "12.5 7.5")
    else:
        assert "12.5 + 7.5" in out and "20.0" not in out  # each run's wall time, never a silent sum


def test_wall_time_of_many_runs_is_median_and_total():
    assert wall_label([10.0]) == "10.0"
    assert wall_label([10.0, 30.0, 20.0]) == "10.0 + 30.0 + 20.0"
    assert wall_label([10.0, 30.0, 20.0, 40.0]) == "median 25.0, total 100.0 (4 runs)"


def test_server_time_at_its_hour_price_is_the_cost_of_local_models(tmp_path):
    results = tmp_path / "results"
    priced = {"vllm:m": {"server_seconds": 1800.0, "hour_price": 2.0, "cost": 1.0}}
    write_run(results, "v1", outcomes("s0:P s1:F"), backend="vllm:m", serving=priced)
    write_run(results, "v2", outcomes("s0:P s1:P"), backend="vllm:m", serving={"vllm:m": {"server_seconds": 900.0, "hour_price": 2.0, "cost": 0.5}})
    write_run(results, "l", outcomes("s0:F s1:F"), backend="llamacpp:smollm2", serving={"llamacpp:smollm2": {"server_seconds": 60.0, "hour_price": None, "cost": None}})
    write_run(results, "mix", outcomes("s0:F s1:F", cost=0.01), backend="fake:api", serving={"llamacpp:smollm2": {"server_seconds": 60.0, "hour_price": None, "cost": None}})
    rows = {row["models"]: row for row in build_rows(load_runs(results)[0])}
    v = rows["vllm:m"]
    assert (v["server_cost"], v["cost"], v["server_hours"], v["priced"]) == (1.5, 1.5, 0.75, True)
    assert v["cost_per_sample"] == pytest.approx(1.5 / 4)
    local, mix = rows["llamacpp:smollm2"], rows["fake:api"]
    assert (local["cost"], local["priced"], mix["priced"]) == (0.0, False, False)
    headers, cells = display_table([v, local, mix])
    costs = [dict(zip(headers, c, strict=True))["cost $"] for c in cells]
    assert costs == ["1.5000", "n/a", ">=0.0200"]  # unknown is not $0; a partly priced cost is a lower bound
