"""The harness's exceptions and exit codes. Each message names the problem and the fix."""

import enum


class ExitCode(enum.IntEnum):
    """What ``harness`` exits with (pytest's ``ExitCode`` is the model).

    ``OK`` every sample ran and scored (whatever its verdict); ``FAILED`` infrastructure failed for
    good (a backend or the sandbox), a check found failures, or the run crashed; ``USAGE`` bad
    command line, configuration or plugin, before any work; ``INTERRUPTED`` Ctrl-C or SIGTERM
    (128 + SIGINT, the shell's convention), records written so far kept."""

    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


class HarnessError(Exception):
    """Base class. `exit_code` is what the CLI exits with when this escapes a command."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(HarnessError):
    """Bad command line, bad configuration, unknown plugin name: exit 2 before any work."""


class ConfigError(UsageError):
    """harness.toml or an option value is wrong."""


class PluginError(UsageError):
    """A plugin could not be loaded, or two plugins claim the same name."""


class BackendError(HarnessError):
    """A model endpoint failed for good (after retries): the sample is an infra_error."""

    exit_code = ExitCode.FAILED


class ServerError(BackendError):
    """A server the harness launched died or never became ready."""


class SandboxError(HarnessError):
    """The sandbox could not run a job (not the job failing): the sample is an infra_error."""

    exit_code = ExitCode.FAILED


class SandboxUnavailable(UsageError):
    """The chosen sandbox tier cannot start here (no engine, no image): stop before any model call."""
