"""The Backend protocol, and the metering wrapper that systems actually talk to.

A backend class is registered through `harness_add_backends` and has a ``scheme``: the part of a
backend spec before ``:`` (``openai:gpt-4o-mini``, ``llamacpp:smollm2``). A spec with no ``:`` is
a name from the models table (``[models.NAME]`` in harness.toml) and is served by the backend
whose ``scheme`` is ``openai`` unless the table says ``backend = "…"``.

Systems never see a Backend: they get a `Model` (``ctx.llm(role)``), which meters every call
(usage, cost, latency), writes it to the sample's transcript and fires `harness_llm_call`.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import BackendError
from harness.types import (
    Completion,
    CompletionRequest,
    Message,
    TokenPrice,
    Usage,
    to_dict,
)

if TYPE_CHECKING:
    from harness.config import Config

class Backend(abc.ABC):
    """Base class of backends. A subclass sets ``scheme`` and implements `complete`.

    ``features`` names what the server supports beyond plain chat (any of ``tools``,
    ``tool_choice``, ``response_format``, ``seed``, ``stop``, ``n``); systems fall back when one
    is missing."""

    scheme: ClassVar[str] = ""
    features: frozenset[str] = frozenset()
    #: USD per server-hour for backends whose servers are billed by time (a local fleet with
    #: ``--hour-price``, a models-table endpoint with ``hour_price``); None: no such price.
    hour_price: float | None = None

    def __init__(self, spec: str, config: Config) -> None:
        self.spec = spec
        self.config = config

    @classmethod
    def from_spec(cls, spec: str, config: Config) -> Backend:
        """Build a backend from its spec; raise UsageError naming the fix when the spec is bad."""
        return cls(spec, config)

    async def start(self, run_dir: Path) -> None:
        """Launch or connect (a managed server logs under ``run_dir/logs``). Called once per run."""

    @abc.abstractmethod
    async def complete(self, request: CompletionRequest) -> Completion:
        """One chat completion. Retries transient failures itself; raises BackendError for good."""

    async def close(self) -> None:
        """Stop whatever `start` launched. Must be safe to call twice and after a failed start."""

    def capacity(self) -> int | None:
        """Requests the backend serves at once once started: the sum over its replicas of their
        ``max_connections``; None when unknown (a hosted API without a stated limit). What
        ``--max-concurrency auto`` adds up."""
        return None

    def describe(self) -> dict[str, Any]:
        """What run.json records: spec, model, resolved endpoints, server flags. Never a key."""
        return {"spec": self.spec, "scheme": self.scheme}

    def token_price(self) -> TokenPrice | None:
        """What the backend charges per token (a models table's ``input_price``/``output_price``),
        None when it puts no price on tokens (a local server, a spec without a table entry)."""
        return None

    def server_seconds(self) -> float | None:
        """Seconds of server time used so far, summed over the backend's servers (two servers up
        for an hour: 7200), for backends that run servers (local fleets) or rent them by the hour;
        None for a backend priced by tokens alone (a hosted API)."""
        return None

    def serving(self) -> dict[str, Any] | None:
        """What summary.json's ``serving`` keeps of this backend: ``server_seconds``, ``hour_price``
        (USD per server-hour, None: unknown) and ``cost`` (USD, None without a price); None when
        `server_seconds` is None."""
        seconds = self.server_seconds()
        if seconds is None:
            return None
        return serving_entry(seconds, self.hour_price)

    def report_server(self, server: dict[str, Any], state: str, detail: str = "") -> None:
        """Tell the plugins (hook `harness_server_state`) that one of this backend's servers
        changed state: ``starting``, ``loading`` (still starting; ``detail`` is its last log line),
        ``ready``, ``failed`` (``detail``: why, with the tail of its log) or ``stopped``."""
        plugins = getattr(self.config, "plugins", None)
        if plugins is not None:
            plugins.hook.harness_server_state(backend=self.spec, server=dict(server), state=state, detail=detail)


def serving_entry(server_seconds: float, hour_price: float | None) -> dict[str, Any]:
    """One backend's server time and its cost: USD = hours x ``hour_price`` (None: unpriced)."""
    cost = None if hour_price is None else round(server_seconds / 3600 * hour_price, 8)
    return {"server_seconds": round(server_seconds, 3), "hour_price": hour_price, "cost": cost}


@dataclass
class RoleMeter:
    """Accounting for one model role within one sample."""

    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    latency: float = 0.0
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "tokens_estimated": self.usage.estimated,
            "cost": round(self.cost, 8),
            "latency": round(self.latency, 4),
            "errors": self.errors,
        }


class Model:
    """A backend seen through one role of one sample: what ``ctx.llm(role)`` returns. With a
    ``price`` (the role's own, set by the system's configuration), each call costs its usage at
    that price instead of the backend's."""

    def __init__(
        self,
        backend: Backend,
        role: str,
        meter: RoleMeter,
        transcript: list[dict[str, Any]],
        on_call: Callable[[dict[str, Any]], None],
        price: TokenPrice | None = None,
    ) -> None:
        self.backend = backend
        self.role = role
        self.price = price
        self._meter = meter
        self._transcript = transcript
        self._on_call = on_call

    @property
    def features(self) -> frozenset[str]:
        return self.backend.features

    async def complete(self, messages: list[Message] | CompletionRequest, **params: Any) -> Completion:
        """Ask the model. ``messages`` may be a full CompletionRequest or a list of Messages
        with the request's other fields as keyword arguments."""
        request = messages if isinstance(messages, CompletionRequest) else CompletionRequest(list(messages), **params)
        entry: dict[str, Any] = {"role": self.role, "backend": self.backend.spec, "request": to_dict(request)}
        started = time.monotonic()
        try:
            completion = await self.backend.complete(request)
        except BackendError as exc:
            self._meter.errors += 1
            entry.update(error=str(exc), latency=round(time.monotonic() - started, 4))
            self._record(entry)
            raise
        if self.price is not None:
            completion = dataclasses.replace(completion, cost=self.price.cost(completion.usage))
        self._meter.calls += 1
        self._meter.usage = self._meter.usage + completion.usage
        self._meter.cost += completion.cost
        self._meter.latency += completion.latency
        entry.update(
            response=to_dict(completion.message),
            model=completion.model,
            finish_reason=completion.finish_reason,
            usage=to_dict(completion.usage),
            cost=completion.cost,
            latency=round(completion.latency, 4),
            endpoint=completion.endpoint,
        )
        if len(completion.choices) > 1:
            entry["choices"] = to_dict(completion.choices)
        self._record(entry)
        return completion

    def _record(self, entry: dict[str, Any]) -> None:
        self._transcript.append(entry)
        self._on_call(entry)
