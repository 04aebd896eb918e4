"""``harness check-task`` on tau2 domains with the package's real data: the reference dialog (gold
agent + scripted user, no model) must reach reward 1 on every task a scripted run can satisfy,
and the others must be listed with the reason."""

from __future__ import annotations

import pytest
from conftest import harness, last_json

PLUGINS = ["-p", "harness_tau2"]


@pytest.mark.slow
@pytest.mark.parametrize("task, total", [("tau2-airline", 50), ("tau2-retail", 114)])
def test_every_reference_dialog_reaches_reward_1(workdir, task, total):
    proc = harness("check-task", *PLUGINS, task, "--json", cwd=workdir, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = last_json(proc.stdout)
    assert result == {"total": total, "checked": total, "failures": [], "unsatisfiable": []}


def test_check_task_lists_what_a_scripted_reference_cannot_satisfy(workdir):
    proc = harness("check-task", *PLUGINS, "tau2-mock", "--json", "--results-dir", "kept", cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = last_json(proc.stdout)
    assert result["total"] == 9 and result["checked"] == 8 and result["failures"] == []
    [skipped] = result["unsatisfiable"]
    assert skipped["sample"] == "tau2-mock::update_task_with_history_and_env_assertions"
    assert "assert_task_status" in skipped["reason"] and "do not hold after the gold actions" in skipped["reason"]
    [run_dir] = (workdir / "kept").iterdir()
    assert "tau2-gold" in run_dir.name
