"""Plain data objects that cross the boundaries between the core and its plugins."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "error", "timeout", "infra_error"]
STATUSES: tuple[str, ...] = ("passed", "failed", "error", "timeout", "infra_error")


def to_dict(obj: Any) -> Any:
    """A JSON-ready copy of a dataclass (or a structure of them)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(to_dict(v) for v in obj)
    return obj


# --- models -------------------------------------------------------------------------------


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass
class Message:
    role: str  # system | user | assistant | tool
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False  # True when the server reported no usage and we counted ourselves

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
        )


@dataclass(frozen=True)
class TokenPrice:
    """What a model's tokens cost: USD per million input tokens and per million output tokens."""

    input: float
    output: float

    def cost(self, usage: Usage) -> float:
        """USD for ``usage``: input tokens x ``input`` + output tokens x ``output``, per million."""
        return (usage.input_tokens * self.input + usage.output_tokens * self.output) / 1e6


@dataclass
class CompletionRequest:
    messages: list[Message]
    temperature: float = 0.0
    max_tokens: int = 512
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    n: int = 1


@dataclass
class Completion:
    message: Message
    usage: Usage
    model: str
    finish_reason: str | None = None
    cost: float = 0.0  # USD, from the models table's prices
    latency: float = 0.0  # seconds, request sent to response parsed
    endpoint: str = ""  # base_url that answered
    choices: list[Message] = field(default_factory=list)  # all n choices (message is choices[0])


# --- tasks and systems ----------------------------------------------------------------------


@dataclass
class Sample:
    """One problem of a task. `input` is task-specific; `prompt` is what a plain chat model is asked."""

    task: str
    id: str
    prompt: str
    input: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    @property
    def node_id(self) -> str:
        return f"{self.task}::{self.id}"


@dataclass
class Answer:
    """What a system hands back: the raw final text and anything it wants recorded."""

    text: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """A task's verdict on one answer."""

    status: Status
    score: float = 0.0
    output: str = ""  # scorer output, e.g. the test's stderr (truncated by the store)
    details: dict[str, Any] = field(default_factory=dict)
    tamper: list[str] = field(default_factory=list)  # escape hatches the program used


# --- sandboxes ------------------------------------------------------------------------------


@dataclass
class Limits:
    """Resource limits for one sandboxed job. None leaves the tier's default."""

    memory_mb: int | None = 1024
    cpu_seconds: int | None = None
    processes: int | None = 64
    file_size_mb: int | None = 64
    output_bytes: int = 1 << 20  # per stream; longer output is cut and flagged


@dataclass
class ExecResult:
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    tier: str
    oom: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom


@dataclass
class ProgramRun:
    """What a sandbox saw of one judged test program (`Sandbox.run_program`), from outside the
    program's process: the judge (harness.codetasks.testrunner) derives the verdict from it."""

    reports: list[str]  # the packets that arrived on the report channel, in order
    exit_code: int | None  # negative: ended by that signal
    cpu_seconds: float  # user + system CPU time of the program's process (and children it reaped)
    duration: float  # wall-clock seconds
    limit: str | None  # "cpu" or "wall" when the sandbox stopped the program at that limit
    stderr: str
    tier: str
    oom: bool = False
    truncated: bool = False
    reports_dropped: int = 0  # packets past the ones kept
    waiting_seconds: float | None = None  # runnable without a CPU, when the wall limit stopped it
    engine: str | None = None  # the sandbox engine that ran it, where a tier has several
    infra_events: list[str] = field(default_factory=list)  # e.g. an engine lost mid-job and the job run again elsewhere


# --- records ---------------------------------------------------------------------------------


@dataclass
class Record:
    """One line of samples.jsonl: the result of one (sample, repeat).

    ``status`` is the verdict (see `STATUSES`); ``score`` is 1.0/0.0 for code tasks and the reward
    for dialog tasks. ``roles`` maps each model role to its meter (calls, input_tokens,
    output_tokens, cost in USD, latency in seconds, errors); the token, call and cost totals
    are their sums. ``tamper`` lists the escape hatches the program used (empty when none).
    Durations are seconds. Keys a newer harness wrote that this one does not know are kept in
    ``extra`` and written back unchanged."""

    node_id: str
    sample_id: str
    task: str
    repeat: int
    status: Status
    score: float = 0.0
    seed: int | None = None
    answer: str | None = None
    answer_details: dict[str, Any] | None = None
    output: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    tamper: list[str] = field(default_factory=list)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency: float = 0.0
    solve_seconds: float = 0.0
    score_seconds: float = 0.0
    transcript: str | None = None
    finished_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def scored(self) -> bool:
        """Whether the attempt counts toward the system's metrics (infrastructure errors do not)."""
        return self.status != "infra_error"

    def to_json(self) -> dict[str, Any]:
        """The samples.jsonl object: every field but ``extra``, then ``extra``'s keys."""
        data = {f.name: to_dict(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "extra"}
        return data | self.extra

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """Read a samples.jsonl object; raises KeyError when a required key is missing."""
        known = _RECORD_FIELDS & data.keys()
        return cls(**{k: data[k] for k in known}, extra={k: v for k, v in data.items() if k not in _RECORD_FIELDS})


_RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(Record)) - {"extra"}


@dataclass(frozen=True)
class RunInfo:
    """What lifecycle hooks see of a run: read-only facts, never the engine's live objects.

    ``spec`` is a copy of run.json as it stood when the run started; ``pending`` is how many
    (sample, repeat) attempts this invocation schedules (fewer than samples x repeats on
    --resume)."""

    run_id: str
    path: str
    system: str
    task: str
    sandbox: str
    samples: int
    repeats: int
    pending: int
    spec: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
