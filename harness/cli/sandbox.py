"""``harness sandbox build|check|cleanup|exec``: administering a sandbox tier. Registered as the
built-in plugin ``sandbox-commands``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness import hookimpl
from harness.config import Config
from harness.errors import ExitCode, UsageError
from harness.resources import DEFAULT_SANDBOX, make_sandbox
from harness.sandbox import Sandbox


@hookimpl
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    sandbox = subparsers.add_parser("sandbox", help="build, check, clean up or try the sandbox")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, parser_class=type(sandbox))
    for name, helptext, handler in (
        ("build", "prepare the tier (the docker image)", cmd_sandbox_build),
        ("check", "engine, image, round trip and isolation self-test", cmd_sandbox_check),
        ("cleanup", "remove leftover sandbox containers", cmd_sandbox_cleanup),
        ("exec", "run one program in the sandbox and print its result", cmd_sandbox_exec),
    ):
        p = sandbox_sub.add_parser(name, help=helptext)
        add_common(p, plugin_options=name in ("check", "exec"), results_dir=False)
        p.add_argument("--sandbox", metavar="NAME", help="tier (default: docker)")
        p.set_defaults(handler=handler)
        if name == "build":
            p.add_argument("--offline", action="store_true", help="build from Debian's packages (debootstrap), no registry")
            p.add_argument("--force", action="store_true", help="rebuild even if the image exists")
            p.add_argument("--engine", metavar="URL", help="the Docker engine to put the image on (unix:///…, tcp://…, ssh://…): "
                           "shipped from the first configured engine when that has it, else built there")
        if name == "exec":
            p.add_argument("file", metavar="FILE.py")
            p.add_argument("--timeout", type=float, default=10.0, metavar="S")
            p.add_argument("--json", action="store_true")


def _sandbox_class(config: Config) -> type[Sandbox]:
    return config.plugins.get("sandboxes", config.getoption("sandbox") or DEFAULT_SANDBOX)


def cmd_sandbox_build(config: Config) -> int:
    print(_sandbox_class(config).build(config, offline=bool(config.getoption("offline"))))
    return ExitCode.OK


def cmd_sandbox_check(config: Config) -> int:
    rows = _sandbox_class(config).check(config)
    print(tabulate([[r.check, "ok" if r.ok else "FAIL", r.detail] for r in rows], headers=["check", "result", "detail"]))
    return ExitCode.OK if rows and all(r.ok for r in rows) else ExitCode.FAILED


def cmd_sandbox_cleanup(config: Config) -> int:
    removed = _sandbox_class(config).cleanup(config)
    print(f"removed {removed} leftover sandbox container(s)")
    return ExitCode.OK


def cmd_sandbox_exec(config: Config) -> int:
    path = Path(config.getoption("file"))
    try:
        source = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    sandbox = make_sandbox(config.getoption("sandbox"), config)

    async def once() -> Any:
        await sandbox.start()
        try:
            return await sandbox.run({path.name: source}, ["python3", path.name], timeout=config.getoption("timeout"))
        finally:
            await sandbox.close()

    result = asyncio.run(once())
    fields = {
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "timed_out": result.timed_out,
        "oom": result.oom,
        "truncated": result.truncated,
        "duration": round(result.duration, 4),
        "tier": result.tier,
    }
    if config.getoption("json"):
        print(json.dumps(fields))
    else:
        for key, value in fields.items():
            print(f"{key}: {value}" if key not in ("stdout", "stderr") else f"{key}:\n{value}")
    return ExitCode.OK
