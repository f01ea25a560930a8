"""The `irqio` command: one subcommand per part, each defined in the part's own module.

A subcommand module exposes `add_arguments(parser)` and `run(args) -> int` (the exit code).
Modules are imported only when their command runs, so `irqio --help` stays fast and a
missing optional extra only affects the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("irqio.demo", "live scenarios on this machine: every part of irqio, with tables"),
    "check": ("irqio.check.command", "explore handler preemptions in the scenarios of files"),
    "sim": ("irqio.timing.sim_command", "simulate a microcontroller system under each policy"),
    "analyze": ("irqio.timing.analyze_command", "response-time bounds per line and policy"),
    "sweep": ("irqio.timing.sweep_command", "simulate and analyse every variant of a system file"),
    "bench": ("irqio.bench", "benchmarks side by side with peer libraries"),
}


def build_parser() -> argparse.ArgumentParser:
    from irqio import __version__

    parser = argparse.ArgumentParser(prog="irqio", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"irqio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage / the unknown-command error and exits
        return 2
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    sub = argparse.ArgumentParser(prog=f"irqio {name}", description=COMMANDS[name][1])
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
