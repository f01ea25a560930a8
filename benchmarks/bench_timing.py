"""Speed of the timing model: simulated events per second and simulated cycles per wall second.

    python benchmarks/bench_timing.py [--quick] [--json]

Target (issue 5): one simulated RP2040 second (125 M cycles) of examples/pico-can.toml takes
seconds, not minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from irqio.timing.model import simulate
from irqio.timing.system import load_system

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pico-can.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.1 simulated second instead of 1")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    seconds = 0.1 if args.quick else 1.0
    rows = []
    for variant in (None, "bank-trap"):
        system = load_system(EXAMPLE, variant)
        for policy in system.policies:
            t0 = time.perf_counter()
            result = simulate(system, policy, seconds=seconds)
            wall = time.perf_counter() - t0
            rows.append(
                {
                    "system": system.name + (f"/{variant}" if variant else ""),
                    "policy": policy,
                    "simulated_s": seconds,
                    "wall_s": round(wall, 4),
                    "events": result.events,
                    "events_per_s": round(result.events / wall),
                    "cycles_per_wall_s": round(result.cycles / wall),
                    "wall_s_per_simulated_s": round(wall / seconds, 3),
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"timing model speed ({seconds:g} simulated s per row, RP2040 @ 125 MHz)")
    for col in (
        "system",
        "policy",
        "wall s",
        "events",
        "events/s",
        "Mcycles/wall s",
        "wall s per sim s",
    ):
        table.add_column(col, justify="left" if col in ("system", "policy") else "right")
    for r in rows:
        table.add_row(
            r["system"],
            r["policy"],
            f"{r['wall_s']:.2f}",
            str(r["events"]),
            f"{r['events_per_s']:,}",
            f"{r['cycles_per_wall_s'] / 1e6:.1f}",
            f"{r['wall_s_per_simulated_s']:.2f}",
        )
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
