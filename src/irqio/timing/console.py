"""The rich console for command output: wide enough for the tables when output is piped."""

from __future__ import annotations

import sys

from rich.console import Console


def table_console() -> Console:
    # why: piped output (tests, files) defaults to 80 columns and would wrap policy names.
    return Console() if sys.stdout.isatty() else Console(width=140)
