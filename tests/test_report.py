"""`harness report`: one self-contained HTML file, opened in a real headless Chromium at 1,400 px
and printed to PDF; `--figures` writes the charts as PDF and PNG."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy
import pytest
from conftest import harness
from fake_runs import RICH_TRANSCRIPT, Attempt, outcomes, write_run
from PIL import Image

from harness.cli.main import main
from harness.results.chart import FRONT_GREEN, POINT_GREY

HEADER_GREY = (0xEE, 0xF2, 0xF6)  # th background in report.css
WIDTH = 1400


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("no Chromium on PATH: the report tests need a real browser. Install it: apt-get install -y chromium")


def browse(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}"]  # fmt: skip
    proc = subprocess.run([chromium(), *flags, *args, url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def screenshot(tmp_path: Path, page: Path, height: int = 1400) -> Image.Image:
    shot = tmp_path / "shot.png"
    browse(tmp_path, page.as_uri(), f"--window-size={WIDTH},{height}", "--hide-scrollbars", f"--screenshot={shot}")
    return Image.open(shot).convert("RGB")


def probe(tmp_path: Path, page: Path, script: str, fragment: str = "") -> dict:
    """Load a copy of the page with ``script`` (which sets ``result``) and return that result."""
    copy = tmp_path / "probe.html"
    copy.write_text(page.read_text().replace("</body>", f"""<script>
