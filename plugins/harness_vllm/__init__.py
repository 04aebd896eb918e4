"""Local vLLM fleets launched by the harness: ``vllm:MODEL`` with ``--vllm-servers N``, ``--gpu-ids``
…; ``harness serve`` (a fleet standalone, for many runs) and ``harness models prepare`` (a
checkpoint of the shipped SmolLM2 that vLLM can serve)."""

from typing import Any

from harness import OptionParser, hookimpl
from harness_vllm import prepare, serve
from harness_vllm.backend import VLLMBackend
from harness_vllm.options import add_fleet_options

__all__ = ["VLLMBackend"]


@hookimpl
def harness_add_backends() -> list[type]:
    return [VLLMBackend]


@hookimpl
def harness_addoption(parser: OptionParser) -> None:
    add_fleet_options(parser.addoption)


@hookimpl
def harness_add_commands(subparsers: Any, add_common: Any) -> None:
    serve.add_parser(subparsers, add_common)
    prepare.add_parser(subparsers, add_common)
