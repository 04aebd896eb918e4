"""The `docker` tier: a pool of hardened, warm containers, each running one supervisor.

The supervisor's source is the first line the container reads on its stdin (BOOTSTRAP), so any
image with a python3 works and never has to match the harness's version of the supervisor; the
supervisor is then spoken to over the same attached stdin/stdout. Containers are created with
``stdin_once`` and ``auto_remove``: when the harness goes away for any reason, even SIGKILL, its
end of the attach socket closes, the supervisor reads EOF and exits, and the engine removes the
container.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import CheckRow, HarnessError, Limits, SandboxError
from harness_sandbox import supervisor
from harness_sandbox.channel import READ_LIMIT, TailBuffer, Worker
from harness_sandbox.engine import (
    DEFAULT_IMAGE,
    LABEL,
    PING_TIMEOUT,
    EngineSpec,
    answers,
    connect,
    engine_specs,
    find_image,
    image_tag,
)
from harness_sandbox.pooled import START_TIMEOUT, PooledSandbox

__all__ = ["DEFAULT_IMAGE", "DockerSandbox"]

SUPERVISOR_SOURCE = Path(supervisor.__file__).read_text()
#: The container's command: read the supervisor's source (a JSON string on one line) and run it.
BOOTSTRAP = "import sys, json; exec(compile(json.loads(sys.stdin.buffer.readline()), 'harness-supervisor', 'exec'))"
WORK_ROOT = "/tmp"
TMPFS_MB = 256
SHM_MB = 16
CPUS = 1.0
#: Extra processes the container allows beyond a job's own limit (the supervisor, slack).
PIDS_SLACK = 16
#: Containers run as a random uid from this range, one per container, so that RLIMIT_NPROC
#: (which counts processes per uid, across containers) is the container's alone.
UID_RANGE = (200_000, 1_000_000)
#: Memory the container needs beyond the job's own: the supervisor and the tmpfs pages.
MEMORY_SLACK_MB = 128

#: "host:pid" of the harness process that started the container.
OWNER_LABEL = f"{LABEL}.owner"
#: Container ids alive in this process, removed at exit should close() never run.
_LIVE: dict[str, Any] = {}


@atexit.register
def _remove_leftovers() -> None:
    for container_id, client in list(_LIVE.items()):
        with contextlib.suppress(Exception):
            client.api.remove_container(container_id, force=True)
        _LIVE.pop(container_id, None)


def _owner_alive(labels: dict[str, str]) -> bool:
    host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and os.path.exists(f"/proc/{pid}")


def container_settings(limits: Limits, run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments for one pool container: those of the engine API's `create_container`
    (minus image and command) and those of its `create_host_config`."""
    memory = (limits.memory_mb or 1024) + TMPFS_MB + SHM_MB + MEMORY_SLACK_MB
    uid = UID_RANGE[0] + secrets.randbelow(UID_RANGE[1] - UID_RANGE[0])
    create = {
        "user": f"{uid}:{uid}",
        "labels": {LABEL: "1", f"{LABEL}.run": run_id, OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}"},
        "working_dir": WORK_ROOT,
        "hostname": "sandbox",
        "environment": {"LANG": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        "stdin_open": True,  # with detach=False the SDK also sets StdinOnce
        "detach": False,
        "tty": False,
    }
    host = {
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {WORK_ROOT: f"rw,nosuid,nodev,size={TMPFS_MB}m,mode=1777"},
        "shm_size": f"{SHM_MB}m",
        "mem_limit": f"{memory}m",
        "memswap_limit": f"{memory}m",
        "pids_limit": (limits.processes or 64) + PIDS_SLACK,
        "nano_cpus": int(CPUS * 1e9),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "auto_remove": True,
    }
    return create, host


async def _demux(stream: asyncio.StreamReader, stdout: asyncio.StreamReader, stderr: TailBuffer) -> None:
    """Split the attach stream (8-byte header: stream id, 3 zero bytes, big-endian length) into
    the supervisor's stdout, fed to `stdout`, and its stderr."""
    try:
        while True:
            header = await stream.readexactly(8)
            payload = await stream.readexactly(int.from_bytes(header[4:8], "big"))
            if header[0] == 1:
                stdout.feed_data(payload)
            else:
                stderr.add(payload)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        stdout.feed_eof()


@dataclass
class _Engine:
    """One connected engine: its client, a client that pings it quickly, the image there, and
    how many pool containers it runs."""

    spec: EngineSpec
    client: Any
    pinger: Any
    image: Any
    version: str
    containers: int


def _open_engine(spec: EngineSpec, tag: str, default_containers: int | None) -> _Engine:
    client = connect(spec)
    try:
        image = find_image(client, tag, spec.name)
        info = client.info()
        containers = spec.containers or default_containers or int(info.get("NCPU") or 1)
        return _Engine(spec, client, connect(spec, PING_TIMEOUT), image, client.version().get("Version", ""), containers)
    except BaseException:
        client.close()
        raise


class DockerSandbox(PooledSandbox):
    name = "docker"
    description = (
        "Pooled warm containers: no network, read-only root, tmpfs work dir, memory/pids/CPU "
        "limits, all capabilities dropped, no-new-privileges, unprivileged uid; one forked child per job."
    )

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.tag = image_tag(config)
        self.run_id = secrets.token_hex(6)
        self.container_limits = Limits()
        self.pids_limit = container_settings(self.container_limits, self.run_id)[1]["pids_limit"]
        self.specs = engine_specs(config)
        names = [spec.name for spec in self.specs]
        if len(set(names)) < len(names):
            raise SandboxError(f"an engine is listed twice in {names}; list each engine once (give it more containers instead)")
        # --sandbox-pool sizes the one engine's pool, or, typed with several, each engine without `containers`
        several = len(self.specs) > 1
        self._default_containers = self.pool_size if not several or config.given("sandbox_pool") else None
        self._engines: dict[str, _Engine] = {}

    @classmethod
    def preflight(cls, config: Any) -> None:
        tag = image_tag(config)
        for spec in engine_specs(config):
            client = connect(spec)
            try:
                find_image(client, tag, spec.name)
            finally:
                client.close()

    async def start(self) -> None:
        if not self._engines:
            opened = await asyncio.gather(
                *(asyncio.to_thread(_open_engine, spec, self.tag, self._default_containers) for spec in self.specs), return_exceptions=True
            )
            failures = [item for item in opened if not isinstance(item, _Engine)]
            if failures:
                for item in opened:
                    if isinstance(item, _Engine):
                        item.client.close()
                        item.pinger.close()
                raise failures[0]
            self._engines = {engine.spec.name: engine for engine in opened if isinstance(engine, _Engine)}
            self.pool_size = sum(engine.containers for engine in self._engines.values())
        await super().start()

    def slot_engines(self) -> list[str | None]:
        """Each engine's containers, interleaved so that a pool filling up uses every engine."""
        counts = {name: engine.containers for name, engine in self._engines.items()}
        slots: list[str | None] = []
        while any(counts.values()):
            for name, left in counts.items():
                if left:
                    slots.append(name)
                    counts[name] = left - 1
        return slots

    async def answering(self, engine: str) -> bool:
        return await asyncio.to_thread(answers, self._engines[engine].pinger)

    def _engine(self, name: str | None) -> _Engine:
        return self._engines[name] if name is not None else next(iter(self._engines.values()))

    def _create(self, engine: _Engine) -> tuple[str, socket.socket]:
        """Create and start one container on `engine`; return its id and our end of its attached stdio."""
        api = engine.client.api
        create, host = container_settings(self.container_limits, self.run_id)
        command = ["python3", "-I", "-c", BOOTSTRAP, "--work-root", WORK_ROOT]
        container_id = api.create_container(engine.image.id, command, host_config=api.create_host_config(**host), **create)["Id"]
        _LIVE[container_id] = engine.client
        try:
            attached = api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            # The SDK hands back the socket of the upgraded HTTP connection (wrapped in a SocketIO
            # for a unix-socket engine); asyncio gets a duplicate and the SDK's objects are closed.
            raw = getattr(attached, "_sock", attached)
            ours = raw.dup()
            attached.close()
            raw.close()
            api.start(container_id)
        except Exception:
            self._remove(engine, container_id)
            raise
        return container_id, ours

    def _remove(self, engine: _Engine, container_id: str) -> None:
        import docker

        # "already removed" and "removal in progress" (auto_remove got there first) are fine;
        # an engine that went away took its containers with it (the pool has dropped it)
        try:
            engine.client.api.remove_container(container_id, force=True)
        except (docker.errors.NotFound, docker.errors.APIError):
            pass
        except Exception:
            if answers(engine.pinger):
                raise
        _LIVE.pop(container_id, None)

    async def spawn(self, engine: str | None = None) -> Worker:
        where = self._engine(engine)
        try:
            container_id, sock = await asyncio.to_thread(self._create, where)
        except SandboxError:
            raise
        except Exception as exc:
            raise SandboxError(f"could not start a sandbox container from {self.tag} on the engine {where.spec.name}: {exc}") from exc
        stream, writer = await asyncio.open_connection(sock=sock, limit=READ_LIMIT)
        writer.write(json.dumps(SUPERVISOR_SOURCE).encode() + b"\n")
        stdout = asyncio.StreamReader(limit=READ_LIMIT)
        stderr = TailBuffer()
        demux = asyncio.create_task(_demux(stream, stdout, stderr))

        async def destroy() -> None:
            demux.cancel()
            await asyncio.to_thread(self._remove, where, container_id)

        return await Worker.connect(f"sandbox container {container_id[:12]}", stdout, writer, destroy, stderr, START_TIMEOUT)

    async def close(self) -> None:
        await super().close()
        engines, self._engines = self._engines, {}
        for engine in engines.values():
            await asyncio.to_thread(engine.client.close)
            await asyncio.to_thread(engine.pinger.close)

    def describe(self) -> dict[str, Any]:
        image_id = None
        if self._engines:
            image_id = self._engine(None).image.id
        else:
            with contextlib.suppress(HarnessError):
                image_id = find_image(connect(self.specs[0]), self.tag, self.specs[0].name).id
        _, host = container_settings(self.container_limits, self.run_id)
        engines = [{"url": e.spec.name, "version": e.version, "containers": e.containers, "image_id": e.image.id} for e in self._engines.values()]
        return {
            **super().describe(),
            "image": self.tag,
            "image_id": image_id,
            "engine": engines[0]["version"] if engines else "",
            "engines": engines,
            "run_id": self.run_id,
            "container": {**host, "user": f"a random uid in [{UID_RANGE[0]}, {UID_RANGE[1]})"},
        }

    @classmethod
    def cleanup(cls, config: Any) -> int:
        """Remove the labelled containers whose harness process is gone (those of runs still
        going on this host are left alone)."""
        import docker

        removed = 0
        for spec in engine_specs(config):
            client = connect(spec)
            for container in client.containers.list(all=True, filters={"label": LABEL}):
                if _owner_alive(container.labels):
                    continue
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    container.remove(force=True)
                    removed += 1
            client.close()
        return removed

    @classmethod
    def build(cls, config: Any, *, offline: bool = False) -> str:
        from harness_sandbox.image import build_image

        return build_image(config, offline=offline)

    @classmethod
    def check(cls, config: Any) -> list[CheckRow]:
        from harness_sandbox.checks import run_checks

        return run_checks(cls, config)
