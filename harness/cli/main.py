"""The ``harness`` command line: the entry point and the parts every command shares.

Plugins are loaded before the parser is built (``-p`` and ``--config`` are read first). Every
sub-command, built-in or not, is added by a plugin's `harness_add_commands`; the built-in ones
live in this wing, one module per command group (see `harness.plugins.BUILTIN_PLUGINS`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from harness import __version__
from harness.config import (
    Config,
    OptionParser,
    closest,
    find_config_files,
    load_settings,
    merge_settings,
)
from harness.errors import ExitCode, HarnessError, UsageError
from harness.plugins import Plugins, load_plugins


def _sub_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub-)sub-command parser that ``args`` came through."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None) in action.choices:
            return _sub_command(action.choices[getattr(args, action.dest)], args)
    return parser


def unknown_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, extras: list[str]) -> str:
    """``harness run: unknown option --limt; did you mean --limit?`` for each argument left over."""
    command = _sub_command(parser, args)
    known = [s for action in command._actions for s in action.option_strings]
    problems = []
    after_option = False
    for extra in extras:
        if extra.startswith("-") and len(extra) > 1:
            option, has_value, _ = extra.partition("=")
            problems.append(f"unknown option {option}{closest(option, known)}")
            after_option = not has_value
        elif not after_option:  # a word right after an unknown option is taken as its value
            problems.append(f"unexpected argument {extra!r}")
        else:
            after_option = False
    return f"{command.prog}: {'; '.join(problems)} (`{command.prog} --help` lists its options)"


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so errors look alike everywhere, and
    names the sub-command and the closest option when an option is unknown."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def parse_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None) -> argparse.Namespace:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            raise UsageError(unknown_arguments(self, parsed, extras))
        return parsed


def _preparse(argv: Sequence[str]) -> argparse.Namespace:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-p", dest="plugins", action="append", default=[])
    pre.add_argument("--config", action="append")
    known, _ = pre.parse_known_args(argv)
    return known


def common_options(options: OptionParser):  # noqa: ANN201 - the add_common callable of the hook
    """The ``add_common(parser, plugin_options=False, results_dir=True)`` that
    `harness_add_commands` receives: it adds ``-p``, ``--config`` and (unless ``results_dir=False``,
    for commands that neither read nor write run records) ``--results-dir``, and with
    ``plugin_options=True`` the options plugins added through `harness_addoption` (for commands
    that run samples)."""

    def add_common(parser: argparse.ArgumentParser, plugin_options: bool = False, results_dir: bool = True) -> None:
        parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="NAME", help="load plugin module NAME; -p no:NAME disables plugin NAME")
        parser.add_argument("--config", action="append", metavar="FILE", help="harness.toml to read (default: ./harness.toml); repeatable: the files' models tables combine, replicas of one model merging")
        if results_dir:
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


def run_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """dest -> action of every option of `harness run` (what harness.toml's [run] may set)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and "run" in action.choices:
            return {a.dest: a for a in action.choices["run"]._actions}
    return {}


def make_config(args: argparse.Namespace, plugins: Plugins, options: OptionParser, parser: argparse.ArgumentParser) -> Config:
    paths = find_config_files(args.config)
    settings = merge_settings([load_settings(path) for path in paths])
    config = Config(options=args, plugins=plugins, models=settings.models, config_path=settings.path, settings=settings, option_defaults=options.defaults)
    config.check_settings(run_actions(parser))
    return config


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        pre = _preparse(argv)
        blocked = [p[3:] for p in pre.plugins if p.startswith("no:")]
        extra = [p for p in pre.plugins if not p.startswith("no:")]
        plugins = load_plugins(extra, blocked)
        options = OptionParser()
        plugins.hook.harness_addoption(parser=options)
        parser = build_parser(options, plugins)
        args = parser.parse_args(argv)
        config = make_config(args, plugins, options, parser)
        plugins.hook.harness_configure(config=config)
        return int(args.handler(config))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted: records written so far are kept", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # `harness show RUN | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)
