"""Benchmark: priority ceilings vs critical(), dispatch cost, optimistic vs pthread_sigmask masking.

    python benchmarks/bench_ceiling.py [--quick] [--json]
    irqio bench ceiling

Rows:
* the urgent line's pend -> handler latency (p50/p99/max) while a task loops through 2 ms
  sections holding nothing (idle), a resource with ceiling 1, or critical() (the seed's story);
* dispatch cost: `pend()` from task context of a line that runs at once (pend + dispatch +
  handler + profiler records), and `pend()` of a masked line (interrupt-side cost only);
* masking cost per `with` (enter + exit): optimistic (a store), sigmask (two pthread_sigmask
  calls), critical(); and a section that receives one real signal in each mode.

Speed targets live here, never in timed tests.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.table import Table

from benchkit import harness, report
from irqio import Controller, Resource
from irqio.demo.ceiling import MODES, run_story, story_verdict


def _per_op_ns(fn: Callable[[], None], n: int, repeat: int = 5) -> float:
    """Best of `repeat` runs of `n` calls, ns per call (the loop overhead included)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def _loop_overhead_ns(n: int) -> float:
    def nothing() -> None:
        pass

    return _per_op_ns(nothing, n)


def measure_costs(n: int) -> dict[str, float]:
    costs: dict[str, float] = {}
    empty = _loop_overhead_ns(n)
    with Controller() as ctl:
        sig = signal.SIGRTMIN + 3
        opt = Resource("optimistic")
        msk = Resource("sigmask", masking="sigmask")
        ctl.line("drv", 1, lambda: None, uses=[opt, msk], signal=sig)
        ctl.task_uses(opt, msk)
        runs = ctl.line("runs", 2, lambda: None)
        masked = ctl.line("masked", 1, lambda: None)
        costs["pend + dispatch + handler (task context)"] = _per_op_ns(runs.pend, n) - empty
        crit = ctl.critical()
        with crit:
            costs["pend of a masked line (interrupt side only)"] = (
                _per_op_ns(masked.pend, n) - empty
            )

        def enter_exit(res: Resource) -> Callable[[], None]:
            def body() -> None:
                with res:
                    pass

            return body

        costs["with resource: optimistic (enter+exit)"] = _per_op_ns(enter_exit(opt), n) - empty
        costs["with resource: sigmask (enter+exit)"] = _per_op_ns(enter_exit(msk), n) - empty
        costs["with critical() (enter+exit)"] = _per_op_ns(enter_exit(crit), n) - empty

        pid = os.getpid()

        def with_signal(res: Resource) -> Callable[[], None]:
            def body() -> None:
                with res:
                    os.kill(pid, sig)

            return body

        m = max(200, n // 20)
        costs["section + one real signal: optimistic"] = _per_op_ns(with_signal(opt), m)
        costs["section + one real signal: sigmask"] = _per_op_ns(with_signal(msk), m)
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_ceiling", description=__doc__.splitlines()[0])
    harness.add_mode_arguments(parser, "short runs, for a smoke test")
    args = parser.parse_args(argv)
    quick = harness.mode_of(args) != "full"
    seconds = 0.5 if quick else 2.0
    n = 2_000 if quick else 50_000

    stories = {mode: run_story(mode, seconds=seconds, max_pends=10**6) for mode in MODES}
    ok, verdict = story_verdict(stories)
    costs = measure_costs(n)
    result: dict[str, Any] = {
        "python": harness.machine()["python"],
        "story": {
            mode: {
                "pends": r.stats.line("urgent").pends,
                "runs": r.latency.count,
                "p50_us": r.latency.p50_ns / 1e3,
                "p99_us": r.latency.p99_ns / 1e3,
                "max_us": r.latency.max_ns / 1e3,
                "sections": r.sections,
            }
            for mode, r in stories.items()
        },
        "story_holds": ok,
        "story_verdict": verdict,
        "costs_ns": costs,
    }
    if args.json:
        report.dump_json(result)
        return 0 if ok else 1

    console = report.stdout_console()
    py = result["python"]
    t = Table(title=f"urgent line (priority 3) latency, 2 ms task sections, Python {py}")
    t.add_column("task holds")
    for col in ("pends", "runs", "p50 µs", "p99 µs", "max µs"):
        t.add_column(col, justify="right")
    labels = {"idle": "nothing (idle)", "resource": "resource, ceiling 1", "critical": "critical()"}
    for mode, row in result["story"].items():
        t.add_row(
            labels[mode],
            str(row["pends"]),
            str(row["runs"]),
            f"{row['p50_us']:.0f}",
            f"{row['p99_us']:.0f}",
            f"{row['max_us']:.0f}",
        )
    console.print(t)
    c = Table(title="costs (ns per operation, loop overhead subtracted where marked)")
    c.add_column("operation")
    c.add_column("ns", justify="right")
    for name, ns in costs.items():
        c.add_row(name, f"{ns:.0f}")
    console.print(c)
    console.print(("[green]" if ok else "[red]") + verdict)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
