"""Reaching the Docker engine and the sandbox image, with errors that say what to run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import SandboxUnavailable, __version__

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


def image_tag(config: Any) -> str:
    return str(config.getoption("sandbox_image", DEFAULT_IMAGE))


def connect(timeout: float = 30.0) -> docker.DockerClient:
    """A client for the engine of DOCKER_HOST (default: the local socket) that has answered a ping."""
    try:
        import docker
    except ImportError:
        raise SandboxUnavailable(f"the docker sandbox needs the Docker SDK for Python: pip install 'docker>=7'; {LOCAL_HINT}.") from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, OSError: all mean "no engine"
        raise SandboxUnavailable(
            f"no Docker engine answers ({exc}). Start one with `sandbox/ensure-docker.sh` (installs "
            f"docker.io if needed and starts dockerd), or `sudo dockerd > /var/log/dockerd.log 2>&1 &`; "
            f"{LOCAL_HINT}."
        ) from None
    return client


def find_image(client: docker.DockerClient, tag: str) -> Any:
    import docker

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(
            f"the sandbox image {tag} is missing. Build it with `harness sandbox build --offline` "
            f"(debootstrap, needs no registry) or `harness sandbox build` (Dockerfile, needs a "
            f"registry); {LOCAL_HINT}."
        ) from None
