"""`irqio analyze FILE`: response-time bounds per line and policy, and what sets each blocking."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from irqio.timing.analysis import Bound, analyze
from irqio.timing.errors import EXIT_BAD_INPUT, EXIT_NO_BOUND, EXIT_OK, SystemFileError
from irqio.timing.system import System, load_system

EPILOG = """exit codes: 0 every line has a bound; 2 the file or an option is wrong; 3 some line has
no bound (its level is overloaded: the line's message says why)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument(
        "file", help="system TOML (see docs/timing.md), or a shipped one by name: pico-can"
    )
    parser.add_argument("--variant", help="a [variants.NAME] of the file, e.g. bank-trap")
    parser.add_argument("--json", action="store_true", help="print the bounds as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        system = load_system(args.file, args.variant)
        bounds = {pol: analyze(system, pol) for pol in system.policies}
    except SystemFileError as exc:
        print(f"irqio analyze: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(as_json(system, bounds), indent=2))
    else:
        print_table(system, bounds)
    return report_unbounded("irqio analyze", bounds)


def report_unbounded(command: str, bounds: dict[str, list[Bound]]) -> int:
    """One line on stderr per line and policy without a bound; the exit code for them."""
    missing = [b for bs in bounds.values() for b in bs if b.start is None]
    for b in missing:
        print(f"{command}: no bound for {b.line} under {b.policy}: {b.reason}", file=sys.stderr)
    return EXIT_NO_BOUND if missing else EXIT_OK


def as_json(system: System, bounds: dict[str, list[Bound]]) -> dict[str, Any]:
    us = system.profile.us

    def one(b: Bound) -> dict[str, Any]:
        return {
            "start_cycles": b.start,
            "start_us": None if b.start is None else round(us(b.start), 4),
            "response_cycles": b.response,
            "response_us": None if b.response is None else round(us(b.response), 4),
            "blocking_cycles": b.blocking,
            "blocked_by": b.blocked_by,
            "start_job": b.start_job,
            "no_bound_reason": b.reason,
        }

    return {
        "system": system.name,
        "variant": system.variant,
        "chip": system.profile.name,
        "clock_hz": system.profile.clock_hz,
        "flash_miss_cycles": system.profile.flash_miss_cycles,
        "policies": {pol: {b.line: one(b) for b in bs} for pol, bs in bounds.items()},
    }


def print_table(system: System, bounds: dict[str, list[Bound]]) -> None:
    from rich.table import Table
    from rich.text import Text

    from irqio.console import output_console

    us = system.profile.us
    p = system.profile
    # Names come from the file: Text, so `[` in a name is not rich markup.
    table = Table(
        title=Text(
            f"{system.name}{' / ' + system.variant if system.variant else ''}: worst-case bounds "
            f"({p.name}, {p.clock_hz / 1e6:g} MHz, flash miss {p.flash_miss_cycles} cycles)"
        )
    )
    for col in (
        "line",
        "prio",
        "hw",
        "policy",
        "start µs",
        "response µs",
        "blocking cycles",
        "set by",
        "job",
    ):
        table.add_column(
            col, justify="right" if col not in ("line", "policy", "set by") else "left"
        )
    table.caption = "job: which job of the line's busy window starts last (0 = the first)"
    policies = list(bounds)
    for i, line in enumerate(system.lines):
        for pol in policies:
            b = next(x for x in bounds[pol] if x.line == line.name)
            first = pol == policies[0]
            table.add_row(
                Text(line.name if first else ""),
                str(line.priority) if first else "",
                f"0x{p.hw_priority(system.hw_level(line)):02x}" if first else "",
                pol,
                "no bound" if b.start is None else f"{us(b.start):.2f}",
                "no bound" if b.response is None else f"{us(b.response):.2f}",
                "-" if b.start is None else str(b.blocking),
                Text("-" if b.start is None else b.blocked_by),
                "" if b.start is None else str(b.start_job),
                end_section=pol == policies[-1] and i < len(system.lines) - 1,
            )
    output_console().print(table)
