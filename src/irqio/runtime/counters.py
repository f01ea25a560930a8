"""`Tally`: an exact count of events that any context may add to (threads, signal handlers,
nested handlers, hard IRQs), read in task context.

`x += 1` on an attribute is a load, an add and a store: a handler that preempts between the load
and the store loses a count. On CPython `next()` on an `itertools.count` is one C call, which the
GIL never splits, so every bump is kept; the count is read back through `repr`, the one public
view of the count's position. On MicroPython (no GIL, no itertools) each producer context bumps
a cell of its own (`irqio.runtime.contexts.PerContext`) and the value is their sum.
"""

from irqio._compat import MICROPYTHON, in_hard_irq

if MICROPYTHON:
    from irqio.runtime.contexts import PerContext, irq_off, irq_on
else:
    from itertools import count as _count


def _cell() -> "list[int]":
    return [0]


class Tally:
    """Bumps from any context, kept exactly; `value` is the number of bumps so far."""

    __slots__ = ("_cells", "_count")

    def __init__(self) -> None:
        if MICROPYTHON:
            self._cells = PerContext(_cell)
        else:
            self._count = _count()

    def bump(self) -> None:
        """Add one. Any context; O(1); allocates nothing (after a thread's first bump)."""
        if MICROPYTHON:
            cells = self._cells
            if in_hard_irq():
                state = irq_off()  # nested hard IRQs: one writer of the shared IRQ cell
                cells.irq[0] += 1
                irq_on(state)
            else:
                cell = cells.thread_cell()  # `f()[0] += 1` would allocate 24 bytes
                cell[0] += 1  # single writer: this thread (soft IRQs included)
            return
        next(self._count)

    @property
    def value(self) -> int:
        if MICROPYTHON:
            return sum(cell[0] for cell in self._cells.cells)
        # repr is "count(N)": N is what the next bump returns, i.e. the bumps so far.
        return int(repr(self._count)[6:-1])

    def __repr__(self) -> str:
        return f"Tally({self.value})"