addEventListener("load", () => setTimeout(() => {{
  let result = null;
  {script}
  document.body.dataset.probe = JSON.stringify(result);
}}, 0));
</script></body>"""))
    dom = browse(tmp_path, copy.as_uri() + fragment, f"--window-size={WIDTH},900", "--virtual-time-budget=5000", "--dump-dom").stdout
    parsed = _Page()
    parsed.feed(dom)
    assert parsed.probe is not None, "the probe did not run"
    return json.loads(parsed.probe) | {"_ids": sorted(parsed.ids), "_hrefs": parsed.hrefs}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.probe: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "body" and "data-probe" in attrs:
            self.probe = attrs["data-probe"]


class _Facts(HTMLParser):
    """The cells of the first run's facts table: label -> the text of its (nested) cell."""

    def __init__(self) -> None:
        super().__init__()
        self.facts: dict[str, list[str]] = {}
        self.depth = 0
        self.label: str | None = None
        self.cell = 0
        self.done = False

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        if tag == "table" and ("class", "facts") in attrs:
            self.depth = 1
        elif tag == "table" and self.depth:
            self.depth += 1
        elif tag == "tr" and self.depth == 1:
            self.label, self.cell = None, 0
        elif tag == "td" and self.depth == 1:
            self.cell += 1

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
            self.done = self.depth == 0

    def handle_data(self, data):
        if self.depth and data.strip() and not self.done:
            if self.cell == 1 and self.depth == 1:
                self.label = data.strip()
                self.facts[self.label] = []
            elif self.label:
                self.facts[self.label].append(data.strip())


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Hand-written runs (one with a rich transcript, one interrupted) plus a real scripted run."""
    root = tmp_path_factory.mktemp("report")
    results = root / "results"
    write_run(results, "x1", outcomes("s0:PP s1:PF s2:FF", cost=0.02), repeats=2)
    write_run(results, "y", [Attempt("s0", "passed", cost=0.01), Attempt("s1", "failed", cost=0.01, transcript=RICH_TRANSCRIPT), Attempt("s2", "passed", cost=0.01)],
              backend="fake:b", started_at="2026-11-02T09:00:00+0000")  # fmt: skip
    write_run(results, "z", outcomes("s0:P"), status="interrupted", started_at="2026-11-03T09:00:00+0000")
    # ten repeats (pass@k / pass^k for k = 2, 5, 10), a long model name and long options: the widest row
    write_run(results, "r10", outcomes("s0:PPPPPFFFFF s1:PFPFPFPFPF s2:FFFFFFFFFP", cost=0.001), repeats=10,
              backend="vllm:Qwen/Qwen2.5-Coder-32B-Instruct", system_options={"max_tokens": "2048", "system_prompt": "You are a careful engineer."})  # fmt: skip
    real = harness("run", "-p", "harness_test_scripted", "--sandbox", "local", "--task", "humaneval",
                   "--backend", "scripted:canonical?wrong=HumanEval/1&cost=0.001", "--limit", "3", "--results-dir", str(results), cwd=root)  # fmt: skip
    assert real.returncode == 0, real.stderr
    output = root / "report.html"
    assert main(["report", "--results-dir", str(results), "--output", str(output), "--figures", str(root / "figures")]) == 0
    return output


def test_report_is_self_contained(report):
    html = report.read_text()
    assert "<svg" in html and "<table" in html
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\((?!#)|src=", html)  # url(#clip) is the SVG's own
    parsed = _Page()
    parsed.feed(html)
    assert parsed.hrefs and all(href.startswith("#") for href in parsed.hrefs)
    assert "z: status interrupted" in html  # the left-out run is named
    assert "<details" not in html and html.count('hidden="until-found"') == 6 + 3 + 30 + 3  # every sample, findable


def test_at_1400_px_the_leaderboard_fits_and_the_chart_is_painted(report, tmp_path):
    image = screenshot(tmp_path, report)
    colours = {colour: count for count, colour in image.getcolors(1 << 24)}
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    assert colours.get(HEADER_GREY, 0) > 1000, "no leaderboard header row painted"
    assert colours.get(rgb(FRONT_GREEN), 0) > 50, "no Pareto-front point painted in the chart"
    seen = probe(tmp_path, report, """
      const board = document.querySelector("table.board").getBoundingClientRect();
      result = {page: document.documentElement.scrollWidth, window: innerWidth, board_right: board.right,
                headers: [...document.querySelectorAll("table.board th")].map(th => th.textContent)};""")
    assert seen["page"] <= seen["window"] and seen["board_right"] <= seen["window"], "the page scrolls sideways at 1,400 px"
    assert {"runs", "samples", "attempts", "pass@1 [95% CI]", "pass@k / pass^k", "more"} <= set(seen["headers"])
    assert "sandbox" not in seen["headers"] and "pass@10" not in seen["headers"]  # folded: "more", one line per k


def test_every_in_page_link_has_its_target_and_a_linked_sample_opens(report, tmp_path):
    html = report.read_text()
    anchor = re.search(r'<section class="sample" id="([^"]+)" hidden="until-found"><h3>humaneval::s1 · repeat 0 · run y</h3>', html).group(1)
    seen = probe(tmp_path, report, """
      const target = document.querySelector(":target");
      const shown = [...document.querySelectorAll(".sample")].filter(s => !s.hidden);
      result = {target: target && target.id, shown: shown.map(s => s.id), text: target && target.innerText};""", f"#{anchor}")
    missing = {href for href in seen["_hrefs"] if href[1:] not in seen["_ids"]}
    assert len(seen["_hrefs"]) > 20 and not missing, f"links without a target: {missing}"
    assert seen["target"] == anchor and seen["shown"] == [anchor]  # only the linked sample is unfolded
    for text in ("run_tests", "API design", "AssertionError: add(1, 2) != 3", "HTTP 503 after 3 retries", "You write code."):
        assert text in seen["text"]


def test_find_in_page_reaches_the_folded_transcripts(report, tmp_path):
    """window.find searches as find-in-page does; it finds nothing under display: none."""
    seen = probe(tmp_path, report, """
      const texts = ["HTTP 503 after 3 retries", "AssertionError: add(1, 2) != 3", "no such text anywhere"];
      result = {found: texts.map(t => { getSelection().removeAllRanges(); return window.find(t); })};""")
    assert seen["found"] == [True, True, False]


def test_run_facts_are_tables_not_json(report):
    facts = _Facts()
    facts.feed(report.read_text())
    assert facts.facts["versions"][:4] == ["harness", "0.1.0", "python", "3.11"]
    assert facts.facts["sandbox"] == ["tier", "local"]
    assert facts.facts["dataset"][:2] == ["source", "fixture"]
    assert not any(text.startswith("{") for texts in facts.facts.values() for text in texts)


def test_print_keeps_the_leaderboard_on_the_page_and_leaves_transcripts_out(report, tmp_path):
    import pypdfium2

    pdf_path = tmp_path / "report.pdf"
    browse(tmp_path, report.as_uri(), "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}")
    pdf = pypdfium2.PdfDocument(pdf_path)
    first = pdf[0]
    width = first.get_width()
    text = first.get_textpage()
    content = text.get_text_range()
    assert "Leaderboard" in content and "tokens/sample" in content and "more" in content
    right_edge = max(text.get_charbox(i)[2] for i in range(text.count_chars()))
    assert right_edge <= width, "the leaderboard runs off the printed page"
    everything = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "Run x1" in everything and "HTTP 503 after 3 retries" not in everything


def test_figures_are_written_as_pdf_and_png(report):
    figures = report.parent / "figures"
    assert sorted(p.name for p in figures.iterdir()) == ["humaneval.pdf", "humaneval.png"]
    assert (figures / "humaneval.pdf").read_bytes()[:5] == b"%PDF-"
    image = Image.open(figures / "humaneval.png").convert("RGB")
    assert image.size == (1800, 1000)  # 9 x 5 inches at 200 dpi
    assert rgb(FRONT_GREEN) in {colour for _, colour in image.getcolors(1 << 24)}


def test_report_needs_an_output_or_figures(tmp_path, capsys):
    assert main(["report", "--results-dir", str(tmp_path)]) == 2
    assert "give --output FILE.html" in capsys.readouterr().err


# --- a report of local models only ---------------------------------------------------------


@pytest.fixture(scope="module")
def local_report(tmp_path_factory) -> Path:
    """Local models only: two real runs of the embedded llama.cpp model (short and long answers),
    which have no price, and one of the same model behind a models-table endpoint at $3.60 an hour."""
    import asyncio

    from harness_llamacpp.backend import llama_server

    from harness.serving.shipped import smollm2_gguf

    root = tmp_path_factory.mktemp("local")
    for max_tokens in (16, 96):
        run = harness("run", "--system", "direct", "--task", "humaneval", "--limit", "2", "--sandbox", "local",
                      "--backend", "llamacpp:smollm2", "--system-opt", f"max_tokens={max_tokens}", cwd=root)  # fmt: skip
        assert run.returncode in (0, 1), run.stderr
        assert "server llamacpp on port" in run.stderr and ") ready after" in run.stderr  # start-up shown per server
    server = llama_server(smollm2_gguf(), "smollm2")
    asyncio.run(server.start(root / "endpoint"))
    try:
        (root / "harness.toml").write_text(f'[models.smol]\nbase_url = "{server.base_url}"\nmodel = "smollm2"\nhour_price = 3.6\n')
        run = harness("run", "--system", "direct", "--task", "humaneval", "--limit", "2", "--sandbox", "local",
                      "--backend", "smol", "--system-opt", "max_tokens=48", cwd=root)  # fmt: skip
        assert run.returncode in (0, 1), run.stderr
    finally:
        asyncio.run(server.stop())
    output = root / "report.html"
    assert main(["report", "--results-dir", str(root / "results"), "--output", str(output)]) == 0
    return output


@pytest.mark.model
def test_local_models_only_give_a_chart_against_tokens_that_is_not_one_dot(local_report, tmp_path):
    summaries = [json.loads(p.read_text()) for p in (local_report.parent / "results").glob("*/summary.json")]
    serving = sorted(((spec, entry) for summary in summaries for spec, entry in summary["serving"].items()), key=lambda item: item[0])
    assert [spec for spec, _ in serving] == ["llamacpp:smollm2", "llamacpp:smollm2", "smol"]
    for _, entry in serving[:2]:  # the embedded server's time is recorded, unpriced
        assert entry["server_seconds"] > 0 and entry["hour_price"] is None and entry["cost"] is None
    priced = serving[2][1]  # the endpoint, held for the run at $3.60 an hour: a cent a thousand seconds
    assert priced["hour_price"] == 3.6 and priced["cost"] == pytest.approx(priced["server_seconds"] / 1000, abs=1e-6) and priced["cost"] > 0
    rows = {row["models"]: row for row in json.loads(harness("leaderboard", "--format", "json", cwd=local_report.parent).stdout)}
    assert rows["smol"]["priced"] and rows["smol"]["cost"] == pytest.approx(priced["cost"], abs=1e-6)
    assert not rows["llamacpp:smollm2"]["priced"]
    html = local_report.read_text()
    assert "x: tokens per sample, not cost: no price for direct · llamacpp:smollm2 (give" in html  # only those lack one
    assert ">n/a<" in html  # the leaderboard does not claim $0
    image = screenshot(tmp_path, local_report, height=1300)
    pixels = numpy.asarray(image)
    painted = numpy.zeros(pixels.shape[:2], dtype=bool)
    for colour in (FRONT_GREEN, POINT_GREY):
        painted |= (pixels == rgb(colour)).all(axis=2)
    xs = numpy.nonzero(painted.any(axis=0))[0]
    assert xs.size, "no point painted"
    assert xs.max() - xs.min() > 300, "the two configurations are drawn on (nearly) one spot: the axis is not scaled to the data"
