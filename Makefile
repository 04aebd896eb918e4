# The two set-up commands of the README: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test setup sandbox clean

run: setup sandbox
	$(BIN)/harness run --system direct --task humaneval --limit 5

test: setup sandbox
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

setup: $(STAMP)

# llama-cpp-python is compiled from source once; pip's wheel cache makes later installs instant.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -e '.[embedded,test]'
	touch $@

# A Docker engine and the offline sandbox image (debootstrap + docker import; skipped when present).
sandbox: setup
	bash sandbox/ensure-docker.sh
	$(BIN)/harness sandbox build --offline

clean:
	rm -rf $(VENV) build *.egg-info
