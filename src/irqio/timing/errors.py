"""The errors of the timing commands, their exit codes, and text safe to print.

Exit codes of `irqio sim` and `irqio analyze` (docs/timing.md), one per kind of failure:
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD_INPUT = 2  # the system file or an option is wrong (argparse uses 2 for options too)
EXIT_NO_BOUND = 3  # a line has no bound (its level is overloaded) or starved in the simulation
EXIT_OUTPUT = 4  # --out cannot be written
EXIT_MISSING_EXTRA = 5  # --out needs an optional extra that is not installed


def printable(text: str) -> str:
    """`text` with control and format characters (ESC, bidi overrides, ...) shown as escapes,
    so a name or key from a file cannot move the cursor or recolour the terminal."""
    # str.isprintable is False for categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs but " ".
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class SystemFileError(ValueError):
    """A system or profile file (or an option about it) is wrong. `str()` is the message a user
    sees: one line, printable."""

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path = path
        self.key = key
        self.message = message
        text = f"{path}: {key}: {message}" if key else f"{path}: {message}"
        super().__init__(printable(text))


class OutputError(OSError):
    """The --out directory cannot be used; `str()` says which path and why."""


class MissingExtra(ImportError):
    """An optional extra is needed and not installed; `str()` says how to install it."""
