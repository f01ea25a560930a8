"""`irqio sweep FILE --vary PATH=VALUES ...`: simulate and analyse every variant of a system file;
one table and one plot per parameter. `irqio sweep --validate N`: the simulated worst never above
the analysis bound, on N random systems. Variants run as Ray tasks when Ray is installed
(`irqio[sweep]`), serially otherwise.

Exit codes: 0 done; 1 a simulation exceeded its bound (--validate); 2 bad input (nothing run);
3 some variants failed (reported, the rest are in the table).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from irqio.timing.errors import SystemFileError
from irqio.timing.sweep import (
    INSTALL_HINT,
    Outcome,
    RayStartError,
    Row,
    Task,
    ValidateTask,
    VariantTask,
    collect,
    ray_available,
    run_ray,
    run_serial,
)
from irqio.timing.sweep_params import (
    SweepSpecError,
    Value,
    apply,
    grid,
    parse_vary,
    sample,
)
from irqio.timing.system import POLICIES, System, parse_system, system_names

EXIT_EXCEEDED, EXIT_USAGE, EXIT_FAILED = 1, 2, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "exit codes: 0 done; 1 a simulation exceeded its bound; 2 bad input; "
        "3 some variants failed (reported; the rest are in the table)"
    )
    parser.add_argument(
        "file",
        nargs="?",
        help="system TOML, or a shipped one by name (pico-can); not with --validate",
    )
    parser.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=VALUES",
        help="a parameter and its values: 'background.atomic.instructions=16..256:16', "
        "'policy=*', 'lines.can.priority=1,2,3', 'cpi=1..2' (with --sample); repeatable "
        "(docs/timing.md, irqio sweep)",
    )
    parser.add_argument(
        "--sample", type=int, metavar="N", help="N random points instead of the whole grid"
    )
    parser.add_argument(
        "--seed", type=int, help="simulation seed (default: the file's) and sampling seed"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        help="simulated seconds per variant and policy (default: the file's)",
    )
    parser.add_argument("--line", help="the line the plots show (default: the most urgent)")
    parser.add_argument(
        "--out", type=Path, help="folder for the table and plots (default: sweep-NAME)"
    )
    parser.add_argument(
        "--ray", metavar="ADDRESS", help="run on this Ray cluster (default: a local Ray)"
    )
    parser.add_argument(
        "--workers", type=int, help="CPUs of the local Ray (default: all of this machine's)"
    )
    parser.add_argument("--serial", action="store_true", help="run in this process, without Ray")
    parser.add_argument(
        "--validate",
        type=int,
        metavar="N",
        help="instead of a file: check the analysis bound against the simulation on N random "
        "systems (jitter up to the period, self-interference)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


class UsageError(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    try:
        tasks, params, system, stem = _plan(args)
        workers_note = _engine_note(args)
    except (UsageError, SystemFileError, SweepSpecError) as exc:
        print(f"irqio sweep: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out_dir = args.out or Path(f"sweep-{stem}")
    if workers_note:
        print(f"irqio sweep: {workers_note}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        outcome = _execute(tasks, args)
    except RayStartError as exc:
        print(f"irqio sweep: {exc} (check --ray ADDRESS, or run with --serial)", file=sys.stderr)
        return EXIT_USAGE
    wall = time.perf_counter() - t0
    files: list[Path] = []
    plot_note = ""
    try:
        from irqio.timing.sweep_output import plot_sweep, write_table

        files += write_table(outcome.rows, out_dir, stem)
        if system is not None and params:
            line = args.line or _most_urgent(system)
            try:
                shown = [p for p in params if p != "policy"]  # policies are the series
                files += plot_sweep(outcome.rows, shown, line, out_dir, stem)
            except ImportError:
                plot_note = "plots need matplotlib: pip install 'irqio[plot]'"
    except OSError as exc:
        print(f"irqio sweep: cannot write to {out_dir}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    exceeded = [r for r in outcome.rows if r.get("within_bound") is False]
    summary = _summary(args, tasks, outcome, exceeded, wall, files)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print(summary, outcome, exceeded, system, args)
    if plot_note:
        print(f"irqio sweep: {plot_note}", file=sys.stderr)
    if exceeded:
        return EXIT_EXCEEDED
    return EXIT_FAILED if outcome.failed else 0


# -- planning -----------------------------------------------------------------------------------
def read_data(file: str) -> tuple[dict[str, Any], str]:
    """A system file's parsed TOML, or a shipped system's by name (as `load_system` finds it)."""
    path = Path(file)
    try:
        if not path.exists() and file in system_names():
            text = (resources.files("irqio.timing") / "systems" / f"{file}.toml").read_text()
            return tomllib.loads(text), f"systems/{file}.toml"
        return tomllib.loads(path.read_text(encoding="utf-8")), file
    except FileNotFoundError:
        raise SystemFileError(
            file, "", f"file not found (shipped systems, by name: {', '.join(system_names())})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemFileError(file, "", f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SystemFileError(file, "", f"not valid TOML: {exc}") from None


def _plan(args: argparse.Namespace) -> tuple[list[Task], list[str], System | None, str]:
    if args.seconds is not None and not 0 < args.seconds < 1e4:
        raise UsageError("--seconds: must be > 0 (and below 10000)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: must be >= 1 (got {args.workers})")
    if args.validate is not None:
        if args.file or args.vary or args.sample:
            raise UsageError("--validate draws its own systems: give no FILE, --vary or --sample")
        if args.validate < 1:
            raise UsageError(f"--validate: must be >= 1 (got {args.validate})")
        seed = 1 if args.seed is None else args.seed
        return (
            [ValidateTask(i, seed, args.seconds) for i in range(args.validate)],
            [],
            None,
            "validate",
        )
    if not args.file:
        raise UsageError("give a system FILE with --vary PATH=VALUES, or --validate N")
    if not args.vary:
        raise UsageError("nothing to vary: add --vary PATH=VALUES (e.g. --vary 'policy=*')")
    if args.sample is not None and args.sample < 1:
        raise UsageError(f"--sample: must be >= 1 (got {args.sample})")
    data, path = read_data(args.file)
    system = parse_system(copy.deepcopy(data), path)
    chip_policies = tuple(p for p in POLICIES if p != "basepri" or system.profile.basepri)
    params = [
        parse_vary(spec, file_variants=tuple(system.variants), policies=chip_policies)
        for spec in args.vary
    ]
    paths = [p.path for p in params]
    if len(set(paths)) != len(paths):
        raise UsageError("a parameter is given twice in --vary")
    if args.line is not None and args.line not in {ln.name for ln in system.lines}:
        names = ", ".join(ln.name for ln in system.lines)
        raise UsageError(f"--line {args.line!r}: no such line; lines: {names}")
    # Every path must lead somewhere in the file before anything runs.
    for p in params:
        if p.path not in ("policy", "variant"):
            apply(copy.deepcopy(data), p.path, p.values[0] if p.values else p.low)
    if args.sample is not None:
        seed = system.seed if args.seed is None else args.seed
        points: list[dict[str, Value]] = sample(params, args.sample, seed)
    else:
        points = list(grid(params))
    tasks: list[Task] = [
        VariantTask(i, data, path, point, (), args.seconds, args.seed)
        for i, point in enumerate(points)
    ]
    return tasks, paths, system, system.name


def _most_urgent(system: System) -> str:
    return max(system.lines, key=lambda ln: (ln.priority, -ln.order)).name


def _engine_note(args: argparse.Namespace) -> str:
    if args.serial:
        return ""
    if not ray_available():
        if args.ray:
            raise UsageError(f"--ray needs Ray: {INSTALL_HINT}")
        return (
            f"Ray is not installed: running serially ({INSTALL_HINT} to run variants in parallel)"
        )
    return ""


def _use_ray(args: argparse.Namespace) -> bool:
    return not args.serial and ray_available()


def _execute(tasks: list[Task], args: argparse.Namespace) -> Outcome:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    what = "systems" if args.validate is not None else "variants"
    engine = "Ray" if _use_ray(args) else "serial"
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[failed]}"),
        console=Console(stderr=True),
        transient=True,
        disable=args.json,
    ) as progress:
        bar = progress.add_task(f"sweep ({engine})", total=len(tasks), failed="")
        failed = 0

        def done(index: int, rows: list[Row]) -> None:
            nonlocal failed
            failed += any(r.get("error") for r in rows)
            progress.update(bar, advance=1, failed=f"{failed} failed" if failed else "")

        progress.update(bar, description=f"{len(tasks)} {what} ({engine})")
        if engine == "Ray":
            results = run_ray(tasks, address=args.ray, workers=args.workers, progress=done)
        else:
            results = run_serial(tasks, progress=done)
    return collect(results)


# -- reporting ----------------------------------------------------------------------------------
def _summary(
    args: argparse.Namespace,
    tasks: list[Task],
    outcome: Outcome,
    exceeded: list[Row],
    wall: float,
    files: list[Path],
) -> dict[str, Any]:
    return {
        "mode": "validate" if args.validate is not None else "sweep",
        "tasks": len(tasks),
        "engine": "ray" if _use_ray(args) else "serial",
        "wall_s": round(wall, 3),
        "tasks_per_s": round(len(tasks) / wall, 3) if wall > 0 else None,
        "rows": len(outcome.rows),
        "failed": [{"task": i, "error": e} for i, e in outcome.failed],
        "exceeded": exceeded,
        "files": [str(f) for f in files],
    }


def _print(
    summary: dict[str, Any],
    outcome: Outcome,
    exceeded: list[Row],
    system: System | None,
    args: argparse.Namespace,
) -> None:
    from rich.table import Table

    from irqio.console import output_console

    console = output_console()
    if system is not None:
        line = args.line or _most_urgent(system)
        table = Table(title=f"{system.name}: worst start latency of {line} over the sweep")
        for col in ("policy", "variants", "worst sim µs", "at", "largest bound µs"):
            table.add_column(col, justify="left" if col in ("policy", "at") else "right")
        by_policy: dict[str, list[Row]] = {}
        for row in outcome.rows:
            if not row.get("error") and row.get("line") == line:
                by_policy.setdefault(str(row["policy"]), []).append(row)
        keys = list(dict.fromkeys(k for t in args.vary for k in [t.partition("=")[0].strip()]))
        for policy, rows in by_policy.items():
            sims = [r for r in rows if r["sim_start_max_us"] is not None]
            worst = max(sims, key=lambda r: r["sim_start_max_us"]) if sims else None
            bounds = [r["bound_start_us"] for r in rows]
            largest = "∞" if None in bounds else f"{max(bounds):.2f}"
            at = ", ".join(f"{k}={worst[k]}" for k in keys if worst and k in worst)
            table.add_row(
                policy,
                str(len(rows)),
                f"{worst['sim_start_max_us']:.2f}" if worst else "-",
                at,
                largest,
            )
        console.print(table)
    else:
        systems = summary["tasks"]
        console.print(
            f"validated {systems} random systems: {len(outcome.rows)} line/policy rows, "
            f"{len(exceeded)} above their bound, {len(outcome.failed)} failed"
        )
    console.print(
        f"{summary['tasks']} tasks in {summary['wall_s']:.1f} s ({summary['engine']}, "
        f"{summary['tasks_per_s']} per s)"
    )
    for row in exceeded[:10]:
        who = f"system {row['system']}" if "system" in row else f"variant {row['variant']}"
        print(
            f"irqio sweep: ABOVE BOUND {who} {row['policy']} {row['line']}: simulated start "
            f"{row['sim_start_max_us']} µs (bound {row['bound_start_us']}), response "
            f"{row['sim_response_max_us']} µs (bound {row['bound_response_us']})",
            file=sys.stderr,
        )
    for index, error in outcome.failed[:10]:
        print(f"irqio sweep: task {index} failed: {error}", file=sys.stderr)
    if len(outcome.failed) > 10:
        print(f"irqio sweep: ... {len(outcome.failed) - 10} more failed", file=sys.stderr)
    for f in summary["files"]:
        console.print(f"wrote {f}")
