"""The host's end of one running supervisor: send it a job, wait for the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from harness import RpcHandler
from harness_sandbox.rpc import RpcServer
from harness_sandbox.supervisor import PROTOCOL, decode, encode

#: Largest protocol line accepted from a supervisor (results carry up to 2 x output_bytes, escaped).
READ_LIMIT = 1 << 28


class WorkerDied(Exception):
    """The supervisor stopped answering: its process or container is gone or hung."""


class TailBuffer:
    """The last `size` bytes a supervisor wrote to its stderr, for error messages."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.data = b""

    def add(self, chunk: bytes) -> None:
        self.data = (self.data + chunk)[-self.size :]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace").strip()


class Worker:
    """One supervisor, reached through `reader` (its stdout) and `writer` (its stdin).

    `destroy` is the transport's way of ending it for good (kill the process, remove the
    container). `unfit` says why it must take no further job; the pool then replaces it."""

    def __init__(
        self,
        name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        destroy: Callable[[], Awaitable[None]],
        stderr: TailBuffer,
    ) -> None:
        self.name = name
        self.reader = reader
        self.writer = writer
        self.stderr = stderr
        self.jobs = 0
        self.unfit: str | None = None
        self._destroy = destroy
        self._closed = False

    @classmethod
    async def connect(
        cls,
        name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        destroy: Callable[[], Awaitable[None]],
        stderr: TailBuffer,
        timeout: float,
    ) -> Worker:
        """A worker whose supervisor has greeted us; destroyed again if it does not."""
        worker = cls(name, reader, writer, destroy, stderr)
        try:
            await worker.handshake(timeout)
        except (WorkerDied, asyncio.CancelledError):
            await worker.close()
            raise
        return worker

    async def handshake(self, timeout: float) -> dict:
        hello = await self._read(timeout)
        if hello.get("type") != "hello" or hello.get("protocol") != PROTOCOL:
            raise WorkerDied(f"{self.name} greeted with {hello!r}, expected protocol {PROTOCOL}")
        return hello

    async def preload(self, message: dict, timeout: float) -> None:
        """Have the supervisor load a runner module (a ``preload`` message); WorkerDied if it
        cannot."""
        try:
            self.writer.write(encode(message))
            await self.writer.drain()
            reply = await self._read(timeout)
        except (ConnectionError, OSError) as exc:
            raise WorkerDied(f"{self.name}: broken channel while preloading: {exc}") from None
        if reply.get("type") != "preloaded" or reply.get("id") != message["id"]:
            self.unfit = f"could not preload {message['name']}: {reply.get('message') or reply!r}"
            raise WorkerDied(f"{self.name} {self.unfit}")

    async def send(self, message: dict) -> None:
        """Write one message to the supervisor (whole, even when several tasks send at once)."""
        self.writer.write(encode(message))
        await self.writer.drain()

    async def run(self, job: dict, timeout: float, rpc: RpcHandler | None = None) -> dict:
        """Send one job (or a batch of them) and return the supervisor's answer: a result or an
        error message (for a batch, a ``batch`` message holding one of those per job).

        With `rpc` (a single job), the job's requests are served while it runs
        (`harness_sandbox.rpc`); an exception of the handler is raised here once the job has ended."""
        self.jobs += len(job["jobs"]) if job["type"] == "batch" else 1
        server = RpcServer(job["id"], rpc, self.send) if rpc is not None else None
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            await self.send(job)
            while True:
                reply = await self._read(max(deadline - asyncio.get_running_loop().time(), 0.0))
                if reply.get("type") != "rpc" or server is None or reply.get("id") != job["id"]:
                    break
                server.accept(reply.get("request"))
        except BaseException:
            self.unfit = self.unfit or "interrupted in the middle of a job"
            raise
        finally:
            if server is not None:
                await server.close()
        if reply.get("id") != job["id"]:
            self.unfit = f"answered job {reply.get('id')!r} when asked for job {job['id']!r}"
            raise WorkerDied(f"{self.name} {self.unfit}")
        answers = reply.get("results", []) if reply["type"] == "batch" and job["type"] == "batch" else [reply]
        for answer in answers:
            if answer.get("type") != "result":
                self.unfit = answer.get("message") or repr(answer)
            elif answer.get("anomalies"):
                self.unfit = "; ".join(answer["anomalies"])
        if server is not None and server.failure is not None:
            raise server.failure
        return reply

    async def _read(self, timeout: float) -> dict:
        try:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
        except TimeoutError:
            self.unfit = f"no answer within {timeout:.0f} s"
            raise WorkerDied(f"{self.name} gave {self.unfit}") from None
        except (ConnectionError, ValueError) as exc:  # ValueError: a line over READ_LIMIT
            self.unfit = f"broken channel: {exc}"
            raise WorkerDied(f"{self.name}: {self.unfit}") from None
        if not line:
            self.unfit = "ended"
            detail = self.stderr.text()
            raise WorkerDied(f"{self.name} ended unexpectedly" + (f"; it said: {detail}" if detail else ""))
        try:
            return decode(line)
        except ValueError as exc:
            self.unfit = "spoke garbage"
            raise WorkerDied(f"{self.name} sent an unreadable message: {exc}") from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.writer.close()
        await self._destroy()
