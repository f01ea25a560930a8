"""`irqio sim FILE`: simulate a system under each policy; latency tables and output files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from irqio.timing.analysis import analyze
from irqio.timing.errors import SystemFileError
from irqio.timing.model import SimResult, Simulator
from irqio.timing.summary import LatencySummary, summarize
from irqio.timing.system import POLICIES, System, load_system

TRACE_LIMIT = 2_000_000  # events kept for the VCD / Perfetto files (memory guard)


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
        if args.seconds is not None and args.seconds <= 0:
            raise SystemFileError(args.file, "--seconds", "must be > 0")
        results = simulate_all(
            system, policies, args.seconds, args.seed, trace=args.out is not None, quiet=args.json
        )
        bounds = {pol: analyze(system, pol) for pol in policies}
        summaries = {pol: summarize(results[pol], bounds[pol]) for pol in policies}
        files: list[str] = []
        if args.out is not None:
            from irqio.timing.report import write_index

            files = write_outputs(system, results, args.out)
            files.append(str(write_index(system, summaries, files, args.out)))
    except SystemFileError as exc:
        print(f"irqio sim: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"irqio sim: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(as_json(system, results, summaries, files), indent=2))
    else:
        print_table(system, summaries, files)
    return 0


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
    seconds: float | None,
    seed: int | None,
    *,
    trace: bool,
    quiet: bool,
) -> dict[str, SimResult]:
    from rich.progress import Progress

    secs = system.seconds if seconds is None else seconds
    cycles = round(secs * system.profile.clock_hz)
    results: dict[str, SimResult] = {}
    with Progress(transient=True, disable=quiet, console=_stderr_console()) as progress:
        task = progress.add_task(f"simulating {secs:g} s per policy", total=len(policies))
        for pol in policies:
            sim = Simulator(system, pol, seed=seed, trace_limit=TRACE_LIMIT if trace else 0)
            results[pol] = sim.run(cycles)
            progress.advance(task)
    return results


def _stderr_console() -> Any:
    from irqio.console import error_console

    return error_console()


def write_outputs(system: System, results: dict[str, SimResult], out: Path) -> list[str]:
    from irqio.timing.plots import plot_distribution, plot_worst_timeline
    from irqio.timing.traces import write_perfetto, write_vcd

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for pol, result in results.items():
        files.append(str(write_vcd(result, out / f"{system.name}-{pol}.vcd")))
        files.append(str(write_perfetto(result, out / f"{system.name}-{pol}.trace.json")))
        files.append(str(plot_worst_timeline(result, out / f"{system.name}-{pol}-worst.png")))
    files.append(str(plot_distribution(list(results.values()), out / f"{system.name}-latency.png")))
    return files


def as_json(
    system: System,
    results: dict[str, SimResult],
    summaries: dict[str, list[LatencySummary]],
    files: list[str],
) -> dict[str, Any]:
    us = system.profile.us
    return {
        "system": system.name,
        "variant": system.variant,
        "chip": system.profile.name,
        "clock_hz": system.profile.clock_hz,
        "policies": {
            pol: {
                "simulated_cycles": results[pol].cycles,
                "events": results[pol].events,
                "lines": {s.line: s.as_dict(us) for s in summaries[pol]},
            }
            for pol in summaries
        },
        "files": files,
    }


def print_table(
    system: System, summaries: dict[str, list[LatencySummary]], files: list[str]
) -> None:
    from rich.table import Table

    from irqio.console import output_console

    us = system.profile.us
    name = system.name + (f" / {system.variant}" if system.variant else "")
    title = f"{name}: start latency (arrival -> first handler instruction)"
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
    ):
        table.add_column(col, justify="left" if col in ("line", "policy") else "right")
    policies = list(summaries)
    for i, line in enumerate(system.lines):
        for pol in policies:
            s = next(x for x in summaries[pol] if x.line == line.name)
            table.add_row(
                line.name if pol == policies[0] else "",
                pol,
                f"{us(s.min):.2f}",
                f"{us(s.p50):.2f}",
                f"{us(s.p99):.2f}",
                f"{us(s.max):.2f}",
                str(s.max),
                "∞" if s.bound is None else f"{us(s.bound):.2f}",
                str(s.count),
                end_section=pol == policies[-1] and i < len(system.lines) - 1,
            )
    console = output_console()
    console.print(table)
    for f in files:
        console.print(f"wrote {f}")
