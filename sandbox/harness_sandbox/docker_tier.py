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
from pathlib import Path
from typing import Any

from harness import CheckRow, HarnessError, Limits, SandboxError
from harness_sandbox import supervisor
from harness_sandbox.channel import READ_LIMIT, TailBuffer, Worker
from harness_sandbox.engine import DEFAULT_IMAGE, LABEL, connect, find_image, image_tag
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
        self._client: Any = None
        self._image: Any = None
        self._engine_version = ""

    @classmethod
    def preflight(cls, config: Any) -> None:
        find_image(connect(), image_tag(config))

    async def start(self) -> None:
        if self._client is None:
            self._client = await asyncio.to_thread(connect)
            self._image = await asyncio.to_thread(find_image, self._client, self.tag)
            self._engine_version = (await asyncio.to_thread(self._client.version)).get("Version", "")
        await super().start()

    def _create(self) -> tuple[str, socket.socket]:
        """Create and start one container; return its id and our end of its attached stdio."""
        api = self._client.api
        create, host = container_settings(self.container_limits, self.run_id)
        command = ["python3", "-I", "-c", BOOTSTRAP, "--work-root", WORK_ROOT]
        container_id = api.create_container(self._image.id, command, host_config=api.create_host_config(**host), **create)["Id"]
        _LIVE[container_id] = self._client
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
            self._remove(container_id)
            raise
        return container_id, ours

    def _remove(self, container_id: str) -> None:
        import docker

        # "already removed" and "removal in progress" (auto_remove got there first) are fine
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self._client.api.remove_container(container_id, force=True)
        _LIVE.pop(container_id, None)

    async def spawn(self) -> Worker:
        try:
            container_id, sock = await asyncio.to_thread(self._create)
        except SandboxError:
            raise
        except Exception as exc:
            raise SandboxError(f"could not start a sandbox container from {self.tag}: {exc}") from exc
        stream, writer = await asyncio.open_connection(sock=sock, limit=READ_LIMIT)
        writer.write(json.dumps(SUPERVISOR_SOURCE).encode() + b"\n")
        stdout = asyncio.StreamReader(limit=READ_LIMIT)
        stderr = TailBuffer()
        demux = asyncio.create_task(_demux(stream, stdout, stderr))

        async def destroy() -> None:
            demux.cancel()
            await asyncio.to_thread(self._remove, container_id)

        return await Worker.connect(f"sandbox container {container_id[:12]}", stdout, writer, destroy, stderr, START_TIMEOUT)

    async def close(self) -> None:
        await super().close()
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.close)

    def describe(self) -> dict[str, Any]:
        if self._image is None:
            with contextlib.suppress(HarnessError):
                self._image = find_image(connect(), self.tag)
        _, host = container_settings(self.container_limits, self.run_id)
        return {
            **super().describe(),
            "image": self.tag,
            "image_id": self._image.id if self._image is not None else None,
            "engine": self._engine_version,
            "run_id": self.run_id,
            "container": {**host, "user": f"a random uid in [{UID_RANGE[0]}, {UID_RANGE[1]})"},
        }

    @classmethod
    def cleanup(cls, config: Any) -> int:
        """Remove the labelled containers whose harness process is gone (those of runs still
        going on this host are left alone)."""
        import docker

        client = connect()
        removed = 0
        for container in client.containers.list(all=True, filters={"label": LABEL}):
            if _owner_alive(container.labels):
                continue
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)
                removed += 1
        return removed

    @classmethod
    def build(cls, config: Any, *, offline: bool = False) -> str:
        from harness_sandbox.image import build_image

        return build_image(config, offline=offline)

    @classmethod
    def check(cls, config: Any) -> list[CheckRow]:
        from harness_sandbox.checks import run_checks

        return run_checks(cls, config)
