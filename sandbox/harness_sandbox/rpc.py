"""The RPC bridge: a sandboxed job makes requests back to the harness while it runs.

Used by systems whose generated programs call models (MAS-GPT's ``call_llm``, AFlow's
operators): ``await sandbox.run(files, argv, rpc=handler)``, where ``handler(method, params)``
is an async function returning a JSON value or raising `harness.RpcError`. Nothing in the
sandbox can reach the network; the only way out is this bridge, over the supervisor's stdio,
and every request is served (and may be refused or metered) by the harness.

**The job's side.** The environment variable ``HARNESS_RPC_FDS`` holds two descriptor numbers,
``"REQUEST,REPLY"`` (``"3,4"`` for ``python3 SCRIPT.py`` jobs). The job writes one JSON object
per line on REQUEST::

    {"id": 7, "method": "call_llm", "params": {"prompt": "...", "temperature": 0.5}}

and reads one JSON object per line on REPLY, in any order, matched by ``id``::

    {"id": 7, "result": "..."}
    {"id": 7, "error": {"type": "budget", "message": "..."}}

Requests may be in flight concurrently (each is served in its own task on the host). A line
that is not a JSON object is answered with ``{"id": null, "error": {"type": "bad_request"}}``,
one longer than 16 MiB with ``too_large``. Error types the bridge itself uses: ``bad_request``,
``too_large``, ``unknown`` (no such method, from handlers by convention) and ``stop`` (the
host's handler failed; the job is being ended). Handlers add their own (``budget`` …).

**Supervisor <-> host** (the JSON-lines channel of `harness_sandbox.supervisor`): a job message
with ``"rpc": true``; then, while the job runs, ``{"type": "rpc", "id": JOB, "request": {...}}``
up for each request, ``{"type": "rpc_reply", "id": JOB, "reply": {...}}`` down for each reply,
and ``{"type": "cancel", "id": JOB, "reason"}`` down to kill the job at once (its result then
carries ``"cancelled": reason``). Replies or cancels that arrive after the job ended are
dropped by the supervisor. The job's timeout covers the time its requests take.

**The host's side** is `RpcServer`, created by `channel.Worker.run` for a job with a handler.
A handler raising `harness.RpcError` sends its kind and message (and, with ``end_job``, kills
the job); any other exception sends ``stop``, kills the job, and is re-raised by
``Sandbox.run`` once the job has ended. A job with the bridge is never re-run on another
worker when its worker dies (its requests may have had effects): that is a SandboxError.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from harness import RpcError, RpcHandler

Send = Callable[[dict], Awaitable[None]]


class RpcServer:
    """Serves the requests of one running job with `handler`, replying through `send` (which
    writes one message to the job's supervisor)."""

    def __init__(self, job_id: int, handler: RpcHandler, send: Send) -> None:
        self.job_id = job_id
        self.handler = handler
        self.send = send
        self.tasks: set[asyncio.Task] = set()
        self.failure: BaseException | None = None
        self.cancelled: str | None = None
        self.served = 0

    def accept(self, request: Any) -> None:
        """Serve one request (a message's ``request``) in a task of its own."""
        task = asyncio.create_task(self._serve(request))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _serve(self, request: Any) -> None:
        request_id = request.get("id") if isinstance(request, dict) else None
        method = request.get("method") if isinstance(request, dict) else None
        end_job: str | None = None
        if not isinstance(method, str):
            reply: dict[str, Any] = {"id": request_id, "error": {"type": "bad_request", "message": "a request needs a string \"method\""}}
        else:
            try:
                result = await self.handler(method, request.get("params"))
                reply = {"id": request_id, "result": result}
                json.dumps(reply)  # a handler bug, not the job's: found here rather than in encode
            except RpcError as exc:
                reply = {"id": request_id, "error": {"type": exc.kind, "message": exc.message}}
                end_job = exc.message if exc.end_job else None
            except Exception as exc:  # the handler failed: the job cannot go on; Sandbox.run re-raises
                self.failure = self.failure or exc
                reply = {"id": request_id, "error": {"type": "stop", "message": f"the harness failed to serve {method}: {exc}"}}
                end_job = f"the harness failed to serve {method}"
        self.served += 1
        with contextlib.suppress(ConnectionError, RuntimeError):  # the worker is gone: its job too
            await self.send({"type": "rpc_reply", "id": self.job_id, "reply": reply})
            if end_job is not None:
                self.cancelled = self.cancelled or end_job
                await self.send({"type": "cancel", "id": self.job_id, "reason": end_job})

    async def close(self) -> None:
        """Stop serving: the job has ended, nobody reads replies any more."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
