"""`irqio check PATH...`: explore every scenario in files (or directories) and give a verdict.

Collecting a file imports it: its top-level code runs, as `import` (or pytest) would run it.

Exit status: 0 when every scenario is safe, 1 when any broke (its counterexample is printed),
2 on bad input (missing file, no scenarios, bad options), 3 when a scenario raised while
building its world (a bug in the scenario, not a verdict), 130 on Ctrl-C (what was covered
is summarised; no verdict is given for the interrupted scenario).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from irqio.check.collect import CollectError, collect_paths
from irqio.check.explore import MODES, Interrupted, Result, explore
from irqio.check.scenario import Scenario, ScenarioError
from irqio.console import error_console, output_console

EXIT_SAFE, EXIT_BROKEN, EXIT_USAGE, EXIT_SCENARIO, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
SAMPLED = ("random", "pct", "portfolio")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Explore handler preemptions in the @scenario functions of files or directories. "
        "Each file is imported, so its top-level code runs. Exit status: 0 safe, 1 broken "
        "(or livelock), 2 bad input, 3 a scenario raised while building its world, 130 "
        "interrupted."
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files of @scenario functions, or directories to search for them (imported)",
    )
    parser.add_argument(
        "-p",
        "--preemptions",
        type=int,
        default=None,
        help="preemption bound (default: each scenario's own, usually 1)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="how to choose schedules (default: exhaustive; --seed/--runs alone imply random)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for random, pct and portfolio modes"
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="schedules for random, pct and portfolio modes"
    )
    parser.add_argument("--depth", type=int, default=None, help="PCT bug depth (default p+1)")
    parser.add_argument(
        "--replay",
        default=None,
        metavar="SCHEDULE",
        help="replay one schedule (as printed after 'replay:'); use with -k",
    )
    parser.add_argument(
        "-k", dest="select", default=None, help="only scenarios whose name has this"
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=1, help="processes to split the search over"
    )
    parser.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="split the search over a Ray cluster (an address, 'auto', or 'local'); needs ray",
    )
    parser.add_argument(
        "--no-reduce",
        dest="reduce",
        action="store_false",
        help="exhaustive mode: run every schedule, equivalent ones too",
    )
    parser.add_argument(
        "--no-shrink",
        dest="shrink",
        action="store_false",
        help="report a failing schedule as found, without shrinking it",
    )
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _options(args: argparse.Namespace, err: Console) -> tuple[str, str] | int:
    """(mode, implied note) or an exit code after saying what is wrong."""
    if args.preemptions is not None and args.preemptions < 0:
        return _usage(err, "--preemptions must be 0 or more")
    if args.runs is not None and args.runs < 1:
        return _usage(err, f"--runs must be 1 or more (got {args.runs})")
    if args.depth is not None and args.depth < 1:
        return _usage(err, f"--depth must be 1 or more (got {args.depth})")
    if args.jobs < 1:
        return _usage(err, f"-j/--jobs must be 1 or more (got {args.jobs})")
    sampling = args.seed is not None or args.runs is not None
    mode = args.mode
    note = ""
    if args.replay is not None:
        if mode not in (None, "replay"):
            return _usage(err, f"--replay replays one schedule; it cannot go with --mode {mode}")
        if sampling:
            return _usage(err, "--seed/--runs choose schedules; --replay gives one")
        mode = "replay"
    elif mode is None:
        mode = "random" if sampling else "exhaustive"
        if sampling:
            note = "--seed/--runs imply --mode random"
    elif sampling and mode not in SAMPLED:
        return _usage(
            err,
            f"--seed/--runs apply to --mode random, pct or portfolio, not {mode} "
            "(drop them, or pick one of those modes)",
        )
    if args.depth is not None and mode != "pct":
        return _usage(err, "--depth applies to --mode pct")
    if mode == "replay" and args.replay is None:
        return _usage(err, "--mode replay needs --replay SCHEDULE")
    return mode, note


def _usage(err: Console, message: str) -> int:
    err.print(f"irqio check: {escape(message)}")
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    out, err = output_console(), error_console()
    # Nothing is folded: a path, a replay handle or a source line must stay copyable.
    out.soft_wrap = err.soft_wrap = True
    chosen = _options(args, err)
    if isinstance(chosen, int):
        return chosen
    mode, note = chosen
    try:
        scenarios = collect_paths(args.paths)
    except CollectError as error:
        err.print(f"irqio check: {escape(str(error))}")
        return EXIT_USAGE
    if args.select:
        scenarios = [s for s in scenarios if args.select in s.name]
        if not scenarios:
            err.print(f"irqio check: no scenario name contains {args.select!r}")
            return EXIT_USAGE
    if note and not args.json:
        err.print(f"irqio check: {note}")
    results: list[Result] = []
    interrupted: Result | None = None
    current: Scenario | None = None
    try:
        for sc in scenarios:
            current = sc
            result = _explore_one(sc, args, mode, err)
            if isinstance(result, int):
                return result
            results.append(result)
            if not args.json:
                _print_result(out, result)
    except Interrupted as stop:
        interrupted = stop.result
    except KeyboardInterrupt:
        interrupted = None
    if args.json:
        json.dump(_json(results, interrupted), sys.stdout, indent=2)
        sys.stdout.write("\n")
    if interrupted is not None or (current is not None and len(results) < len(scenarios)):
        _print_interrupted(err, results, interrupted, current, len(scenarios))
        return EXIT_INTERRUPTED
    broken = sum(1 for r in results if not r.ok)
    if not args.json:
        total = len(results)
        summary = f"{total - broken} safe, {broken} broken, {total} scenario(s)"
        out.print(("[red bold]" if broken else "[green]") + summary)
    return EXIT_BROKEN if broken else EXIT_SAFE


def _explore_one(sc: Scenario, args: argparse.Namespace, mode: str, err: Console) -> Result | int:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[what]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=args.quiet or not err.is_terminal,
    ) as bar:
        task = bar.add_task(escape(sc.name), total=None, what="")
        unit = "first placements" if mode == "exhaustive" else "runs"

        def progress(done: int, total: int, schedules: int, task: Any = task) -> None:
            what = f"{done}/{total} {unit}, {schedules} schedules"
            bar.update(task, completed=done, total=max(total, 1), what=what)

        try:
            return explore(
                sc,
                preemptions=args.preemptions,
                mode=mode,
                seed=args.seed,
                runs=args.runs,
                replay=args.replay,
                progress=progress,
                reduce=args.reduce,
                jobs=args.jobs,
                ray=args.ray,
                depth=args.depth,
                shrink_failures=args.shrink,
            )
        except ScenarioError as error:
            err.print(f"irqio check: {escape(str(error))}")
            return EXIT_SCENARIO
        except (ValueError, ImportError) as error:
            err.print(f"irqio check: {escape(sc.name)}: {escape(str(error))}")
            return EXIT_USAGE


def _print_result(console: Console, result: Result) -> None:
    verdict = result.verdict
    color = "green" if result.ok else "red bold"
    bound = f"{result.preemptions} preemption{'' if result.preemptions == 1 else 's'}"
    console.print(
        f"[{color}]{verdict}[/{color}]  {escape(result.scenario)}  [dim]{result.port} port, "
        f"{result.mode}, {bound}: {escape(result.stats())}[/dim]"
    )
    if result.seed is not None and result.mode != "replay":
        console.print(
            f"  [dim]seed {result.seed}: rerun this search with --mode {result.mode} "
            f"--seed {result.seed}[/dim]"
        )
    if not result.ok:
        body = result.report().split("\n", 2)[2] if result.report().count("\n") >= 2 else ""
        console.print(escape(body))


def _print_interrupted(
    err: Console, done: list[Result], partial: Result | None, current: Scenario | None, total: int
) -> None:
    covered = ", ".join(f"{r.scenario} {r.verdict}" for r in done) or "none"
    err.print(
        escape(f"irqio check: interrupted; {len(done)} of {total} scenario(s) finished ({covered})")
    )
    if partial is not None:
        err.print(
            escape(
                f"  {partial.scenario}: stopped after {partial.schedules_run} schedules "
                f"(+{partial.pruned} pruned) in {partial.elapsed:.2f} s; no verdict for it"
            )
        )
    elif current is not None:
        err.print(escape(f"  {current.name}: stopped; no verdict for it"))


def _json(results: list[Result], interrupted: Result | None) -> dict[str, Any]:
    broken = sum(1 for r in results if not r.ok)
    return {
        "scenarios": [r.as_dict() for r in results],
        "interrupted": None if interrupted is None else interrupted.as_dict(),
        "summary": {"safe": len(results) - broken, "broken": broken, "total": len(results)},
    }
