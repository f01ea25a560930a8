"""How the benchmarks show what they measured: consoles, rich tables, JSON, the install hint.

Tables and verdicts go to stdout, progress and hints to stderr, so `--json > file` and a piped
table both stay clean. The consoles are irqio's own (`irqio.console`: the terminal's width, or a
fixed width when piped), the same policy as every irqio command.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from irqio.console import error_console, output_console

CHECKOUT = Path(__file__).resolve().parents[2]  # benchmarks/benchkit/report.py -> the checkout


def stdout_console() -> Console:
    """Where the tables go (irqio's console policy)."""
    return output_console()


def stderr_console() -> Console:
    """Where progress and hints go (irqio's console policy)."""
    return error_console()


def progress(console: Console, *, auto_refresh: bool = True) -> Progress:
    """The progress display of a run (on `console`, gone once the run ends).

    `auto_refresh=False` leaves out rich's refresh thread, for a bench that measures idle CPU
    time: the display then changes only when `harness.Steps` refreshes it.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=auto_refresh,
        transient=True,
    )


def dump_json(results: dict[str, Any]) -> None:
    """The results on stdout, for machines (`--json`)."""
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")


def verdict_markup(ok: bool) -> str:
    return "[green]pass[/]" if ok else "[red]miss[/]"


def mark(row: dict[str, Any]) -> str:
    """A row's pass / miss against its target, or nothing for a row without one."""
    return verdict_markup(row["pass"]) if "pass" in row else ""


def table(
    title: str,
    columns: Sequence[str],
    *,
    right: Callable[[int], bool],
    target: str | None = None,
    no_wrap: bool = True,
) -> Table:
    """A table titled on the left; column i is right-justified when `right(i)`; `target`
    adds a last column with the row's verdict against it. Cells do not wrap unless `no_wrap`
    is False (a table whose last column holds sentences)."""
    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if right(i) else "left", no_wrap=no_wrap)
    if target is not None:
        t.add_column(f"target: {target}", no_wrap=no_wrap)
    return t


def legend(console: Console, rows: list[dict[str, Any]], note: str = "") -> None:
    """Under a table: what each row measures (once per library). The texts are shown as they
    are: `req[i].set()` must not read as rich's italic tag."""
    seen: dict[str, str] = {}
    for r in rows:
        seen.setdefault(escape(r["library"]), escape(r["measures"]))
    if note:
        console.print(f"  [dim]{note}[/]")
    if len(set(seen.values())) == 1:
        console.print(f"  [dim]every row: {next(iter(seen.values()))}[/]")
    else:
        for lib, measures in seen.items():
            console.print(f"  [dim][bold]{lib}[/bold]: {measures}[/]")
    console.print()


def install_hint(missing: Sequence[str], bench: str) -> str:
    """What to run when peer libraries are missing: commands that work from this checkout.

    `dev.py irqio` sets up the checkout's .venv with the dev extra (every peer is in it) and
    runs irqio there; `pip install -e '…[bench]'` adds only the peers, to this environment.
    """
    return (
        f"missing peer libraries: {', '.join(missing)}. They come with irqio's bench extra: "
        f"`python3 {_shown(CHECKOUT / 'dev.py')} irqio bench {bench}` sets up .venv with them and "
        f"runs this benchmark there, or install them here with "
        f"`{sys.executable} -m pip install -e '{_shown(CHECKOUT)}[bench]'`"
    )


def print_verbatim(console: Console, text: str) -> None:
    """`text` exactly as it is: no rich markup (`[bench]` would vanish), no highlighting."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is under it (`./dev.py`), else
    absolute: either way a path the printed command can be run with from here."""
    try:
        rel = path.relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return os.path.join(".", rel) if rel != Path() else "."
