"""The rings the interrupt side appends to and task context drains: `SharedRing` on CPython,
`ContextRing` (one ring per producer context, see `irqio.runtime.contexts`) on MicroPython."""

from collections import deque

from irqio._compat import MICROPYTHON, TYPE_CHECKING
from irqio.runtime.contexts import PerContext, irq_off, irq_on, thread_ident
from irqio.runtime.counters import Tally

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

#: What `poll()` answers when a ring is empty (no exception: raising allocates on MicroPython).
EMPTY = ("empty",)

if MICROPYTHON:  # `in_hard_irq()`, inlined in the producers' hot path below
    from micropython import heap_lock as _heap_lock  # type: ignore[import-not-found]
    from micropython import heap_unlock as _heap_unlock
else:

    def _heap_lock() -> None:
        pass

    def _heap_unlock() -> int:
        return 0


class _Cell:
    """One producer context's ring: its items and the items it had refused (single writer)."""

    __slots__ = ("items", "refused")

    def __init__(self, capacity: int) -> None:
        # MicroPython's signature: maxlen positional, flag 1 = raise when full
        self.items: deque[Any] = deque((), capacity, 1)  # type: ignore[call-overload]
        self.refused = 0


class SharedRing:
    """Every context appends to one deque (CPython). `capacity` None: unbounded, never full.

    A bounded ring keeps one token per free place: a producer takes a token (`deque.pop`, one C
    call) before it appends, so the check and the claim cannot be torn and the bound is exact
    whatever preempts whom."""

    __slots__ = ("_free", "_refused", "capacity", "items")

    def __init__(self, capacity: "int | None") -> None:
        self.capacity = capacity
        self.items: deque[Any] = deque()
        self._free: deque[None] | None = None
        if capacity is not None:
            self._free = deque([None] * capacity, capacity)
        self._refused = Tally()

    def put(self, item: "Any") -> bool:
        """Append `item`; False (counted in `refused`) if the ring is full. Any context."""
        free = self._free
        if free is not None:
            try:
                free.pop()
            except IndexError:
                self._refused.bump()
                return False
        self.items.append(item)
        return True

    def poll(self) -> "Any":
        """The oldest item, or `EMPTY`. The consumer only."""
        try:
            item = self.items.popleft()
        except IndexError:
            return EMPTY
        if self._free is not None:
            self._free.append(None)  # after the item is gone: the bound never overshoots
        return item

    def take_batch(self, n: int) -> "list[Any]":
        popleft = self.items.popleft
        batch = [popleft() for _ in range(n)]
        if self._free is not None:
            self._free.extend([None] * n)
        return batch

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> "Iterator[Any]":
        """The items, oldest first (a look, for tests and reports; task context)."""
        return iter(list(self.items))

    def full(self) -> bool:
        return self._free is not None and not self._free

    @property
    def refused(self) -> int:
        return self._refused.value


class ContextRing:
    """One ring of `capacity` places per producer context (MicroPython; see
    `irqio.runtime.contexts`). Order is kept per producer; see `poll` for the order across
    producers."""

    __slots__ = ("_next", "_rings", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rings = PerContext(lambda: _Cell(capacity))
        self._next = 0  # the ring the consumer looks at first (fairness; consumer only)

    def put(self, item: "Any") -> bool:
        """Append `item` to the caller's ring; False (counted) if that ring is full. The hot
        path of every producer on MicroPython: kept to one Python call."""
        rings = self._rings
        _heap_lock()
        in_irq = _heap_unlock()  # `in_hard_irq()`, inlined: this is the hot path
        if in_irq:
            cell = rings.irq
            state = irq_off()  # hard IRQs of different priorities nest: one writer at a time
        else:
            ident = thread_ident()  # PerContext.thread_cell, inlined
            if ident == rings._owner:
                cell = rings.mine
            else:
                cell = rings._threads.get(ident)
                if cell is None:
                    cell = rings._add(ident)
        items = cell.items
        # why check, then append: this context is the ring's only appender, and the consumer
        # only removes, so room seen here is still there; no IndexError (raising allocates,
        # which a hard IRQ may not).
        if len(items) >= self.capacity:
            cell.refused += 1  # single writer: this context
            queued = False
        else:
            items.append(item)
            queued = True
        if in_irq:
            irq_on(state)
        return queued

    def poll(self) -> "Any":
        """An item, or `EMPTY`. The consumer only. It stays with one producer's ring until that
        is empty, then moves on round-robin: order is kept per producer, and a busy producer
        delays the others by at most its ring (`capacity` items)."""
        cells = self._rings.cells
        i = self._next
        if i < len(cells):
            items = cells[i].items
            if items:
                return items.popleft()
        n = len(cells)
        for _ in range(n):
            i += 1
            if i >= n:
                i = 0
            items = cells[i].items
            if items:
                self._next = i
                return items.popleft()
        return EMPTY

    def take_batch(self, n: int) -> "list[Any]":
        """Up to `n` items in `poll`'s order, a ring at a time (the consumer only)."""
        batch: list[Any] = []
        take = batch.append
        cells = self._rings.cells
        count = len(cells)
        i = self._next
        if i >= count:
            i = 0
        idle = 0  # rings looked at in a row that had nothing: stop after a full turn
        while n and idle < count:
            items = cells[i].items
            k = len(items)
            if k:
                idle = 0
                if k > n:
                    k = n
                n -= k
                popleft = items.popleft
                while k:
                    take(popleft())
                    k -= 1
                if not n:
                    break  # stay on this ring, as `poll` does
            else:
                idle += 1
            i += 1
            if i >= count:
                i = 0
        self._next = i
        return batch

    def __len__(self) -> int:
        total = 0  # a loop, not sum(generator): no allocation
        for cell in self._rings.cells:
            total += len(cell.items)
        return total

    def __iter__(self) -> "Iterator[Any]":
        """Every producer's items, oldest first within each (a look; task context)."""
        out: list[Any] = []
        for cell in self._rings.cells:
            out.extend(cell.items)
        return iter(out)

    def full(self) -> bool:
        """Would an item from the calling context be refused now?"""
        return len(self._rings.cell().items) >= self.capacity

    @property
    def refused(self) -> int:
        total = 0
        for cell in self._rings.cells:
            total += cell.refused
        return total


def ring(capacity: "int | None") -> "SharedRing | ContextRing":
    """The ring for this interpreter: shared on CPython, per context on MicroPython (where
    `capacity` None means the doorbell's bound, `PENDING_PER_CONTEXT`)."""
    if MICROPYTHON:
        return ContextRing(PENDING_PER_CONTEXT if capacity is None else capacity)
    return SharedRing(capacity)


#: MicroPython: places per producer context in a doorbell's pending ring. More primitives rung
#: from one context before a service is not a loss: see `Doorbell.ring` (the overflow scan).
PENDING_PER_CONTEXT = 64
