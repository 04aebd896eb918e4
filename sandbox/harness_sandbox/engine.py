"""Reaching the Docker engines and the sandbox image, with errors that say what to run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness import ConfigError, SandboxUnavailable, __version__

if TYPE_CHECKING:
    import docker

#: Every container the harness starts carries this label (value "1"), plus LABEL + ".run".
LABEL = "mas-harness.sandbox"
#: The image's revision: bumped whenever what the image holds changes (image.PACKAGES, the
#: Dockerfile), so that a changed image gets a tag of its own, which `harness sandbox build`
#: builds without --force and without replacing the image that running tests use.
#: r2: python3-numpy and python3-sympy.
IMAGE_REVISION = 2
DEFAULT_IMAGE = f"mas-harness-sandbox:{__version__}-r{IMAGE_REVISION}"
LOCAL_HINT = "or choose `--sandbox local` knowingly (it runs programs on this host, unisolated)"
#: Keys of one table in harness.toml's ``[sandbox] engines = [...]`` (a plain string is its url).
ENGINE_KEYS = {"url", "containers", "tls_ca", "tls_cert", "tls_key"}
#: Seconds an engine may take to answer a ping before a run counts it as gone.
PING_TIMEOUT = 10.0


@dataclass(frozen=True)
class EngineSpec:
    """One Docker engine: `url` in the Docker SDK's forms (``unix:///path``, ``tcp://host:2376``,
    ``ssh://user@host``; None: DOCKER_HOST, else the local socket); `containers`: how many pool
    containers it runs (None: its CPU count, or ``--sandbox-pool`` with one engine); `tls_*`:
    paths of the CA certificate and the client certificate and key (TLS with verification)."""

    url: str | None = None
    containers: int | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def name(self) -> str:
        return self.url or "DOCKER_HOST"


def parse_engine(item: Any, where: str) -> EngineSpec:
    """An EngineSpec from a harness.toml entry (a URL string or a table of ENGINE_KEYS)."""
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        raise ConfigError(f'{where}: an engine is a URL string or a table with url = "…", not {item!r}')
    unknown = set(item) - ENGINE_KEYS
    if unknown:
        raise ConfigError(f"{where}: engine {item['url']} has unknown key(s) {sorted(unknown)}; allowed: {sorted(ENGINE_KEYS)}")
    containers = item.get("containers")
    if containers is not None and (not isinstance(containers, int) or isinstance(containers, bool) or containers < 1):
        raise ConfigError(f"{where}: engine {item['url']}: containers must be a whole number >= 1, not {containers!r}")
    tls = [item.get(key) for key in ("tls_ca", "tls_cert", "tls_key")]
    if any(tls) and not all(isinstance(path, str) for path in tls):
        raise ConfigError(f"{where}: engine {item['url']}: TLS needs all of tls_ca, tls_cert and tls_key (paths)")
    return EngineSpec(item["url"], containers, *tls)


def engine_specs(config: Any) -> list[EngineSpec]:
    """The engines a docker sandbox uses: ``--sandbox-engine URL`` (repeatable), else harness.toml's
    ``[sandbox] engines``, else one: DOCKER_HOST or the local socket."""
    typed = config.getoption("sandbox_engine") or []
    if typed:
        return [EngineSpec(url) for url in typed]
    listed = getattr(config.settings, "sandbox", {}).get("engines") or []
    where = f"{config.settings.path or 'harness.toml'} [sandbox] engines"
    specs = [parse_engine(item, where) for item in listed]
    return specs or [EngineSpec()]


def connect(spec: EngineSpec | None = None, timeout: float = 30.0) -> docker.DockerClient:
    """A client for the engine `spec` (default: DOCKER_HOST, else the local socket) that has answered a ping."""
    try:
        import docker
    except ImportError:
        raise SandboxUnavailable(f"the docker sandbox needs the Docker SDK for Python: pip install 'docker>=7'; {LOCAL_HINT}.") from None
    spec = spec or EngineSpec()
    try:
        if spec.url is None:
            client = docker.from_env(timeout=timeout)
        else:
            tls: Any = False
            if spec.tls_cert:
                tls = docker.tls.TLSConfig(client_cert=(spec.tls_cert, spec.tls_key), ca_cert=spec.tls_ca, verify=True)
            client = docker.DockerClient(base_url=spec.url, tls=tls, timeout=int(timeout))
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, OSError: all mean "no engine"
        raise SandboxUnavailable(
            f"no Docker engine answers at {spec.name} ({exc}). Start one with `sandbox/ensure-docker.sh` (installs "
            f"docker.io if needed and starts dockerd), or `sudo dockerd > /var/log/dockerd.log 2>&1 &`; "
            f"{LOCAL_HINT}."
        ) from None
    return client


def answers(client: docker.DockerClient) -> bool:
    """Whether the engine behind `client` still answers a ping."""
    try:
        return bool(client.ping())
    except Exception:  # any failure to answer is "gone"
        return False


def find_image(client: docker.DockerClient, tag: str, engine: str = "DOCKER_HOST") -> Any:
    import docker

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(
            f"the sandbox image {tag} is missing on the engine {engine}. Build it with `harness sandbox build --offline` "
            f"(debootstrap, needs no registry) or `harness sandbox build` (Dockerfile, needs a "
            f"registry); add `--engine URL` to build it on (or ship it to) another engine; {LOCAL_HINT}."
        ) from None


def image_tag(config: Any) -> str:
    return str(config.getoption("sandbox_image", DEFAULT_IMAGE))
