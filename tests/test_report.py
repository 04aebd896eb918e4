"""`harness report`: one self-contained HTML file, opened in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import harness
from fake_runs import RICH_TRANSCRIPT, Attempt, outcomes, write_run
from PIL import Image

from harness.cli.main import main

FRONT_GREEN = (0x2D, 0xA4, 0x4E)  # .front-point fill in harness/report.py
HEADER_GREY = (0xEE, 0xF2, 0xF6)  # th background


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


class _Anchors(HTMLParser):
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


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Hand-written runs (one with a rich transcript, one interrupted) plus a real scripted run."""
    root = tmp_path_factory.mktemp("report")
    results = root / "results"
    write_run(results, "x1", outcomes("s0:PP s1:PF s2:FF", cost=0.02), repeats=2)
    write_run(results, "y", [Attempt("s0", "passed"), Attempt("s1", "failed", transcript=RICH_TRANSCRIPT), Attempt("s2", "passed")],
              backend="fake:b", started_at="2026-11-02T09:00:00+0000")  # fmt: skip
    write_run(results, "z", outcomes("s0:P"), status="interrupted", started_at="2026-11-03T09:00:00+0000")
    real = harness("run", "-p", "harness_test_scripted", "--sandbox", "local", "--task", "humaneval",
                   "--backend", "scripted:canonical?wrong=HumanEval/1&cost=0.001", "--limit", "3", "--results-dir", str(results), cwd=root)  # fmt: skip
    assert real.returncode == 0, real.stderr
    output = root / "report.html"
    assert main(["report", "--results-dir", str(results), "--output", str(output)]) == 0
    return output


def test_report_is_self_contained(report):
    html = report.read_text()
    assert "<svg" in html and "<table" in html
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\(|src=", html)
    parsed = _Anchors()
    parsed.feed(html)
    assert parsed.hrefs and all(href.startswith("#") for href in parsed.hrefs)
    assert "z: status interrupted" in html  # the left-out run is named


def test_chromium_shows_the_table_and_the_chart(report, tmp_path):
    shot = tmp_path / "top.png"
    browse(tmp_path, report.as_uri(), "--window-size=1280,1400", f"--screenshot={shot}")
    image = Image.open(shot).convert("RGB")
    colours = {colour: count for count, colour in image.getcolors(1 << 24)}
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    assert colours.get(HEADER_GREY, 0) > 1000, "no leaderboard header row painted"
    assert colours.get(FRONT_GREEN, 0) > 50, "no Pareto-front point painted in the chart"


def test_every_in_page_link_has_its_target_and_a_sample_opens_when_targeted(report, tmp_path):
    html = report.read_text()
    anchor = re.search(r'<section class="sample" id="([^"]+)"><h3>humaneval::s1 · repeat 0 · run y</h3>', html).group(1)
    # a copy with a probe that records what the browser shows once the page is loaded
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", """<script>
addEventListener("load", () => setTimeout(() => {
  const target = document.querySelector(":target");
  const shown = [...document.querySelectorAll(".sample")].filter(s => getComputedStyle(s).display !== "none");
  document.body.dataset.probe = JSON.stringify({target: target && target.id, shown: shown.map(s => s.id), text: target && target.innerText});
}, 0));
</script></body>"""))
    dom = browse(tmp_path, f"{probe.as_uri()}#{anchor}", "--virtual-time-budget=5000", "--dump-dom").stdout
    parsed = _Anchors()
    parsed.feed(dom)
    missing = {href for href in parsed.hrefs if href[1:] not in parsed.ids}
    assert len(parsed.hrefs) > 20 and not missing, f"links without a target: {missing}"
    seen = json.loads(parsed.probe)
    assert seen["target"] == anchor and seen["shown"] == [anchor]  # only the targeted sample is displayed
    for text in ("run_tests", "API design", "AssertionError: add(1, 2) != 3", "HTTP 503 after 3 retries", "You write code."):
        assert text in seen["text"]
