"""`irqio sim FILE`: simulate a system under each policy; latency tables and output files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from irqio.timing import outdir
from irqio.timing.analysis import Bound, analyze
from irqio.timing.analyze_command import report_unbounded
from irqio.timing.budget import check_run
from irqio.timing.errors import (
    EXIT_BAD_INPUT,
    EXIT_MISSING_EXTRA,
    EXIT_NO_BOUND,
    EXIT_OUTPUT,
    MissingExtra,
    OutputError,
    SystemFileError,
    printable,
)
from irqio.timing.model import SimResult, Simulator
from irqio.timing.runinfo import RunInfo, run_info
from irqio.timing.summary import LatencySummary, summarize
from irqio.timing.system import POLICIES, System, load_system

TRACE_LIMIT = 2_000_000  # events kept for the VCD / Perfetto files (memory guard)

EPILOG = """exit codes: 0 done; 2 the file or an option is wrong; 3 some line has no bound or
starved in the simulation (a message says which); 4 --out cannot be written; 5 --out needs an
optional extra that is not installed. Problems with --out are found before simulating."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument(
        "file", help="system TOML (see docs/timing.md), or a shipped one by name: pico-can"
    )
    parser.add_argument(
        "--policy",
        action="append",
        choices=POLICIES,
        help="policy to simulate (repeatable; default: the file's list)",
    )
    parser.add_argument("--variant", help="a [variants.NAME] of the file, e.g. bank-trap")
    parser.add_argument(
        "--seconds", type=float, help="simulated seconds per policy (default: the file's)"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: the file's)")
    parser.add_argument(
        "--out",
        type=Path,
        help="directory for index.html, the VCD, Perfetto trace JSON and PNG plots",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        system = load_system(args.file, args.variant)
        policies = check_policies(system, args.policy)
        seconds = system.seconds if args.seconds is None else args.seconds
        check_run(system, seconds, "system.seconds" if args.seconds is None else "--seconds")
    except SystemFileError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    created: list[Path] = []
    if args.out is not None:
        try:
            outdir.check_extras()
            created = outdir.prepare(args.out)
        except MissingExtra as exc:
            return fail(str(exc), EXIT_MISSING_EXTRA)
        except OutputError as exc:
            return fail(str(exc), EXIT_OUTPUT)
    seed = system.seed if args.seed is None else args.seed
    info = run_info(system, seed, seconds)
    try:
        results = simulate_all(
            system, policies, seconds, seed, trace=args.out is not None, quiet=args.json
        )
    except BaseException:
        if created:
            outdir.discard(created)  # why: an interrupted run leaves no empty directories
        raise
    bounds = {pol: analyze(system, pol) for pol in policies}
    summaries = {pol: summarize(results[pol], bounds[pol]) for pol in policies}
    files: list[str] = []
    if args.out is not None:
        try:
            files = write_outputs(system, results, bounds, summaries, info, args.out)
        except OSError as exc:
            return fail(f"--out {printable(str(args.out))}: writing failed: {exc}", EXIT_OUTPUT)
    if args.json:
        print(json.dumps(as_json(system, results, summaries, files, info), indent=2))
    else:
        print_table(system, summaries, files)
    code = report_unbounded("irqio sim", bounds)
    starved = report_waits(results, bounds)
    return EXIT_NO_BOUND if starved else code


def fail(message: str, code: int) -> int:
    print(f"irqio sim: {message}", file=sys.stderr)
    return code


def check_policies(system: System, wanted: list[str] | None) -> list[str]:
    policies = list(dict.fromkeys(wanted or system.policies))
    for pol in policies:
        if pol == "basepri" and not system.profile.basepri:
            raise SystemFileError(
                system.path,
                "--policy",
                f"chip {system.profile.name} has no BASEPRI; allowed: "
                + ", ".join(p for p in POLICIES if p != "basepri"),
            )
    return policies


def simulate_all(
    system: System,
    policies: list[str],
    seconds: float,
    seed: int,
    *,
    trace: bool,
    quiet: bool,
) -> dict[str, SimResult]:
    from rich.progress import Progress

    cycles = round(seconds * system.profile.clock_hz)
    results: dict[str, SimResult] = {}
    with Progress(transient=True, disable=quiet, console=_stderr_console()) as progress:
        task = progress.add_task(f"simulating {seconds:g} s per policy", total=len(policies))
        for pol in policies:
            sim = Simulator(system, pol, seed=seed, trace_limit=TRACE_LIMIT if trace else 0)
            results[pol] = sim.run(cycles)
            progress.advance(task)
    return results


def _stderr_console() -> Any:
    from irqio.console import error_console

    return error_console()


def report_waits(results: dict[str, SimResult], bounds: dict[str, list[Bound]]) -> bool:
    """Warn on stderr about arrivals lost while a line was still pending (overruns) and about
    lines left waiting at the end longer than their bound (starved). True if any starved."""
    starved = False
    for pol, result in results.items():
        us = result.us
        for b in bounds[pol]:
            stats = result.stats[b.line]
            if stats.overruns:
                print(
                    f"irqio sim: {b.line} under {pol}: {stats.overruns} arrivals came while it "
                    "was still pending and were lost (one pending bit per line)",
                    file=sys.stderr,
                )
            if b.line in result.pending:
                waited = result.cycles - result.pending[b.line]
                if b.start is None or waited > b.start:
                    starved = True
                    print(
                        f"irqio sim: {b.line} under {pol}: starved, still waiting after "
                        f"{us(waited):.2f} µs when the run ended ({len(stats.latencies)} starts)",
                        file=sys.stderr,
                    )
    return starved


def write_outputs(
    system: System,
    results: dict[str, SimResult],
    bounds: dict[str, list[Bound]],
    summaries: dict[str, list[LatencySummary]],
    info: RunInfo,
    out: Path,
) -> list[str]:
    from irqio.timing.outdir import stem
    from irqio.timing.plots import plot_distribution, plot_worst_timeline
    from irqio.timing.report import write_index
    from irqio.timing.traces import write_perfetto, write_vcd

    name = stem(system.name)
    files = []
    for pol, result in results.items():
        files.append(str(write_vcd(result, out / f"{name}-{pol}.vcd", info)))
        files.append(str(write_perfetto(result, out / f"{name}-{pol}.trace.json", info)))
        files.append(str(plot_worst_timeline(result, bounds[pol], out / f"{name}-{pol}-worst.png")))
    latency = plot_distribution(list(results.values()), bounds, out / f"{name}-latency.png")
    files.append(str(latency))
    files.append(str(write_index(system, summaries, bounds, files, info, out)))
    return files


def as_json(
    system: System,
    results: dict[str, SimResult],
    summaries: dict[str, list[LatencySummary]],
    files: list[str],
    info: RunInfo,
) -> dict[str, Any]:
    us = system.profile.us
    return {
        "system": system.name,
        "variant": system.variant,
        "chip": system.profile.name,
        "clock_hz": system.profile.clock_hz,
        "run": info.as_dict(),
        "policies": {
            pol: {
                "simulated_cycles": results[pol].cycles,
                "events": results[pol].events,
                "lines": {
                    s.line: {
                        **s.as_dict(us),
                        "pending_at_end_cycles": (
                            results[pol].cycles - results[pol].pending[s.line]
                            if s.line in results[pol].pending
                            else None
                        ),
                    }
                    for s in summaries[pol]
                },
            }
            for pol in summaries
        },
        "files": files,
    }


def print_table(
    system: System, summaries: dict[str, list[LatencySummary]], files: list[str]
) -> None:
    from rich.table import Table
    from rich.text import Text

    from irqio.console import output_console

    us = system.profile.us
    name = system.name + (f" / {system.variant}" if system.variant else "")
    # Names come from the file: Text, so `[` in a name is not rich markup.
    title = Text(f"{name}: start latency (arrival -> first handler instruction)")
    table = Table(title=title)
    for col in (
        "line",
        "policy",
        "min µs",
        "p50 µs",
        "p99 µs",
        "max µs",
        "max cycles",
        "bound µs",
        "n",
        "lost",
    ):
        table.add_column(col, justify="left" if col in ("line", "policy") else "right")
    table.caption = "lost: arrivals while the line was still pending (overruns)"
    policies = list(summaries)
    for i, line in enumerate(system.lines):
        for pol in policies:
            s = next(x for x in summaries[pol] if x.line == line.name)
            empty = s.count == 0  # never started: no latency to show
            table.add_row(
                Text(line.name if pol == policies[0] else ""),
                pol,
                *(("-",) * 5 if empty else ()),
                *(
                    ()
                    if empty
                    else (
                        f"{us(s.min):.2f}",
                        f"{us(s.p50):.2f}",
                        f"{us(s.p99):.2f}",
                        f"{us(s.max):.2f}",
                        str(s.max),
                    )
                ),
                "no bound" if s.bound is None else f"{us(s.bound):.2f}",
                str(s.count),
                str(s.overruns),
                end_section=pol == policies[-1] and i < len(system.lines) - 1,
            )
    console = output_console()
    console.print(table)
    for f in files:
        console.print(Text(f"wrote {printable(f)}"))
