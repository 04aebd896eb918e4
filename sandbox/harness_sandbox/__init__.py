"""Sandbox tiers for mas-harness: `docker` (pooled hardened containers) and `local` (unsafe)."""

from __future__ import annotations

from typing import Any

from harness import hookimpl
from harness_sandbox.docker_tier import DEFAULT_IMAGE, DockerSandbox
from harness_sandbox.local import LocalSandbox
from harness_sandbox.pooled import DEFAULT_POOL, DEFAULT_RECYCLE


@hookimpl
def harness_add_sandboxes() -> list[type]:
    return [LocalSandbox, DockerSandbox]


@hookimpl
def harness_addoption(parser: Any) -> None:
    parser.addoption(
        "--sandbox-pool", type=int, default=DEFAULT_POOL, metavar="N",
        help=f"warm sandbox workers (containers for docker), one job each at a time (default: {DEFAULT_POOL}, the CPU count)",
    )
    parser.addoption(
        "--sandbox-engine", action="append", metavar="URL",
        help="a Docker engine for the docker sandbox (unix:///…, tcp://host:2376, ssh://user@host); repeat it to spread "
        "the pool over several, each with --sandbox-pool containers if typed, else its CPU count (default: [sandbox] "
        "engines in harness.toml, else DOCKER_HOST, else the local socket)",
    )
    parser.addoption(
        "--sandbox-recycle", type=int, default=DEFAULT_RECYCLE, metavar="N",
        help=f"jobs a worker runs before it is replaced (default: {DEFAULT_RECYCLE}); any anomaly replaces it at once",
    )
    parser.addoption(
        "--sandbox-image", default=DEFAULT_IMAGE, metavar="TAG",
        help=f"docker image the sandbox runs (default: {DEFAULT_IMAGE}, made by `harness sandbox build`)",
    )
