"""Producer contexts: what each context writes on an interpreter with no GIL.

On CPython a `deque` append or popleft, or `next()` on an `itertools.count`, is one step that no
other thread or signal handler can split (the GIL; free-threaded, the object's own lock), so
every context may share one deque (`irqio.runtime.rings.SharedRing`).

MicroPython's `_thread` runs without a GIL (the rp2 port's second core, the unix port): two
threads really run at once, and `deque.append` / `popleft` update their indices with no lock,
so two threads appending to one deque lose items. What MicroPython does guarantee:

* scheduled callbacks (soft IRQs, `micropython.schedule`) run only on the main thread and only
  at branch opcodes (py/scheduler.c, py/vm.c `pending_exception_check`): straight-line bytecode
  is never split by them, and a C call is never split by code of the same thread;
* a store of one list element or one attribute is one machine word: a reader on the other core
  sees the old value or the new one.

So there, `PerContext` gives each producer context a cell of its own (a ring,
`irqio.runtime.rings.ContextRing`; a count, `irqio.runtime.counters.Tally`), each index with exactly
one writer: one ring per thread (the main thread's task code and its soft IRQs share it: a ring's
put is straight-line from the read of its tail to the store) and one for hard IRQs, written inside
a `machine.disable_irq()` window where the port has one (hard IRQs of different priorities nest;
the window is a few instructions). The consumer (task context) takes from every ring. A thread's
ring is made the first time that thread produces, and published before its first item.

Memory order: each side stores, then reads the other side's flag (`_due`, `_queued`,
`_getters`). That needs the two stores to be seen in order across cores: true on the in-order
Cortex-M0+ cores of the RP2040, and on x86 (total store order) for everything but the
store-then-load of two different words, which the VM separates by dozens of instructions.
"""

from irqio._compat import TYPE_CHECKING, in_hard_irq

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    from _thread import allocate_lock as _allocate_lock
    from _thread import get_ident as _thread_ident
except ImportError:  # a MicroPython port without threads (the WebAssembly build)
    _allocate_lock = None  # type: ignore[assignment]

    def _thread_ident() -> int:
        return 0


try:  # bare-metal MicroPython: mask hard IRQs around the hard-IRQ ring's few instructions
    from machine import disable_irq as _disable_irq  # type: ignore[import-not-found]
    from machine import enable_irq as _enable_irq
except ImportError:  # CPython; MicroPython's unix port (no hard IRQs there)
    _disable_irq = _enable_irq = None


#: The calling thread's identity (0 on a port without threads). Not in a hard IRQ: there it
#: names the thread the IRQ interrupted (test `in_hard_irq()` first).
thread_ident = _thread_ident


def irq_off() -> int:
    """Mask hard IRQs for the next few instructions (bare-metal MicroPython); returns the state
    for `irq_on`. A no-op where there are no hard IRQs to mask (CPython, the unix port)."""
    return _disable_irq() if _disable_irq is not None else 0


def irq_on(state: int) -> None:
    if _enable_irq is not None:
        _enable_irq(state)


# Taken only by threads registering their first ring with an object: never by task context on
# the consumer side, never in a hard IRQ.
_registration = _allocate_lock() if _allocate_lock is not None else None


class PerContext:
    """One cell per producer context (`make()` builds one), each written by its context only.

    `cell()` answers the calling context's cell; `cells` is every cell made so far, a tuple
    replaced (never mutated) when a thread adds one, so a reader's snapshot never changes under
    it."""

    __slots__ = ("_make", "_owner", "_threads", "cells", "irq", "mine")

    def __init__(self, make: "Callable[[], Any]") -> None:
        self._make = make
        self._owner = _thread_ident()  # the creating thread: its cell exists from the start
        self.mine = make()
        self.irq = make()  # hard IRQs' cell
        self.cells: tuple[Any, ...] = (self.mine, self.irq)
        self._threads: dict[int, Any] = {}  # replaced, never mutated (copy on write)

    def cell(self) -> "Any":
        """The calling context's cell. O(1); allocates only the first time a thread calls.
        A hard IRQ's cell is shared by every hard IRQ: write it between `irq_off` and `irq_on`."""
        if in_hard_irq():
            return self.irq
        return self.thread_cell()

    def thread_cell(self) -> "Any":
        """The calling thread's cell (the caller knows it is not in a hard IRQ)."""
        ident = _thread_ident()
        if ident == self._owner:
            return self.mine
        cell = self._threads.get(ident)
        if cell is None:
            cell = self._add(ident)
        return cell

    def _add(self, ident: int) -> "Any":
        lock = _registration
        if lock is not None:
            lock.acquire()
        try:
            cell = self._threads.get(ident)
            if cell is None:
                cell = self._make()
                threads = dict(self._threads)
                threads[ident] = cell
                # why: `cells` first: a consumer that finds the thread's first item (after this
                # returns) reads `cells` after it, and so sees the new cell.
                self.cells = self.cells + (cell,)  # noqa: RUF005 - MicroPython has no (*x, y)
                self._threads = threads
            return cell
        finally:
            if lock is not None:
                lock.release()
