"""`harness sandbox build`: the sandbox image, from the Dockerfile or, offline, from debootstrap.

The offline path needs no registry: debootstrap (Debian bookworm, minbase, + `PACKAGES`) into a
temp dir, then the root fs is streamed as a tar into the engine's image import. The Debian
mirror comes from this host's apt configuration at run time (or HARNESS_SANDBOX_MIRROR).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import SandboxError, SandboxUnavailable
from harness_sandbox.engine import EngineSpec, connect, engine_specs, image_tag

SUITE = "bookworm"
DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"
MIRROR_ENV = "HARNESS_SANDBOX_MIRROR"
#: What the imported root fs lacks compared with a Dockerfile-built image.
IMPORT_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
]
#: Debian packages installed into the image: Python and the libraries that generated programs
#: (MAS-GPT's, AFlow's) commonly import. Changing it: bump engine.IMAGE_REVISION.
PACKAGES = ["python3", "python3-numpy", "python3-sympy"]
#: Paths in the root fs that nothing in the sandbox needs.
TRIM = ["var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc/*", "usr/share/man/*", "usr/share/info/*"]


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _deb822_uris(text: str) -> list[str]:
    """URIs of the deb822 stanzas (sources.list.d/*.sources) that carry SUITE itself."""
    uris = []
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith((" ", "\t", "#")):
                fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and SUITE in fields.get("suites", []):
            uris += fields.get("uris", [])
    return uris


def _one_line_uris(text: str) -> list[str]:
    """URIs of the `deb [options] URI SUITE components` lines (sources.list) for SUITE itself."""
    uris = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] != ["deb"]:
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # [arch=amd64 signed-by=…]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2 and words[1] == SUITE:
            uris.append(words[0])
    return uris


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this host's apt uses for SUITE (HARNESS_SANDBOX_MIRROR overrides it)."""
    if os.environ.get(MIRROR_ENV):
        return os.environ[MIRROR_ENV]
    uris = []
    for path in sorted(apt_dir.glob("sources.list.d/*.sources")):
        uris += _deb822_uris(path.read_text(errors="replace"))
    for path in [apt_dir / "sources.list", *sorted(apt_dir.glob("sources.list.d/*.list"))]:
        if path.is_file():
            uris += _one_line_uris(path.read_text(errors="replace"))
    if not uris:
        raise SandboxUnavailable(
            f"this host's apt configuration ({apt_dir}) names no mirror for Debian {SUITE}. "
            f"Set {MIRROR_ENV}=<URL of a Debian mirror> and run the build again."
        )
    return uris[0]


def _run_logged(argv: list[str]) -> None:
    """Run `argv`, echoing its output as progress; SandboxError on failure."""
    _say("$ " + " ".join(argv))
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            _say("  " + line.rstrip())
    if proc.returncode != 0:
        raise SandboxError(f"{argv[0]} failed with exit status {proc.returncode} (its output is above)")


def _debootstrap_image(client: Any, tag: str) -> Any:
    if os.geteuid() != 0:
        raise SandboxUnavailable("debootstrap needs root: run `sudo harness sandbox build --offline`")
    if shutil.which("debootstrap") is None:
        raise SandboxUnavailable("debootstrap is not installed: run `sandbox/ensure-docker.sh` or `sudo apt-get install -y debootstrap`")
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="harness-rootfs-") as tmp:
        root = Path(tmp) / "root"
        _say(f"debootstrap: Debian {SUITE} (minbase + {', '.join(PACKAGES)}) from {mirror}; this takes a few minutes")
        _run_logged(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), mirror])
        for pattern in TRIM:
            for path in glob.glob(str(root / pattern)):
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
        _say(f"importing the root fs into the engine as {tag}")
        repository, _, version = tag.rpartition(":")
        with subprocess.Popen(["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], stdout=subprocess.PIPE) as tar:
            reply = client.api.import_image_from_stream(tar.stdout, repository=repository, tag=version, changes=IMPORT_CHANGES)
        if tar.returncode != 0:
            raise SandboxError(f"tar of the root fs failed with exit status {tar.returncode}")
        _say(f"  engine: {reply.strip()}")
    return client.images.get(tag)


def _dockerfile_image(client: Any, tag: str) -> Any:
    if not DOCKERFILE.is_file():
        raise SandboxUnavailable(f"no Dockerfile at {DOCKERFILE}; build offline instead: `harness sandbox build --offline`")
    _say(f"docker build -t {tag} from {DOCKERFILE}")
    for chunk in client.api.build(fileobj=DOCKERFILE.open("rb"), tag=tag, rm=True, decode=True):
        if "error" in chunk:
            raise SandboxError(f"docker build failed: {chunk['error'].strip()} (no registry here? use `harness sandbox build --offline`)")
        if chunk.get("stream", "").strip():
            _say("  " + chunk["stream"].rstrip())
    return client.images.get(tag)


def _present(client: Any, tag: str) -> Any:
    import docker

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def ship_image(source: Any, target: Any, tag: str) -> Any:
    """Copy the image `tag` from the engine `source` to the engine `target` (the engine API's
    save and load, streamed: `docker save TAG | docker -H TARGET load`); the image there."""
    chunks = source.api.get_image(tag)
    for reply in target.api.load_image(chunks):
        if "error" in reply:
            raise SandboxError(f"loading {tag} into the engine failed: {reply['error']}")
    return target.images.get(tag)


def build_image(config: Any, *, offline: bool) -> str:
    """Build the sandbox image unless its tag exists (or --force); describe it in one line.

    With ``--engine URL`` the image goes to that engine: shipped from the first configured engine
    (``[sandbox] engines``, else DOCKER_HOST) when that one has it, else built there."""
    tag = image_tag(config)
    url = config.getoption("engine")
    client = connect(EngineSpec(url) if url else engine_specs(config)[0])
    where = f" on {url}" if url else ""
    force = bool(config.getoption("force", False))
    image = None if force else _present(client, tag)
    if image is not None:
        return f"docker: image {tag} ({image.id}) is already there{where}; `harness sandbox build --force` builds it again"
    if url and not force:
        source_spec = engine_specs(config)[0]
        if source_spec.url != url:
            source = connect(source_spec)
            if _present(source, tag) is not None:
                _say(f"shipping {tag} from {source_spec.name} to {url} (save, load)")
                image = ship_image(source, client, tag)
                return f"docker: shipped image {tag} ({image.id}) from {source_spec.name} to {url}"
    image = _debootstrap_image(client, tag) if offline else _dockerfile_image(client, tag)
    size = image.attrs.get("Size", 0) / 1e6
    return f"docker: built image {tag}{where} ({image.id}, {size:.0f} MB, {'debootstrap' if offline else 'Dockerfile'})"
