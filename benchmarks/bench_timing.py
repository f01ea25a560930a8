"""Speed of the timing model, side by side with the loop it replaced, and of `irqio sweep`.

    python benchmarks/bench_timing.py [--quick] [--json] [--profile]   (or: irqio bench timing)

Rows:
- simulator: pico-can (each policy, plus the bank-trap variant), simulated events per wall second
  and wall seconds per simulated RP2040 second, for today's model and for the model as it was
  before the fast loop (`git show BASELINE:src/irqio/timing/model.py`, loaded from a temporary
  folder for this run only), in the same run, interleaved; medians of the repeats. The two must
  give identical results (latencies, responses, events) for the same seed: checked on every row.
  The target: >= 5x the baseline's events/s on pico-can.
- --profile: where the time goes, old and new: cProfile of one simulated second of pico-can
  under `global`, the functions with the most own time.
- sweep: variants per second of `irqio sweep` over 32 pico-can variants, serial and as Ray tasks
  on this machine's cores (Ray's start-up reported apart); the rows of both runs must be equal.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.table import Table

from irqio.timing import model
from irqio.timing.system import load_system

ROOT = Path(__file__).resolve().parents[1]
# The last commit before the fast loop (timing/model: "the run loop keeps the running frame in
# locals ..."): the baseline this benchmark measures against.
BASELINE = "06655660ec9ea03daee0bb50a7254a23260c9477"


def load_baseline(folder: Path) -> ModuleType | None:
    """The baseline model.py from git, as a module of its own (it imports today's cache,
    masks, program and system, which kept the interfaces it uses)."""
    try:
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{BASELINE}:src/irqio/timing/model.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = folder / "baseline_model.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("irqio_bench_baseline_model", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def same(a: Any, b: Any) -> bool:
    if a.events != b.events:
        return False
    return all(
        a.stats[k].latencies == b.stats[k].latencies
        and a.stats[k].responses == b.stats[k].responses
        and a.stats[k].overruns == b.stats[k].overruns
        for k in a.stats
    )


def simulator_rows(
    seconds: float, repeats: int, baseline: ModuleType | None
) -> list[dict[str, Any]]:
    rows = []
    for variant in (None, "bank-trap"):
        system = load_system("pico-can", variant)
        for policy in system.policies:
            walls: dict[str, list[float]] = {"new": [], "old": []}
            results: dict[str, Any] = {}
            for _ in range(repeats):  # interleaved, so a noisy spell hits both
                for name, mod in (("old", baseline), ("new", model)):
                    if mod is None:
                        continue
                    t0 = time.perf_counter()
                    results[name] = mod.simulate(system, policy, seconds=seconds)
                    walls[name].append(time.perf_counter() - t0)
            new = statistics.median(walls["new"])
            events = results["new"].events
            row: dict[str, Any] = {
                "system": system.name + (f"/{variant}" if variant else ""),
                "policy": policy,
                "simulated_s": seconds,
                "events": events,
                "new_wall_s": round(new, 4),
                "new_events_per_s": round(events / new),
                "new_wall_s_per_sim_s": round(new / seconds, 4),
            }
            if baseline is not None:
                old = statistics.median(walls["old"])
                row |= {
                    "old_wall_s": round(old, 4),
                    "old_events_per_s": round(results["old"].events / old),
                    "old_wall_s_per_sim_s": round(old / seconds, 4),
                    "speedup": round(old / new, 2),
                    "identical": same(results["old"], results["new"]),
                }
            rows.append(row)
    return rows


def sweep_rows(seconds: float, quick: bool) -> list[dict[str, Any]]:
    from irqio.timing.sweep import VariantTask, collect, ray_available, run_ray, run_serial
    from irqio.timing.sweep_command import read_data
    from irqio.timing.sweep_params import grid, parse_vary

    data, path = read_data("pico-can")
    step = 64 if quick else 16
    params = [
        parse_vary(f"background.atomic.instructions=16..256:{step}"),
        parse_vary("policy=global,source-mask"),
    ]
    tasks = [VariantTask(i, data, path, p, (), seconds) for i, p in enumerate(grid(params))]
    rows = []
    t0 = time.perf_counter()
    serial = run_serial(list(tasks))
    wall = time.perf_counter() - t0
    rows.append(
        {
            "engine": "serial",
            "variants": len(tasks),
            "simulated_s_each": seconds,
            "wall_s": round(wall, 3),
            "variants_per_s": round(len(tasks) / wall, 2),
        }
    )
    if not ray_available():
        rows.append({"engine": "ray", "note": "Ray is not installed: pip install 'irqio[sweep]'"})
        return rows
    import ray

    cpus = os.cpu_count() or 1
    t0 = time.perf_counter()
    ray.init(
        num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR
    )
    # Ray starts its worker processes lazily: start them (and their imports) before timing.
    run_ray([VariantTask(i, data, path, {}, ("global",), 0.001) for i in range(2 * cpus)])
    start = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        parallel = run_ray(list(tasks))
        wall_ray = time.perf_counter() - t0
    finally:
        ray.shutdown()
    rows.append(
        {
            "engine": f"ray ({cpus} cores)",
            "variants": len(tasks),
            "simulated_s_each": seconds,
            "wall_s": round(wall_ray, 3),
            "variants_per_s": round(len(tasks) / wall_ray, 2),
            "ray_start_s": round(start, 2),
            "same_rows_as_serial": collect(parallel).rows == collect(serial).rows,
            "speedup_vs_serial": round(wall / wall_ray, 2),
        }
    )
    return rows


def profile(baseline: ModuleType | None) -> int:
    import cProfile
    import io
    import pstats

    system = load_system("pico-can")
    for name, mod in (("old", baseline), ("new", model)):
        if mod is None:
            print(f"{name}: no baseline (git history needed)")
            continue
        prof = cProfile.Profile()
        prof.runcall(mod.simulate, system, "global", seconds=1.0)
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
        lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
        print(f"== {name} model: pico-can, global, 1 simulated s, under cProfile ==")
        print("\n".join(lines[:16]))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--profile", action="store_true", help="only profile the hot path")
    args = parser.parse_args(argv)
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            return profile(load_baseline(Path(tmp)))
    seconds = 0.1 if args.quick else 1.0
    repeats = 1 if args.quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        baseline = load_baseline(Path(tmp))
        sim = simulator_rows(seconds, repeats, baseline)
    sweep = sweep_rows(0.1 if args.quick else 2.0, args.quick)
    if args.json:
        print(json.dumps({"simulator": sim, "sweep": sweep}, indent=2))
        return 0 if all(r.get("identical", True) for r in sim) else 1
    console = Console(width=None if sys.stdout.isatty() else 140)
    title = (
        f"timing model speed ({seconds:g} simulated s per row, RP2040 @ 125 MHz, "
        f"median of {repeats}; old = {BASELINE[:7]} from git)"
    )
    table = Table(title=title)
    cols = ("system", "policy", "events", "old events/s", "new events/s", "speed-up")
    for col in (*cols, "new wall s / sim s", "identical"):
        table.add_column(col, justify="left" if col in ("system", "policy") else "right")
    for r in sim:
        table.add_row(
            r["system"],
            r["policy"],
            str(r["events"]),
            f"{r['old_events_per_s']:,}" if "old_events_per_s" in r else "-",
            f"{r['new_events_per_s']:,}",
            f"{r['speedup']:.2f}x" if "speedup" in r else "-",
            f"{r['new_wall_s_per_sim_s']:.3f}",
            str(r.get("identical", "no baseline (git)")),
        )
    console.print(table)
    if "speedup" in sim[0]:
        console.print(f"median speed-up: {statistics.median(r['speedup'] for r in sim):.2f}x")
    n = sweep[0]["variants"]
    sweep_table = Table(title=f"irqio sweep: {n} pico-can variants (atomic length x policy)")
    for col in ("engine", "variants", "sim s each", "wall s", "variants/s", "note"):
        sweep_table.add_column(col, justify="left" if col in ("engine", "note") else "right")
    for r in sweep:
        note = r.get("note", "")
        if "ray_start_s" in r:
            note = (
                f"Ray start and worker warm-up {r['ray_start_s']} s apart; same rows as serial: "
                f"{r['same_rows_as_serial']}; {r['speedup_vs_serial']}x serial"
            )
        sweep_table.add_row(
            r["engine"],
            str(r.get("variants", "")),
            str(r.get("simulated_s_each", "")),
            str(r.get("wall_s", "")),
            str(r.get("variants_per_s", "")),
            note,
        )
    console.print(sweep_table)
    return 0 if all(r.get("identical", True) for r in sim) else 1


if __name__ == "__main__":
    sys.exit(main())
