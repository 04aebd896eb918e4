"""The ``harness`` command line.

Plugins are loaded before the full parser is built (``-p`` and ``--config`` are read first), so
that `harness_addoption` can add options to every command that runs samples.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import __version__, exporters
from harness.config import Config, OptionParser, find_config_file, load_models
from harness.errors import HarnessError, UsageError
from harness.plugins import Plugins, load_plugins
from harness.reporter import TerminalReporter

EXIT_INTERRUPTED = 130


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


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="NAME", help="load plugin module NAME; -p no:NAME disables plugin NAME")
    parser.add_argument("--config", metavar="FILE", help="harness.toml to read (default: ./harness.toml)")
    parser.add_argument("--results-dir", metavar="DIR", help="where run records live (default: results/, or $HARNESS_RESULTS_DIR)")


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("node_ids", nargs="*", metavar="NODE_ID", help="samples to select, e.g. humaneval::HumanEval/0")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="keyword expression over ids and tags, as pytest -k")
    parser.add_argument("-m", dest="marker", metavar="EXPR", help="marker expression over tags, as pytest -m")
    parser.add_argument("--limit", type=int, metavar="N", help="run at most the first N selected samples")
    parser.add_argument("--task-opt", action="append", metavar="K=V", help="task option (repeatable)")


def build_parser(options: OptionParser, plugins: Plugins) -> argparse.ArgumentParser:
    from harness import commands, reports_cli

    parser = _Parser(prog="harness", description="Benchmark harness for LLM agent systems.")
    parser.add_argument("--version", action="version", version=f"mas-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a system on a task and record every sample")
    _common(run)
    _selection(run)
    run.add_argument("--system", default="direct", help="agent system (default: direct)")
    run.add_argument("--task", help="task (default: the task named by the node ids)")
    run.add_argument("--backend", metavar="SPEC", help="model backend: llamacpp:smollm2 (default), openai:MODEL, or a [models.NAME]")
    run.add_argument("--role", action="append", metavar="ROLE=SPEC", help="give one model role of the system its own backend")
    run.add_argument("--sandbox", metavar="NAME", help="sandbox tier: docker (default) or local (unsafe, host)")
    run.add_argument("--repeats", type=int, default=1, metavar="N", help="attempts per sample, for pass@k (default 1)")
    run.add_argument("--max-concurrency", type=int, default=4, metavar="N", help="samples in flight (default 4)")
    run.add_argument("--max-cost", type=float, metavar="USD", help="stop scheduling once the run has spent this much")
    run.add_argument("--seed", type=int, help="base seed; repeat r uses seed + r")
    run.add_argument("--lf", action="store_true", help="only the samples that did not pass in the latest run of the same system/task/backend")
    run.add_argument("--run-id", metavar="ID", help="name of the run folder (default: time-system-task-random)")
    run.add_argument("--resume", metavar="RUN_ID", help="finish an interrupted run: only its missing records are run")
    run.add_argument("--system-opt", action="append", metavar="K=V", help="system option (repeatable)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line of stdout")
    options.apply(run)
    run.set_defaults(handler=commands.cmd_run)

    lst = sub.add_parser("list", help="print the node ids a selection picks (collect only)")
    _common(lst)
    _selection(lst)
    lst.add_argument("--task", help="task (default: the task named by the node ids)")
    lst.set_defaults(handler=commands.cmd_list)

    listing = sub.add_parser("plugins", help="every plugin with what it registers")
    _common(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=commands.cmd_plugins)

    show = sub.add_parser("show", help="a run's spec and its samples")
    _common(show)
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--failed", action="store_true", help="only samples that did not pass")
    show.add_argument("--sample", metavar="ID", help="print this sample's records and full transcripts (node id or sample id)")
    show.add_argument("--repeat", type=int, metavar="N", help="with --sample: only this repeat")
    show.set_defaults(handler=commands.cmd_show)

    sandbox = sub.add_parser("sandbox", help="build, check, clean up or try the sandbox")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, parser_class=_Parser)
    for name, helptext, handler in (
        ("build", "prepare the tier (the docker image)", commands.cmd_sandbox_build),
        ("check", "engine, image, round trip and isolation self-test", commands.cmd_sandbox_check),
        ("cleanup", "remove leftover sandbox containers", commands.cmd_sandbox_cleanup),
        ("exec", "run one program in the sandbox and print its result", commands.cmd_sandbox_exec),
    ):
        p = sandbox_sub.add_parser(name, help=helptext)
        _common(p)
        p.add_argument("--sandbox", metavar="NAME", help="tier (default: docker)")
        p.set_defaults(handler=handler)
        if name == "build":
            p.add_argument("--offline", action="store_true", help="build from Debian's packages (debootstrap), no registry")
            p.add_argument("--force", action="store_true", help="rebuild even if the image exists")
        if name == "exec":
            p.add_argument("file", metavar="FILE.py")
            p.add_argument("--timeout", type=float, default=10.0, metavar="S")
            p.add_argument("--json", action="store_true")
        if name in ("check", "exec"):
            options.apply(p)
    reports_cli.add_parsers(sub, _common)
    plugins.hook.harness_add_commands(subparsers=sub, add_common=_common)
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
        plugins = load_plugins(extra, blocked, builtins={"terminal": TerminalReporter(), "exporters": exporters.BuiltinExporters()})
        options = OptionParser()
        plugins.hook.harness_addoption(parser=options)
        args = build_parser(options, plugins).parse_args(argv)
        config = make_config(args, plugins)
        plugins.hook.harness_configure(config=config)
        return args.handler(config)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: records written so far are kept", file=sys.stderr)
        return EXIT_INTERRUPTED

