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


class _Taken:
    """How far the consumer has taken one producer ring: written by task context only. Its own
    object, apart from the producer's `_Cell`: a producer on the other core stores to its cell
    for every item, and an index of the consumer's beside those stores cost the queue a cache
    line moving between the cores per item (about half its throughput on the unix port)."""

    __slots__ = ("head",)

    def __init__(self) -> None:
        self.head = 0  # the oldest item's place


class _Cell:
    """One producer context's ring (MicroPython): `size` = capacity + 1 places, and items live
    in the places from `taken.head` up to, not including, `tail`.

    Single writers: `tail`, `refused` and the place at `tail` belong to the producer context;
    `taken.head` and the places it passes belong to the consumer. The place at `tail` is never
    an item (the ring keeps one place free), so the producer may write it before it knows there
    is room (a refused item stays there until the context's next put)."""

    __slots__ = ("buf", "refused", "size", "tail", "taken")

    def __init__(self, capacity: int) -> None:
        self.size = capacity + 1
        self.buf: list[Any] = [None] * self.size
        self.tail = 0
        self.refused = 0
        self.taken = _Taken()

    def put(self, item: "Any") -> bool:
        """Append `item`; False (counted in `refused`) if the ring is full. The ring's producer
        context only; O(1), no allocation, no exception (both matter in a hard IRQ)."""
        # Few locals: a function whose locals and stack pass 11 words gets its frame from the
        # heap on every call (py/objfun.c, VM_MAX_STATE_ON_STACK), through the GC's lock; in a
        # hard IRQ that falls back to the C stack, elsewhere it costs ~0.8 µs and a lock.
        # why straight-line from the read of `tail` to its store: MicroPython runs scheduled
        # callbacks (soft IRQs) only at branch opcodes (py/vm.c, pending_exception_check), so
        # a thread's task code and the soft IRQs that share its ring cannot split this.
        tail = self.tail
        self.buf[tail] = item  # the free place: harmless if there is no room
        size = self.size
        room = (tail + 1) % size != self.taken.head
        self.tail = (tail + room) % size  # publish: the item is in before `tail` passes it
        if room:
            return True
        self.refused += 1
        return False

    def __len__(self) -> int:
        return (self.tail - self.taken.head) % self.size

    def pop(self) -> "Any":
        """The oldest item, or `EMPTY` (the consumer only)."""
        taken = self.taken
        head = taken.head
        if head == self.tail:
            return EMPTY
        buf = self.buf
        item = buf[head]
        buf[head] = None  # the ring keeps no taken item alive
        taken.head = (head + 1) % self.size  # after the place is cleared: the producer's now
        return item

    def take(self, n: int) -> "list[Any]":
        """Up to `n` of the oldest items, as one list (the consumer only): a slice or two.
        The taken places are cleared one by one: a slice assignment would also rewrite every
        place after them (MicroPython moves the rest of the list), places the producer may be
        writing at that moment."""
        taken = self.taken
        head = taken.head
        size = self.size
        k = (self.tail - head) % size  # read `tail` once: later items wait for the next take
        if k > n:
            k = n
        end = head + k
        buf = self.buf
        if end <= size:
            batch = buf[head:end]
        else:
            end -= size
            batch = buf[head:]
            batch.extend(buf[:end])
        end %= size
        j = head
        while j != end:  # the ring keeps no taken item alive
            buf[j] = None
            j += 1
            if j == size:
                j = 0
        taken.head = end  # after the places are cleared: the producer may reuse them now
        return batch


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
        """Append `item` to the calling context's ring; False (counted) if that ring is full.
        Any context."""
        rings = self._rings
        _heap_lock()
        if _heap_unlock():  # `in_hard_irq()`, inlined: get_ident() may allocate there
            state = irq_off()  # hard IRQs of different priorities nest: one writer at a time
            queued: bool = rings.irq.put(item)
            irq_on(state)
            return queued
        ident = thread_ident()  # PerContext.thread_cell, inlined
        if ident == rings._owner:
            cell = rings.mine
        else:
            cell = rings._threads.get(ident)
            if cell is None:
                cell = rings._add(ident)
        return cell.put(item)  # type: ignore[no-any-return]

    def poll(self) -> "Any":
        """An item, or `EMPTY`. The consumer only. It stays with one producer's ring until that
        is empty, then moves on round-robin: order is kept per producer, and a busy producer
        delays the others by at most its ring (`capacity` items). Few locals (`_Cell.put`)."""
        cells = self._rings.cells
        n = len(cells)
        i = self._next % n
        for _ in range(n):
            item = cells[i].pop()
            if item is not EMPTY:
                self._next = i
                return item
            i = (i + 1) % n
        return EMPTY

    def take_batch(self, n: int) -> "list[Any]":
        """Up to `n` items in `poll`'s order, a ring at a time (the consumer only)."""
        batch: list[Any] = []
        cells = self._rings.cells
        count = len(cells)
        i = self._next
        if i >= count:
            i = 0
        idle = 0  # rings looked at in a row that had nothing: stop after a full turn
        while n and idle < count:
            part = cells[i].take(n)
            if part:
                idle = 0
                n -= len(part)
                if batch:
                    batch.extend(part)
                else:
                    batch = part
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
            total += len(cell)
        return total

    def __iter__(self) -> "Iterator[Any]":
        """Every producer's items, oldest first within each (a look; task context)."""
        out: list[Any] = []
        for cell in self._rings.cells:
            head = cell.taken.head
            size = cell.size
            for k in range((cell.tail - head) % size):
                out.append(cell.buf[(head + k) % size])
        return iter(out)

    def full(self) -> bool:
        """Would an item from the calling context be refused now?"""
        cell = self._rings.cell()
        return (cell.tail + 1) % cell.size == cell.taken.head  # type: ignore[no-any-return]

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
