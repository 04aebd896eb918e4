"""Convert a GGUF chat model into a plain Hugging Face checkpoint that vLLM can serve on CPU.

Run as a script by ``harness models prepare`` with the vLLM environment's python (which has
torch, transformers, gguf and accelerate); it imports nothing from the harness::

    python gguf_to_hf.py MODEL.gguf OUT_DIR

transformers de-quantizes the GGUF on loading; the weights are then moved into a freshly built
model of the same architecture whose config has no ``quantization_config`` (vLLM would
otherwise try to serve it as a GGUF-quantized model), and saved as bf16 safetensors together
with the tokenizer and its chat template, which the GGUF carries.
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not tokenizer.chat_template:
        raise SystemExit(f"{gguf} carries no chat template: a chat server could not format messages for it")
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict())
    plain.to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {Path(sys.argv[0]).name} MODEL.gguf OUT_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
