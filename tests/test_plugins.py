"""Plugins are found exactly as a third-party one would be: a pip-installed entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import harness, last_json

TASK_MODULE = '''
"""A tiny third-party task: the model must say something."""
from harness import hookimpl
from harness.task import Task
from harness.types import Outcome, Sample


class Tiny(Task):
    name = "tiny"
    version = "0.3"

    def samples(self):
        return [Sample("tiny", "greet", "Say hello.", tags=("easy",)), Sample("tiny", "count", "Count to three.")]

    async def score(self, sample, answer, ctx):
        return Outcome("passed" if answer.text.strip() else "failed", 1.0 if answer.text.strip() else 0.0)


@hookimpl
def harness_add_tasks():
    return [Tiny]
'''


def make_distribution(root: Path, dist: str, ep_name: str, module: str) -> Path:
    folder = root / dist
    folder.mkdir()
    (folder / f"{module}.py").write_text(TASK_MODULE)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "0.3.0"

        [project.entry-points.harness]
        {ep_name} = "{module}"

        [tool.setuptools]
        py-modules = ["{module}"]
        """))
    return folder


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, capture_output=True, text=True, timeout=300)


@pytest.fixture
def installed(tmp_path):
    """pip-install plugin distributions into this venv for the test, and remove them after."""
    names: list[str] = []

    def install(dist: str, ep_name: str, module: str) -> None:
        pip("install", "--no-deps", "--no-build-isolation", str(make_distribution(tmp_path, dist, ep_name, module)))
        names.append(dist)

    yield install
    if names:
        pip("uninstall", "-y", *names)


def test_third_party_plugin_is_discovered_and_runs(installed, workdir):
    installed("harness-tinytask", "tinytask", "harness_tinytask")
    listing = harness("plugins", "--json", cwd=workdir)
    assert listing.returncode == 0, listing.stderr
    tiny = next(p for p in json.loads(listing.stdout) if p["plugin"] == "tinytask")
    assert tiny == {
        "plugin": "tinytask",
        "module": "harness_tinytask",
        "distribution": "harness-tinytask",
        "version": "0.3.0",
        "kinds": ["tasks"],
        "registered": {"tasks": ["tiny"]},
    }
    assert "tiny" in harness("plugins", cwd=workdir).stdout
    # runnable end to end, with the real embedded model
    proc = harness("run", "--task", "tiny", "--sandbox", "local", "--system-opt", "max_tokens=16", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["attempts"] == 2 and summary["tokens"]["output"] > 0
    spec = json.loads((workdir / "results" / summary["run_id"] / "run.json").read_text())
    assert spec["versions"]["plugins"]["tinytask"] == "0.3.0"
    # and disabled by its entry-point name
    assert "unknown task 'tiny'" in harness("list", "-p", "no:tinytask", "--task", "tiny", cwd=workdir).stderr


def test_two_plugins_registering_one_name_is_an_error_naming_both(installed, workdir):
    installed("harness-tinytask", "tinytask", "harness_tinytask")
    installed("harness-tinyclone", "tinyclone", "harness_tinyclone")
    proc = harness("plugins", cwd=workdir)
    assert proc.returncode == 2
    assert "task 'tiny' is registered twice" in proc.stderr
    assert "harness-tinytask 0.3.0" in proc.stderr and "harness-tinyclone 0.3.0" in proc.stderr
    assert harness("list", "-p", "no:tinyclone", "--task", "tiny", cwd=workdir).returncode == 0


def test_dash_p_loads_a_module_and_no_disables_a_first_party_plugin(workdir):
    loaded = harness("plugins", "--json", "-p", "harness_test_scripted", cwd=workdir)
    scripted = next(p for p in json.loads(loaded.stdout) if p["plugin"] == "harness_test_scripted")
    assert scripted["registered"] == {"backends": ["scripted"]} and scripted["distribution"] is None
    disabled = harness("list", "-p", "no:humaneval", "--task", "humaneval", cwd=workdir)
    assert disabled.returncode == 2 and "unknown task 'humaneval'" in disabled.stderr
