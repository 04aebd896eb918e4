"""The job's end of the sandbox's RPC bridge (protocol: ``harness_sandbox.rpc`` on the host).

Standard library only; runs inside the sandbox. ``call(method, params)`` blocks until the
harness replies; ``await acall(method, params)`` waits without blocking the event loop, so that
a workflow's ``asyncio.gather`` has its model calls in flight together. One thread reads the
replies and hands each to whoever waits for its id.

Error replies raise: ``budget`` -> `BudgetExhausted`, ``stop`` (or a closed bridge) ->
`HarnessStop`, both BaseExceptions so that a workflow's ``except Exception`` cannot swallow them;
any other error type -> RuntimeError with the harness's message.
"""

import asyncio
import itertools
import json
import os
import threading

#: "REQUEST_FD,REPLY_FD", set by the sandbox for a job that has the bridge.
RPC_ENV = "HARNESS_RPC_FDS"


class HarnessStop(BaseException):
    """The harness ended the job: its model failed for good, or the bridge is gone."""


class BudgetExhausted(HarnessStop):
    """The problem's budget of model calls (or the run's of cost) is spent."""


def _outcome(reply, method):
    error = reply.get("error")
    if error is None:
        return reply.get("result")
    kind, message = error.get("type"), error.get("message", "")
    if kind == "budget":
        raise BudgetExhausted(message)
    if kind == "stop":
        raise HarnessStop(message)
    raise RuntimeError(f"the harness refused {method}: {message}")


class Bridge:
    """Requests to the harness over the two descriptors of `RPC_ENV`."""

    def __init__(self, request_fd, reply_fd):
        self._out = request_fd
        self._in = os.fdopen(reply_fd, "rb", closefd=False)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting = {}  # id -> function taking the reply
        self._closed = False
        threading.Thread(target=self._read, name="harness-rpc-replies", daemon=True).start()

    def _send(self, method, params, deliver):
        with self._lock:
            if self._closed:
                raise HarnessStop("the harness closed the bridge")
            number = next(self._ids)
            self._waiting[number] = deliver
            line = json.dumps({"id": number, "method": method, "params": params}).encode() + b"\n"
            view = memoryview(line)
            while view:
                view = view[os.write(self._out, view) :]

    def _read(self):
        for raw in self._in:
            try:
                reply = json.loads(raw)
            except ValueError:
                continue
            with self._lock:
                deliver = self._waiting.pop(reply.get("id"), None)
            if deliver is not None:
                deliver(reply)
        with self._lock:
            self._closed = True
            left, self._waiting = list(self._waiting.values()), {}
        for deliver in left:
            deliver({"error": {"type": "stop", "message": "the harness closed the bridge"}})

    def call(self, method, params):
        """The result of one request, waiting in this thread."""
        done = threading.Event()
        box = []

        def deliver(reply):
            box.append(reply)
            done.set()

        self._send(method, params, deliver)
        done.wait()
        return _outcome(box[0], method)

    async def acall(self, method, params):
        """The result of one request, awaited in the running event loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(reply):
            if not future.done():
                future.set_result(reply)

        self._send(method, params, lambda reply: loop.call_soon_threadsafe(settle, reply))
        return _outcome(await future, method)


_BRIDGE = None
_BRIDGE_LOCK = threading.Lock()


def bridge():
    """The job's one Bridge, opened on first use; HarnessStop when the job has no bridge."""
    global _BRIDGE
    with _BRIDGE_LOCK:
        if _BRIDGE is None:
            spec = os.environ.get(RPC_ENV, "")
            try:
                request_fd, reply_fd = (int(part) for part in spec.split(","))
            except ValueError:
                raise HarnessStop(f"no RPC bridge ({RPC_ENV}={spec!r}): workflows run only inside the harness's sandbox") from None
            _BRIDGE = Bridge(request_fd, reply_fd)
        return _BRIDGE
