"""`harness sandbox …` through the real command line and the real engine."""

from __future__ import annotations

import json

from conftest import harness, require_docker


def test_exec_runs_one_program_in_the_chosen_tier(workdir):
    require_docker("`harness sandbox exec`")
    program = workdir / "hello.py"
    program.write_text("import os, sys\nprint('hi from', os.getuid() != 0)\nsys.exit(3)\n")
    for tier in ("docker", "local"):
        proc = harness("sandbox", "exec", "--sandbox", tier, "--json", str(program), cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["tier"] == tier and result["exit_code"] == 3 and not result["timed_out"]
        assert result["stdout"].startswith("hi from")
    assert json.loads(harness("sandbox", "exec", "--json", str(program), cwd=workdir).stdout)["stdout"] == "hi from True\n"  # docker: not root


def test_exec_enforces_the_timeout_and_prints_readably(workdir):
    require_docker("`harness sandbox exec`")
    program = workdir / "sleepy.py"
    program.write_text("import time\nprint('start', flush=True)\ntime.sleep(30)\n")
    proc = harness("sandbox", "exec", "--timeout", "1", str(program), cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "timed_out: True" in proc.stdout and "tier: docker" in proc.stdout and "start" in proc.stdout
    missing = harness("sandbox", "exec", str(workdir / "nope.py"), cwd=workdir)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_check_build_and_cleanup(workdir):
    require_docker("`harness sandbox check`")
    check = harness("sandbox", "check", cwd=workdir)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "FAIL" not in check.stdout and check.stdout.count(" ok ") >= 10
    build = harness("sandbox", "build", "--offline", cwd=workdir)
    assert build.returncode == 0 and "already there" in build.stdout
    cleanup = harness("sandbox", "cleanup", cwd=workdir)
    assert cleanup.returncode == 0 and "leftover sandbox container" in cleanup.stdout
