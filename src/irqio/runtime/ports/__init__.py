"""Ports: the binding of irqio's primitives to a scheduler, and which one serves a task.

A port registers a finder with `add_finder`: a function that returns the doorbell of the
scheduler running the calling task, or None when that scheduler is not one of its own. The
kernel port registers itself when the kernel starts. The default is the interpreter's asyncio:
`irqio.runtime.ports.asyncio` on CPython, `irqio.runtime.ports.micropython` on MicroPython.
"""

from irqio._compat import MICROPYTHON, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from irqio.runtime.doorbell import Doorbell

_finders: "list[Callable[[], Doorbell | None]]" = []
_default_finder: "Callable[[], Doorbell] | None" = None


def add_finder(finder: "Callable[[], Doorbell | None]") -> None:
    """Let a port say which doorbell serves the calling task (None: not one of mine)."""
    if finder not in _finders:
        _finders.insert(0, finder)


def current() -> "Doorbell":
    """The doorbell of the scheduler running the calling task. Task context only."""
    for find in _finders:
        found = find()
        if found is not None:
            return found
    global _default_finder
    if _default_finder is None:
        # Imported on first use, not at module level: each interpreter has its own asyncio.
        if MICROPYTHON:
            from irqio.runtime.ports.micropython import running_doorbell
        else:
            from irqio.runtime.ports.asyncio import running_doorbell  # type: ignore[assignment]

        _default_finder = running_doorbell
    return _default_finder()
