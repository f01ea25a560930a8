"""An exact event counter that any context may bump: threads, signal handlers, nested handlers.

`x += 1` on an attribute is a load, an add and a store: a handler that preempts between the
load and the store loses a count. `next()` on an `itertools.count` is one C call, which the GIL
never splits, so every bump is kept. Reading is rare (task context, reports) and goes through
`repr`, the one public view of the count's position.
"""

from __future__ import annotations

import itertools


class Counter:
    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = itertools.count()

    def bump(self) -> int:
        """Add one and return the new count (unique to this bump). Any context; O(1)."""
        return next(self._count) + 1

    @property
    def value(self) -> int:
        # repr is "count(N)": N is the value the next bump would return, i.e. bumps so far.
        return int(repr(self._count)[6:-1])

    def __repr__(self) -> str:
        return f"Counter({self.value})"
