"""The shape of the code: import rules (import-linter), the public face, base classes that fail
early, one table of built-in plugins, one exit-code enum."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import harness
from harness.errors import ExitCode, PluginError
from harness.plugins import BUILTIN_PLUGINS, load_plugins

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_import_contracts_hold():
    assert LINT_IMPORTS.exists(), "lint-imports is missing: pip install import-linter (the test extra has it)"
    proc = subprocess.run([str(LINT_IMPORTS)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_a_broken_contract_is_reported(tmp_path):
    """The check can fail: a copy of the rules plus a module that breaks one is caught."""
    (tmp_path / "bad_plugin").mkdir()
    (tmp_path / "bad_plugin" / "__init__.py").write_text("from harness.engine import scheduler\n")
    (tmp_path / ".importlinter").write_text(textwrap.dedent("""\
        [importlinter]
        root_packages =
            harness
            bad_plugin

        [importlinter:contract:1]
        name = Plugins never import the engine
        type = forbidden
        source_modules = bad_plugin
        forbidden_modules = harness.engine
        """))
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(LINT_IMPORTS), "--config", str(tmp_path / ".importlinter")], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1 and "BROKEN" in proc.stdout


def test_the_public_face_exports_what_a_plugin_author_needs():
    for name in ("hookimpl", "Backend", "System", "Task", "Sandbox", "SampleContext", "Config", "Record", "RunInfo", "Message", "ToolCall", "Answer", "Outcome", "Sample", "UsageError", "ConfigError", "ExitCode", "Resources"):
        assert name in harness.__all__ and hasattr(harness, name), name


def test_exit_codes_are_one_enum():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 130]
    exit_constant = re.compile(r"^\s*EXIT_[A-Z_]+\s*[,=]", re.M)  # EXIT_OK = 0, EXIT_OK, EXIT_FAILED = 0, 1
    offenders = [str(p.relative_to(ROOT)) for base in ("harness", "plugins", "tasks", "sandbox") for p in (ROOT / base).rglob("*.py") if exit_constant.search(p.read_text())]
    assert offenders == []


def test_every_built_in_plugin_is_in_one_table_and_can_be_disabled():
    plugins = load_plugins()
    assert set(BUILTIN_PLUGINS) <= set(plugins.infos)
    without = load_plugins(blocked=["scoring"])
    assert "scoring" not in without.infos and "external" not in without.names("systems")


class _NoScore(harness.Task):
    name = "noscore"

    def samples(self):
        return []


class _DialogWithoutAct(harness.System):
    name = "mute"
    kinds = frozenset({"code", "dialog"})

    async def solve(self, sample, ctx):
        return harness.Answer("")


@pytest.mark.parametrize(("kind", "cls", "missing"), [("tasks", _NoScore, "score"), ("systems", _DialogWithoutAct, "act")])
def test_a_plugin_missing_a_method_fails_at_registration_naming_it(kind, cls, missing):
    module = type(sys)("harness_test_incomplete")
    hook = f"harness_add_{kind}"
    setattr(module, hook, harness.hookimpl(lambda: [cls]))
    sys.modules[module.__name__] = module
    try:
        with pytest.raises(PluginError, match=rf"plugin 'harness_test_incomplete'.*without implementing {missing}"):
            load_plugins(extra=[module.__name__])
    finally:
        del sys.modules[module.__name__]
