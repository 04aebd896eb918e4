"""The ``harness`` command line: the entry point and the parts every command shares.

Plugins are loaded before the parser is built (``-p`` and ``--config`` are read first). Every
sub-command, built-in or not, is added by a plugin's `harness_add_commands`; the built-in ones
live in this wing, one module per command group (see `harness.plugins.BUILTIN_PLUGINS`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import __version__
from harness.config import Config, OptionParser, find_config_file, load_models
from harness.errors import ExitCode, HarnessError, UsageError
from harness.plugins import Plugins, load_plugins


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so errors look alike everywhere."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _preparse(argv: Sequence[str]) -> argparse.Namespace:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-p", dest="plugins", action="append", default=[])
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    return known


def common_options(options: OptionParser):  # noqa: ANN201 - the add_common callable of the hook
    """The ``add_common(parser, plugin_options=False)`` that `harness_add_commands` receives: it
    adds ``-p``, ``--config`` and ``--results-dir``, and with ``plugin_options=True`` the options
    plugins added through `harness_addoption` (for commands that run samples)."""

    def add_common(parser: argparse.ArgumentParser, plugin_options: bool = False) -> None:
        parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="NAME", help="load plugin module NAME; -p no:NAME disables plugin NAME")
        parser.add_argument("--config", metavar="FILE", help="harness.toml to read (default: ./harness.toml)")
        parser.add_argument("--results-dir", metavar="DIR", help="where run records live (default: results/, or $HARNESS_RESULTS_DIR)")
        if plugin_options:
            options.apply(parser)

    return add_common


def build_parser(options: OptionParser, plugins: Plugins) -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Benchmark harness for LLM agent systems.")
    parser.add_argument("--version", action="version", version=f"mas-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    plugins.hook.harness_add_commands(subparsers=sub, add_common=common_options(options))
    return parser


def make_config(args: argparse.Namespace, plugins: Plugins) -> Config:
    path = find_config_file(args.config)
    models = load_models(path) if path else {}
    return Config(options=args, plugins=plugins, models=models, config_path=path)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        pre = _preparse(argv)
        blocked = [p[3:] for p in pre.plugins if p.startswith("no:")]
        extra = [p for p in pre.plugins if not p.startswith("no:")]
        plugins = load_plugins(extra, blocked)
        options = OptionParser()
        plugins.hook.harness_addoption(parser=options)
        args = build_parser(options, plugins).parse_args(argv)
        config = make_config(args, plugins)
        plugins.hook.harness_configure(config=config)
        return int(args.handler(config))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted: records written so far are kept", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
