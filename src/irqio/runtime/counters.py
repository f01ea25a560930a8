"""`Tally`: an exact count of events that any context may add to (threads, signal handlers,
nested handlers), read in task context.

`x += 1` on an attribute is a load, an add and a store: a handler that preempts between the load
and the store loses a count. On CPython `next()` on an `itertools.count` is one C call, which the
GIL never splits, so every bump is kept; the count is read back through `repr`, the one public
view of the count's position.
"""

from irqio._compat import MICROPYTHON

if not MICROPYTHON:
    from itertools import count as _count


class Tally:
    """Bumps from any context, kept exactly; `value` is the number of bumps so far."""

    __slots__ = ("_count", "_n")

    def __init__(self) -> None:
        if MICROPYTHON:
            # MicroPython: a hard IRQ cannot be preempted by the code it interrupted, so only
            # nested IRQs of a higher priority or another core can tear this (see the port).
            self._n = 0
        else:
            self._count = _count()

    def bump(self) -> int:
        """Add one and return the new count (unique to this bump). Any context; O(1)."""
        if MICROPYTHON:
            self._n += 1
            return self._n
        return next(self._count) + 1

    @property
    def value(self) -> int:
        if MICROPYTHON:
            return self._n
        # repr is "count(N)": N is what the next bump returns, i.e. the bumps so far.
        return int(repr(self._count)[6:-1])

    def __repr__(self) -> str:
        return f"Tally({self.value})"
