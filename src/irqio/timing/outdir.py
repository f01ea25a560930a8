"""The `--out` directory of `irqio sim`: checked before anything is simulated.

Everything that can stop the report from being written is found first (an optional extra not
installed, a path that is a file, a directory that cannot be written), so a long simulation is
never thrown away at the end. File names made from a system's name stay inside the directory.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from pathlib import Path

from irqio.timing.errors import MissingExtra, OutputError, printable

# (module, what needs it, the extra that installs it)
EXTRAS = (("vcd", "the VCD traces", "trace"), ("matplotlib", "the plots", "plot"))


def check_extras() -> None:
    """Raise MissingExtra naming every optional package the report needs and how to get it."""
    missing = []
    for module, what, extra in EXTRAS:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append((module, what, extra))
    if missing:
        needs = ", ".join(f"{m} ({what})" for m, what, _ in missing)
        extras = ",".join(e for *_, e in missing)
        raise MissingExtra(
            f"--out needs {needs}, not installed here: pip install 'irqio[{extras}]' "
            "(from a clone of irqio, `python3 dev.py irqio sim ...` installs every extra into "
            ".venv and runs there)"
        )


def prepare(out: Path) -> list[Path]:
    """Create `out` if needed and make sure a file can be written in it. Returns the
    directories it created (for `discard` when the run fails), deepest last."""
    shown = printable(str(out))
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {shown}: exists and is not a directory; give a directory")
    created = [p for p in (out, *out.parents) if not p.exists()][::-1]
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        discard(created)
        reason = exc.strerror or str(exc)
        raise OutputError(f"--out {shown}: cannot write there ({reason})") from None
    return created


def discard(created: list[Path]) -> None:
    """Remove the directories `prepare` created, if they are still empty."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            return


def stem(name: str) -> str:
    """A file name stem from a system's name: letters, digits, `.`, `_` and `-` only, never
    starting with a dot, so `../../x` or `/etc/x` stays a plain name inside --out."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".-_")[:64]
    return safe or "system"
