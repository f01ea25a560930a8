"""Explorer speed: schedules per second, and the time of the headline run.

The headline (issue 4): exhaustive single preemption of a two-waiter `irqio.Event` scenario on
the kernel (target: under 10 s on this machine). Also: the same on the asyncio port (asyncio's
own code traced), #5795 on the naive Event (time to the counterexample), and a two-preemption
run. Speed targets live here, never in timed test asserts.

    .venv/bin/python benchmarks/bench_explorer.py            # full
    .venv/bin/python benchmarks/bench_explorer.py --quick    # smoke test
    .venv/bin/python benchmarks/bench_explorer.py --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "check"


def _cases(quick: bool) -> list[tuple[str, object, dict[str, object]]]:
    sys.path.insert(0, str(EXAMPLES))
    import irqio_primitives as p
    import naive_event_5795 as n

    cases: list[tuple[str, object, dict[str, object]]] = [
        ("Event, 2 waiters, kernel, exhaustive x1", p.event_two_waiters.on("kernel"), {}),
        (
            "#5795 naive Event, kernel (to counterexample)",
            n.naive_event_set_during_task_queue_update,
            {},
        ),
    ]
    if not quick:
        cases += [
            ("Event, 2 waiters, asyncio, exhaustive x1", p.event_two_waiters.on("asyncio"), {}),
            ("Flag, 2 handlers, kernel, exhaustive x2", p.flag_two_handlers.on("kernel"), {}),
            (
                "Queue, 2 handlers, kernel, random x2 (2000)",
                p.queue_two_handlers.on("kernel"),
                {"mode": "random", "seed": 1, "runs": 2000},
            ),
        ]
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    parser.add_argument("--quick", action="store_true", help="only the headline cases")
    args = parser.parse_args(argv)

    from irqio.check import explore

    rows = []
    for label, sc, options in _cases(args.quick):
        result = explore(sc, **options)  # type: ignore[arg-type]
        rows.append(
            {
                "case": label,
                "ok": result.ok,
                "schedules": result.schedules_run,
                "points": result.points,
                "seconds": round(result.elapsed, 3),
                "schedules_per_s": round(result.schedules_per_second),
                "backend": result.backend,
            }
        )
    headline = rows[0]
    summary = {
        "python": sys.version.split()[0],
        "headline_seconds": headline["seconds"],
        "headline_target_seconds": 10.0,
        "headline_within_target": float(headline["seconds"]) < 10.0,  # type: ignore[arg-type]
        "rows": rows,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    table = Table(title=f"irqio check: explorer speed (Python {summary['python']})")
    for col in ("case", "verdict", "schedules", "points", "seconds", "schedules/s", "tracer"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for r in rows:
        verdict = "SAFE" if r["ok"] else "BROKEN"
        table.add_row(
            str(r["case"]),
            verdict,
            str(r["schedules"]),
            str(r["points"]),
            f"{r['seconds']:.2f}",
            str(r["schedules_per_s"]),
            str(r["backend"]),
        )
    console = Console()
    console.print(table)
    mark = "within" if summary["headline_within_target"] else "OVER"
    console.print(
        f"headline: two-waiter Event, exhaustive single preemption on the kernel: "
        f"{headline['seconds']:.2f} s ({mark} the 10 s target)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
