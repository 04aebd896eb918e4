"""Where `harness serve` listens, and the API key that must guard it beyond loopback.

A fleet on the loopback interface (the default, 127.0.0.1) is reachable from this host only. To
serve other hosts' runs it must listen on another address (``--host 0.0.0.0`` or the host's own
address), and then only with an API key: ``--api-key-env VAR`` names the environment variable that
holds it. The key reaches vLLM as ``VLLM_API_KEY`` (vLLM's own ``--api-key``, taken from the
environment so that it shows in no command line, log or run.json), and the models file names VAR
as ``api_key_env`` so the runs that use the fleet send it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass

from harness import Config, UsageError

LOOPBACK = "127.0.0.1"
#: The variable vLLM's server reads as its --api-key.
VLLM_KEY_ENV = "VLLM_API_KEY"


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` (a name or an IP) resolves to is a loopback address. An
    unspecified address (0.0.0.0, ::) listens on every interface: not loopback. Raises UsageError
    when the name does not resolve."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: the name does not resolve ({exc.strerror}); give an address of this host, or 127.0.0.1") from None
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


@dataclass(frozen=True)
class Exposure:
    """The address the fleet's servers bind, the one written in the models file, and the
    variable holding the key (None: no key, loopback only)."""

    host: str = LOOPBACK
    api_key_env: str | None = None

    @classmethod
    def from_config(cls, config: Config) -> Exposure:
        """From ``--host`` and ``--api-key-env``; UsageError for a bind beyond loopback without
        a key, a key variable that is unset, or a key given through ``--vllm-arg``."""
        host = config.getoption("host") or LOOPBACK
        env = config.getoption("api_key_env")
        if any(arg == "--api-key" or arg.startswith("--api-key=") for chunk in config.getoption("vllm_arg", []) for arg in chunk.split()):
            raise UsageError("--vllm-arg --api-key would write the key into the command line, logs and run.json; put it in an environment variable and give --api-key-env VAR")
        if env is None:
            if not is_loopback(host):
                raise UsageError(
                    f"--host {host} listens beyond this host's loopback: anyone who reaches it could use the fleet. "
                    f"Give an API key: export FLEET_KEY=<a long random secret> and add --api-key-env FLEET_KEY "
                    f"(runs on other hosts then set FLEET_KEY too); or serve on 127.0.0.1."
                )
            return cls(host, None)
        if not os.environ.get(env):
            raise UsageError(f"--api-key-env {env}: the environment variable {env} is not set; export {env}=<a long random secret> and run again")
        return cls(host, env)

    @property
    def key(self) -> str | None:
        return os.environ[self.api_key_env] if self.api_key_env else None

    @property
    def server_env(self) -> dict[str, str]:
        """What the vLLM servers' environment gains: the key as vLLM's own."""
        return {VLLM_KEY_ENV: self.key} if self.key else {}

    @property
    def advertised_host(self) -> str:
        """The host name other hosts reach the fleet by: the bind address, or this host's name
        when the bind is every interface (0.0.0.0, ::)."""
        try:
            unspecified = ipaddress.ip_address(self.host).is_unspecified
        except ValueError:
            unspecified = False
        return socket.getfqdn() if unspecified else self.host
