"""The `local` tier: supervisors as plain host processes. No isolation worth the name."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness_sandbox import supervisor
from harness_sandbox.channel import READ_LIMIT, TailBuffer, Worker
from harness_sandbox.pooled import START_TIMEOUT, PooledSandbox

SUPERVISOR_PATH = Path(supervisor.__file__)


async def _copy_stream(stream: asyncio.StreamReader, sink: TailBuffer) -> None:
    while chunk := await stream.read(1 << 16):
        sink.add(chunk)


class LocalSandbox(PooledSandbox):
    name = "local"
    description = (
        "UNSAFE: runs programs on this host as the harness's own user, with only rlimits, a fresh "
        "temp dir, a process-group kill and a timeout. Choose it knowingly (--sandbox local)."
    )

    async def spawn(self, engine: str | None = None) -> Worker:
        root = tempfile.mkdtemp(prefix="harness-local-")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", str(SUPERVISOR_PATH), "--work-root", root,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the terminal reaches the harness, which closes us
            limit=READ_LIMIT,
        )
        assert proc.stdin and proc.stdout and proc.stderr
        stderr = TailBuffer()
        copier = asyncio.create_task(_copy_stream(proc.stderr, stderr))

        async def destroy() -> None:
            # stdin is closed: a healthy supervisor kills its job and exits by itself
            try:
                await asyncio.wait_for(proc.wait(), 2.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            copier.cancel()
            shutil.rmtree(root, ignore_errors=True)

        return await Worker.connect(f"local supervisor (pid {proc.pid})", proc.stdout, proc.stdin, destroy, stderr, START_TIMEOUT)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "isolation": "none: host process with rlimits", "python": sys.executable}
