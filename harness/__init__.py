"""mas-harness: does this multi-agent system beat the model alone, on which benchmark, at what cost?

This module is the public face a plugin author imports from: the hook marker, the base classes
of the four plugin kinds, what a system gets while working on a sample, the plain data types,
the errors and the configuration. Documented public wings for plugins: `harness.codetasks`
(code tasks and code-writing systems), `harness.serving` (launching local model servers) and
`harness.results` (reading runs); `harness.subruns` lets a plugin's command run a system on
samples as a run. `harness.engine` and `harness.cli` are internal.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("harness")

from harness.backend import Backend, Model, RoleMeter  # noqa: E402 - after hookimpl, which they may import
from harness.config import Config, ModelConfig, OptionParser, parse_pairs  # noqa: E402
from harness.context import Budget, SampleContext  # noqa: E402
from harness.errors import (  # noqa: E402
    BackendError,
    ConfigError,
    ExitCode,
    HarnessError,
    PluginError,
    SandboxError,
    SandboxUnavailable,
    ServerError,
    UsageError,
)
from harness.resources import Resources  # noqa: E402
from harness.sandbox import CheckRow, RpcError, RpcHandler, Sandbox  # noqa: E402
from harness.system import System  # noqa: E402
from harness.task import Task  # noqa: E402
from harness.types import (  # noqa: E402
    STATUSES,
    Answer,
    Completion,
    CompletionRequest,
    ExecResult,
    Limits,
    Message,
    Outcome,
    ProgramRun,
    Record,
    RunInfo,
    Sample,
    Status,
    TokenPrice,
    ToolCall,
    Usage,
    to_dict,
)

__all__ = [
    "STATUSES",
    "Answer",
    "Backend",
    "BackendError",
    "Budget",
    "CheckRow",
    "Completion",
    "CompletionRequest",
    "Config",
    "ConfigError",
    "ExecResult",
    "ExitCode",
    "HarnessError",
    "Limits",
    "Message",
    "Model",
    "ModelConfig",
    "OptionParser",
    "Outcome",
    "ProgramRun",
    "PluginError",
    "Record",
    "Resources",
    "RpcError",
    "RpcHandler",
    "RoleMeter",
    "RunInfo",
    "Sample",
    "SampleContext",
    "Sandbox",
    "SandboxError",
    "SandboxUnavailable",
    "ServerError",
    "Status",
    "System",
    "Task",
    "TokenPrice",
    "ToolCall",
    "Usage",
    "UsageError",
    "__version__",
    "hookimpl",
    "parse_pairs",
    "to_dict",
]
