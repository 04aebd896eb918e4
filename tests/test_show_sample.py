"""`harness show RUN_ID --sample ID`: one sample's records and full transcript, readable."""

from __future__ import annotations

from fake_runs import RICH_TRANSCRIPT, Attempt, write_run

from harness.cli.main import main


def test_show_sample_prints_the_whole_transcript(tmp_path, capsys):
    results = tmp_path / "results"
    write_run(results, "r", [Attempt("s0", "passed"), Attempt("s1", "failed", transcript=RICH_TRANSCRIPT), Attempt("s1", "passed", repeat=1)])
    assert main(["show", "r", "--results-dir", str(results), "--sample", "s1", "--repeat", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== humaneval::s1  repeat 0  status failed")
    for expected in (
        "--- transcript: 4 entries ---",
        "[1] model call · engineer · fake:a · 12+5 tokens · $0.00050 · 0.25s",
        "  [system]\n    You write code.",
        'run_tests({"file": "add.py"})  [id call_1]',
        "[2] event · document",
        "  [from]\n    architect",
        "  [stderr]\n    AssertionError: add(1, 2) != 3",
        "[4] model call · reviewer · fake:a · 1.50s  FAILED",
        "  [error]\n    HTTP 503 after 3 retries",
    ):
        assert expected in out
    assert "repeat 1" not in out


def test_show_sample_by_node_id_gives_every_repeat_and_an_unknown_id_says_what_exists(tmp_path, capsys):
    results = tmp_path / "results"
    write_run(results, "r", [Attempt("s1", "failed"), Attempt("s1", "passed", repeat=1)])
    assert main(["show", "r", "--results-dir", str(results), "--sample", "humaneval::s1"]) == 0
    out = capsys.readouterr().out
    assert "repeat 0  status failed" in out and "repeat 1  status passed" in out
    assert main(["show", "r", "--results-dir", str(results), "--sample", "s9"]) == 2
    err = capsys.readouterr().err
    assert "no record of sample 's9'" in err and "e.g. humaneval::s1" in err
