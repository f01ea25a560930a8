"""`irqio demo`: every part of irqio, live on this machine, one section each.

1. primitives: threads and a real signal feed tasks (this package's `primitives`);
2. ceilings: an urgent line's latency beside 2 ms critical sections (`ceiling`);
3. the explorer finds MicroPython #5795 by itself (`explorer`);
4. the Pico's 10 µs, reproduced by the timing model, and what each fix buys (`pico`).

Each section's `run(console) -> bool` prints its tables and says whether its claim held; the
command exits 1 if any did not.
"""

from __future__ import annotations

import argparse
import importlib
import time

from irqio.console import output_console

SECTIONS = {
    "primitives": "irqio.demo.primitives",
    "ceiling": "irqio.demo.ceiling",
    "explorer": "irqio.demo.explorer",
    "pico": "irqio.demo.pico",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"sections to run (default: all): {', '.join(SECTIONS)}",
    )


def run(args: argparse.Namespace) -> int:
    # Tables are wide; without a terminal (CI, a pipe) rich would fold them at 80 columns.
    console = output_console()
    chosen = args.sections or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        console.print(
            f"[red]irqio demo: unknown section {', '.join(unknown)}; "
            f"choose from {', '.join(SECTIONS)}"
        )
        return 2
    results: dict[str, bool] = {}
    for name in chosen:
        started = time.monotonic()
        try:
            module = importlib.import_module(SECTIONS[name])
            results[name] = bool(module.run(console))
        except Exception:  # one broken section must not hide the others
            console.print(f"[red]section {name} raised:[/]")
            console.print_exception(max_frames=8)
            results[name] = False
        console.print(f"[dim]({name}: {time.monotonic() - started:.1f} s)[/]\n")
    console.rule("[bold]Summary")
    for name, ok in results.items():
        console.print(f"  {'[green]held' if ok else '[red]DID NOT HOLD'}[/]  {name}")
    return 0 if all(results.values()) else 1
