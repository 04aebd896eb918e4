"""The harness's exceptions. Each message names the problem and the fix."""


class HarnessError(Exception):
    """Base class. `exit_code` is what the CLI exits with when this escapes a command."""

    exit_code = 2


class UsageError(HarnessError):
    """Bad command line, bad configuration, unknown plugin name: exit 2 before any work."""


class ConfigError(UsageError):
    """harness.toml or an option value is wrong."""


class PluginError(UsageError):
    """A plugin could not be loaded, or two plugins claim the same name."""


class BackendError(HarnessError):
    """A model endpoint failed for good (after retries): the sample is an infra_error."""

    exit_code = 1


class ServerError(BackendError):
    """A server the harness launched died or never became ready."""


class SandboxError(HarnessError):
    """The sandbox could not run a job (not the job failing): the sample is an infra_error."""

    exit_code = 1


class SandboxUnavailable(UsageError):
    """The chosen sandbox tier cannot start here (no engine, no image): stop before any model call."""
