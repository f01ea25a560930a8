"""The one console policy of irqio's commands (demo, check, sim, analyze, bench, ...).

Tables go to stdout at the terminal's width; when stdout is not a terminal (a pipe, a file, CI)
rich would fold every table at 80 columns, so piped output gets `PIPED_WIDTH` columns (or
`$COLUMNS` when set). Progress and errors go to stderr, so piped tables stay clean.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

#: Columns for output that is not a terminal: the widest table irqio prints fits.
PIPED_WIDTH = 200


def _width(stream: object) -> int | None:
    if getattr(stream, "isatty", lambda: False)():
        return None  # rich measures the terminal
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPED_WIDTH


def output_console() -> Console:
    """Tables and results (stdout)."""
    return Console(width=_width(sys.stdout), highlight=False, soft_wrap=False)


def error_console() -> Console:
    """Progress bars, warnings and errors (stderr)."""
    return Console(stderr=True, width=_width(sys.stderr), highlight=False)
