"""`irqio check FILE.py`: explore every scenario in a file and print a verdict for each.

Exit status: 0 when every scenario is safe, 1 when any broke (its counterexample is printed),
2 on bad input (missing file, no scenarios, bad options).
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from irqio.check.collect import CollectError, collect
from irqio.check.explore import MODES, Result, explore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE.py", help="files of @scenario functions")
    parser.add_argument(
        "-p",
        "--preemptions",
        type=int,
        default=None,
        help="preemption bound (default: each scenario's own, usually 1)",
    )
    parser.add_argument(
        "--mode", choices=MODES, default="exhaustive", help="how to choose schedules"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for --mode random")
    parser.add_argument("--runs", type=int, default=None, help="schedules for --mode random")
    parser.add_argument(
        "--replay",
        default=None,
        metavar="SCHEDULE",
        help="replay one schedule (as printed after 'replay:'); use with -k",
    )
    parser.add_argument(
        "-k", dest="select", default=None, help="only scenarios whose name has this"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if args.preemptions is not None and args.preemptions < 0:
        err.print("irqio check: --preemptions must be 0 or more")
        return 2
    scenarios = []
    for path in args.files:
        try:
            scenarios += collect(path)
        except CollectError as error:
            err.print(f"irqio check: {escape(str(error))}")
            return 2
    if args.select:
        scenarios = [s for s in scenarios if args.select in s.name]
        if not scenarios:
            err.print(f"irqio check: no scenario name contains {args.select!r}")
            return 2
    mode = "replay" if args.replay else args.mode
    broken = 0
    results: list[Result] = []
    for sc in scenarios:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=args.quiet,
        ) as bar:
            task = bar.add_task(escape(sc.name), total=None)

            def progress(done: int, total: int, task: object = task) -> None:
                bar.update(task, completed=done, total=total)  # type: ignore[arg-type]

            try:
                result = explore(
                    sc,
                    preemptions=args.preemptions,
                    mode=mode,
                    seed=args.seed,
                    runs=args.runs,
                    replay=args.replay,
                    progress=progress,
                )
            except ValueError as error:
                err.print(f"irqio check: {sc.name}: {escape(str(error))}")
                return 2
        results.append(result)
        verdict = "[green]SAFE[/green]" if result.ok else "[red bold]BROKEN[/red bold]"
        console.print(
            f"{verdict}  {escape(sc.name)}  [dim]{sc.port} port, {result.mode}, "
            f"{result.preemptions} preemption(s): {result.schedules_run} schedules in "
            f"{result.elapsed:.2f} s ({result.schedules_per_second:.0f}/s), "
            f"{result.points} points[/dim]"
        )
        if not result.ok:
            broken += 1
            body = result.report().split("\n", 2)[2] if "\n" in result.report() else ""
            console.print(escape(body))
    total = len(results)
    summary = f"{total - broken} safe, {broken} broken, {total} scenario(s)"
    console.print(("[red bold]" if broken else "[green]") + summary)
    return 1 if broken else 0
