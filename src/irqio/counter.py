"""An exact event counter that any context may bump: threads, signal handlers, nested handlers.

`x += 1` on an attribute is a load, an add and a store: a handler that preempts between the
load and the store loses a count. `next()` on an `itertools.count` is one C call, which the GIL
never splits, so every bump is kept. Reading is rare (task context, reports) and goes through
`repr`, the one public view of the count's position.
"""

from __future__ import annotations

try:
    from itertools import count as _count

    _ATOMIC = repr(_count()) == "count(0)"
except ImportError:  # MicroPython without micropython-lib's itertools
    _ATOMIC = False


class Counter:
    __slots__ = ("_count", "_n")

    def __init__(self) -> None:
        if _ATOMIC:
            self._count = _count()
        else:
            # MicroPython: a hard IRQ cannot be preempted by the code it interrupted, so only
            # nested IRQs of a higher priority can tear this; its port masks them around it.
            self._n = 0

    def bump(self) -> int:
        """Add one and return the new count (unique to this bump). Any context; O(1)."""
        if _ATOMIC:
            return next(self._count) + 1
        self._n += 1
        return self._n

    @property
    def value(self) -> int:
        if _ATOMIC:
            # repr is "count(N)": N is what the next bump returns, i.e. the bumps so far.
            return int(repr(self._count)[6:-1])
        return self._n

    def __repr__(self) -> str:
        return f"Counter({self.value})"
