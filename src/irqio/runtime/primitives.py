"""Interrupt → task primitives: Flag, Event, Message, Queue, Slots.

Two sides, two rules (docs/runtime.md):

* The interrupt side (`set`, `put_nowait`, `offer`, `signal`) may run in any context: a task,
  another thread or core, a signal handler, an irqio handler, a hard IRQ, nested inside itself.
  It only stores values in attributes that exist already, appends to a ring, sets a byte, bumps
  a `Tally` and rings the doorbell. It never touches a waiter, a future or a task queue, never
  takes a lock, never blocks, does O(1) work and allocates nothing (MicroPython's hard IRQs run
  with the heap locked).
* The task side (`wait`, `get`, `clear`, `_service`) runs in task context on the primitive's
  scheduler, where waiters live.

A primitive binds to the scheduler of the first task that waits on it (or registers with it,
for `Slots`). Before that, the interrupt side only publishes state: with nobody waiting there
is nobody to wake.

The hand-over, the same for every primitive: the interrupt side publishes, *then* reads
`_queued`; `_service` stores `_queued = False`, *then* reads the state. So a set either queues
the primitive itself or is seen by the service that clears `_queued` after it (the argument of
`irqio.runtime.doorbell`, one level up). A waiter binds, *then* checks the state; the setter
publishes the state, *then* reads `_doorbell`: either the waiter sees the state, or the setter
sees the doorbell and the service finds the waiter.

Who is woken is decided from the state alone, in task context, so a service that runs twice
for one set (two racing rings) or for none wakes nobody wrongly:

* `Flag`: while it is set, every task parked on it is woken and the set is consumed.
* `Event`, `Message`: a task parked while the event was clear is woken if it is set now, or if
  `clear()` (task context) ran since it parked: `clear()` bumps `_epoch` only when it clears a
  set event, and a waiter remembers the epoch it parked in.
"""

from irqio._compat import MICROPYTHON, TYPE_CHECKING, Generic, TypeVar, in_hard_irq
from irqio.runtime import ports
from irqio.runtime.contexts import irq_off, irq_on, thread_ident
from irqio.runtime.counters import Tally
from irqio.runtime.errors import QueueEmpty, QueueFull, WrongScheduler
from irqio.runtime.rings import EMPTY, ring

if MICROPYTHON:  # `in_hard_irq()`, inlined in `Queue.offer`
    from micropython import heap_lock as _heap_lock  # type: ignore[import-not-found]
    from micropython import heap_unlock as _heap_unlock

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from irqio.runtime.doorbell import Doorbell, Waiter
    from irqio.runtime.rings import SharedRing

T = TypeVar("T")


class _Primitive:
    """What every primitive shares: its scheduler, its place on the doorbell, its waiters."""

    def __init__(self) -> None:
        self._doorbell: Doorbell | None = None
        # True from the interrupt side queueing this primitive until `_service` begins.
        self._queued = False
        # waiter -> what it saw when it parked (task context only)
        self._waiters: dict[Waiter, Any] = {}

    # -- interrupt side ---------------------------------------------------------------------

    def _ring(self) -> None:
        """Queue this primitive for service. Call only after publishing the new state."""
        doorbell = self._doorbell
        if doorbell is not None and not self._queued:
            self._queued = True
            if not doorbell.ring(self):
                # why: the doorbell's ring was full (MicroPython); its overflow scan services
                # us if a task is parked here. Give the mark back so our next ring is queued.
                self._queued = False

    # -- task side --------------------------------------------------------------------------

    def _bind(self) -> "Doorbell":
        """Bind to the calling task's scheduler, or check that it is the bound one."""
        current = ports.current()
        bound = self._doorbell
        if bound is None:
            self._doorbell = current
        elif bound is not current:
            name = type(self).__name__
            raise WrongScheduler(
                f"this {name} belongs to {bound!r} (the first scheduler that waited on it) and "
                f"was awaited from {current!r}; a primitive serves one event loop: create one "
                f"{name} per loop"
            )
        return current

    def _park(self, doorbell: "Doorbell", seen: "Any") -> "Waiter":
        waiter = doorbell.new_waiter()
        waiter.on_cancel = self._forget
        self._add_waiter(waiter, seen)
        return waiter

    def _add_waiter(self, waiter: "Waiter", seen: "Any") -> None:
        self._waiters[waiter] = seen
        doorbell = self._doorbell
        if doorbell is not None:
            doorbell.park(self)

    def _forget(self, waiter: "Waiter") -> None:
        waiters = self._waiters
        waiters.pop(waiter, None)
        if not waiters:
            self._unpark()

    def _unpark(self) -> None:
        doorbell = self._doorbell
        if doorbell is not None:
            doorbell.unpark(self)

    def _take_waiters(self, due: "Callable[[Any], bool] | None" = None) -> "list[Waiter]":
        """Take out the live waiters (all, or those whose `seen` makes `due` true); the others
        that are still live stay parked. Task context."""
        waiters = self._waiters
        self._waiters = keep = {}
        out = []
        for waiter, seen in waiters.items():
            if waiter.done:
                continue  # cancelled, or a wait_any woken by another source
            if due is None or due(seen):
                out.append(waiter)
            else:
                keep[waiter] = seen
        if not keep:
            self._unpark()
        return out

    def _service(self) -> None:
        raise NotImplementedError

    def _hook(self, waiter: "Waiter") -> None:
        """Register `waiter` as parked from now on (for `wait_any`, which polls after hooking
        every source). Task context."""
        raise NotImplementedError

    def _ready(self) -> bool:
        """For `wait_any`: is there something to take now? Task context."""
        raise NotImplementedError

    @property
    def waiting(self) -> int:
        """How many tasks are parked here now (a read: any context may look)."""
        return sum(1 for w in list(self._waiters) if not w.done)


class Flag(_Primitive):
    """A coalescing signal from any context to any number of waiting tasks.

    When it clears: a `set()` with tasks waiting wakes every one of them and leaves the flag
    clear (the waiters consumed it). A `set()` with nobody waiting leaves it set; the next
    `wait()` returns at once and clears it. `clear()` clears it explicitly. Sets that arrive
    before the waiters have run are merged into one wake (coalescing), never queued.

    Unlike MicroPython's `ThreadSafeFlag`, any number of tasks may wait: each one waiting
    when `set()` happens wakes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._value = False

    def set(self) -> None:
        """Any context. O(1), no lock, no allocation, at most one alert per service cycle."""
        self._value = True
        self._ring()

    def clear(self) -> None:
        self._value = False

    def is_set(self) -> bool:
        return self._value

    async def wait(self) -> None:
        """Wait until the flag is set; consume it."""
        if self._value and not self._waiters:  # taking a set flag needs no scheduler
            self._value = False
            return
        doorbell = self._bind()
        # Checked again after binding: a set in between did not see the doorbell. (Through
        # is_set(): the type checker would take the first check as still true.)
        if self.is_set() and not self._waiters:
            self._value = False
            return
        waiter = self._park(doorbell, None)
        if self._value:
            # Set with tasks already parked: that set's service is due and wakes us with them
            # (this ring only makes sure of it; `_queued` makes a second one free).
            self._ring()
        await waiter

    def _service(self) -> None:
        self._queued = False  # before reading the state (see the module docstring)
        if self._value and self._waiters:
            due = self._take_waiters()
            if due:
                # Cleared before the wakes: a set() landing after this store rings again; one
                # landing before it is merged into this wake.
                self._value = False
                for waiter in due:
                    waiter.wake(self)

    def _hook(self, waiter: "Waiter") -> None:
        self._add_waiter(waiter, None)

    def _ready(self) -> bool:
        if self._value:
            self._value = False
            return True
        return False


class _Latch(_Primitive):
    """What Event and Message share: latched until `clear()`, and the epoch of clears."""

    def __init__(self) -> None:
        super().__init__()
        self._value = False
        # Bumped by clear() when it clears a set latch: task context only, one writer.
        self._epoch = 0

    def clear(self) -> None:
        """Clear the latch. Task context (a waiter's park and a clear must not interleave)."""
        if self._value:
            self._epoch += 1  # before the store: a waiter that sees it clear sees the new epoch
            self._value = False

    def is_set(self) -> bool:
        return self._value

    def _due(self, epoch: int) -> bool:
        return epoch != self._epoch

    def _service(self) -> None:
        self._queued = False  # before reading the state (see the module docstring)
        if self._waiters:
            # Set now: every waiter parked while it was clear. Cleared again since: those
            # parked before that clear (the set came after them).
            due = self._take_waiters(None if self._value else self._due)
            for waiter in due:
                waiter.wake(self)

    def _hook(self, waiter: "Waiter") -> None:
        self._add_waiter(waiter, self._epoch)

    def _ready(self) -> bool:
        return self._value


class Event(_Latch):
    """A latched broadcast: `set()` from any context; stays set until `clear()`.

    `wait()` returns at once while the event is set; otherwise it returns after the next
    `set()` (even if the event was cleared again before the task ran).
    """

    def set(self) -> None:
        """Any context. O(1), no lock, no allocation."""
        self._value = True
        self._ring()

    async def wait(self) -> bool:
        if self._value:
            return True
        doorbell = self._bind()
        epoch = self._epoch
        if self.is_set():  # checked again after binding (see Flag.wait)
            return True
        await self._park(doorbell, epoch)
        return True


class Message(_Latch, Generic[T]):
    """An event that carries the latest value.

    `set(value)` from any context latches the value; `wait()` returns the current value at once
    while set, else the value of the next `set()` (the latest one when it runs). A value
    replaced before any task read it is counted in `overwrites`, never hidden.
    """

    def __init__(self) -> None:
        super().__init__()
        self._payload: Any = None
        self._ever = False  # a value was set
        self._sets = Tally()
        self._reads = 0  # distinct values read (task context)
        self._last_read = 0  # the set count when a value was last read

    def set(self, value: "T") -> None:
        """Any context. O(1), no lock, no allocation: the value is stored as it is."""
        self._payload = value
        self._ever = True
        self._sets.bump()
        self._value = True
        self._ring()

    def value(self) -> "T":
        """The latest value (task context). Raises LookupError if never set."""
        if not self._ever:
            raise LookupError("Message.value(): no value has been set yet")
        return self._read()

    def _read(self) -> "T":
        sets = self._sets.value  # before the payload: a set racing this read is not lost
        value: T = self._payload
        if sets != self._last_read:
            self._last_read = sets
            self._reads += 1
        return value

    @property
    def overwrites(self) -> int:
        """Values replaced before anyone read them: exact when no read races a set (a read
        racing a set may count the newer value as the one read)."""
        # Every value set is the current one, or was read, or was overwritten unread.
        sets = self._sets.value
        unread_current = 1 if sets and sets != self._last_read else 0
        return max(0, sets - self._reads - unread_current)

    async def wait(self) -> "T":
        if self._value:
            return self._read()
        doorbell = self._bind()
        epoch = self._epoch
        if self.is_set():  # checked again after binding (see Flag.wait)
            return self._read()
        await self._park(doorbell, epoch)
        return self._read()


class Queue(_Primitive, Generic[T]):
    """A bounded FIFO from any context into tasks.

    `put_nowait` and `offer` never block. When the queue is full the item is refused and the
    refusal counted in `overruns`: `put_nowait` raises `QueueFull`, `offer` returns False.
    Order is kept per producer. Conservation, at every quiet moment:
    items accepted = items taken + `len(queue)`, and attempts = accepted + `overruns`.

    `capacity` bounds the items waiting. On CPython every context shares those places. On
    MicroPython, whose threads run without a GIL, each producer context (each thread, and hard
    IRQs) has its own ring of `capacity` places (see `irqio.runtime.contexts`): an interrupt's
    places cannot be used up by a busy thread, and `len()` can reach `capacity` per context.
    """

    def __init__(self, capacity: int) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(
                f"Queue(capacity) needs a whole number of items >= 1, got {capacity!r}"
            )
        super().__init__()
        self.capacity = capacity
        self._items = ring(capacity)
        if MICROPYTHON:
            self._rings = self._items._rings  # type: ignore[union-attr]  # offer's hot path
        else:
            # CPython's hot path goes straight to the shared ring's deques (see offer, get).
            shared: SharedRing = self._items  # type: ignore[assignment]
            free = shared._free
            assert free is not None  # a Queue is bounded
            self._deque = shared.items
            self._free = free
            self._refused = shared._refused
        # True while a getter is parked (task context writes it). Read by the interrupt side
        # after publishing: a getter stores it, *then* looks at the items before parking.
        self._getters = False

    @property
    def overruns(self) -> int:
        """Items refused because the queue was full."""
        return self._items.refused

    if MICROPYTHON:
        # `ContextRing.put`'s context lookup, inlined: the producers' hot path. Kept to few
        # locals: see `_Cell.put` on frame size.

        def offer(self, item: "T") -> bool:
            """Put `item` if there is room; False (counted in `overruns`) if not. Any context."""
            _heap_lock()
            if _heap_unlock():  # `in_hard_irq()`: get_ident() may allocate in a hard IRQ
                state = irq_off()  # hard IRQs of different priorities nest: one writer
                room = self._rings.irq.put(item)
                irq_on(state)
            else:
                rings = self._rings
                state = thread_ident()
                if state == rings._owner:
                    room = rings.mine.put(item)
                else:
                    cell = rings._threads.get(state)
                    if cell is None:
                        cell = rings._add(state)
                    room = cell.put(item)
            if room and self._getters:  # after the item is in: publish, then ring
                self._ring()
            return room  # type: ignore[no-any-return]

    else:
        # The same steps as `ContextRing.put` and `SharedRing.put`, inlined for CPython: a
        # method call per item was a third of the cost of an offer.

        def offer(self, item: "T") -> bool:
            """Put `item` if there is room; False (counted in `overruns`) if not. Any context."""
            try:
                self._free.pop()  # claim a place: one C call, cannot be torn
            except IndexError:
                self._refused.bump()
                return False
            self._deque.append(item)
            if self._getters:  # after the item is in: publish, then ring
                self._ring()
            return True

    def put_nowait(self, item: "T") -> None:
        """Put `item`, or raise `QueueFull` (counted in `overruns`). Any context but a hard
        IRQ (raising allocates there: use `offer`)."""
        if not self.offer(item):
            raise _full(self)

    def producer(self) -> "Producer[T]":
        """A handle for the calling thread to put items with: `Producer.offer` is the fastest
        way in from a thread that produces many items (see `Producer`). Call it in the thread
        that will produce, not in a hard IRQ."""
        if in_hard_irq():
            raise RuntimeError(
                "Queue.producer() makes a handle for the calling thread; in a hard IRQ handler "
                "call queue.offer(item) instead"
            )
        return Producer(self)

    if MICROPYTHON:

        def get_nowait(self) -> "T":
            """Take the oldest item, or raise `QueueEmpty`. Task context (the consumer)."""
            item = self._items.poll()
            if item is EMPTY:
                raise QueueEmpty("Queue is empty")
            return item  # type: ignore[no-any-return]

        async def get(self) -> "T":
            """Take the oldest item, waiting for one if need be."""
            poll = self._items.poll
            item = poll()
            while item is EMPTY:  # no exception for an empty queue: raising allocates
                await self._until_items()
                item = poll()
            return item  # type: ignore[no-any-return]

    else:

        def get_nowait(self) -> "T":
            """Take the oldest item, or raise `QueueEmpty`. Task context (the consumer)."""
            try:
                item: T = self._deque.popleft()
            except IndexError:
                raise QueueEmpty("Queue is empty") from None
            self._free.append(None)  # after the item is gone: the bound never overshoots
            return item

        async def get(self) -> "T":
            """Take the oldest item, waiting for one if need be."""
            items = self._deque
            while not items:
                await self._until_items()
            item: T = items.popleft()
            self._free.append(None)
            return item

    async def get_batch(self, max_items: int) -> "list[T]":
        """Take up to `max_items` items (at least one), waiting for the first if need be."""
        if max_items < 1:
            raise ValueError(f"get_batch(max_items) needs max_items >= 1, got {max_items!r}")
        items = self._items
        while not len(items):
            await self._until_items()
        batch: list[T] = items.take_batch(min(max_items, len(items)))
        return batch

    def __len__(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not len(self._items)

    def full(self) -> bool:
        """Would an item offered now (from this context) be refused?"""
        return self._items.full()

    def __aiter__(self) -> "Queue[T]":
        return self

    async def __anext__(self) -> "T":
        return await self.get()

    async def _until_items(self) -> None:
        doorbell = self._bind()
        self._getters = True  # before looking at the items (see the class docstring)
        if len(self._items):
            if not self._waiters:
                self._getters = False
            return
        await self._park(doorbell, None)

    def _hook(self, waiter: "Waiter") -> None:
        self._getters = True  # before the caller looks at the items (see the class docstring)
        self._add_waiter(waiter, None)

    def _forget(self, waiter: "Waiter") -> None:
        super()._forget(waiter)
        if not self._waiters:
            self._getters = False

    def _service(self) -> None:
        self._queued = False
        waiters = self._waiters
        items = self._items
        # Wake getters in arrival order while there are items; a woken getter that finds the
        # queue emptied by another simply parks again.
        while waiters and len(items):
            waiter = next(iter(waiters))
            del waiters[waiter]
            if not waiter.done:
                waiter.wake(self)
        if not waiters:
            self._getters = False
            self._unpark()

    def _ready(self) -> bool:
        return bool(len(self._items))


def _full(queue: "Queue[Any]") -> QueueFull:
    return QueueFull(
        f"Queue is full ({queue.capacity} items); the item was refused and counted in "
        "overruns: consume faster, make the queue larger, or use offer() in handlers"
    )


class Producer(Generic[T]):
    """One thread's way into a `Queue` (`Queue.producer()`), for a thread that produces many
    items: the producer half of a single-producer ring, as in heapless's `Queue::split()`.

    `offer` and `put_nowait` mean what `Queue`'s do. On MicroPython the handle holds the ring
    of the thread that made it, so an item costs none of the work `Queue.offer` does to find
    the calling context's ring (about half of it on the unix port). The rule that buys that:
    use a handle only in the thread that made it (its tasks, and that thread's soft IRQs), never
    in a hard IRQ or another thread, where `Queue.offer` is the way in. On CPython, where every
    context shares one ring, `offer` is `Queue.offer`.
    """

    def __init__(self, queue: "Queue[T]") -> None:
        self._queue = queue
        if MICROPYTHON:
            self._cell = queue._rings.thread_cell()
        else:  # the queue's own bound method: no call added on CPython
            self.offer = queue.offer  # type: ignore[method-assign]

    if MICROPYTHON:

        def offer(self, item: "T") -> bool:
            """Put `item` if there is room; False (counted in `overruns`) if not."""
            # `_Cell.put`, inlined (one Python call per item, not two); straight-line from
            # the read of `tail` to its store, for the soft-IRQ argument given there.
            cell = self._cell
            tail = cell.tail
            cell.buf[tail] = item
            size = cell.size
            room = (tail + 1) % size != cell.taken.head
            cell.tail = (tail + room) % size
            if not room:
                cell.refused += 1
                return False
            queue = self._queue
            if queue._getters:  # after the item is in: publish, then ring
                queue._ring()
            return True

    else:

        def offer(self, item: "T") -> bool:
            """Put `item` if there is room; False (counted in `overruns`) if not."""
            return self._queue.offer(item)  # replaced per instance by the queue's own offer

    def put_nowait(self, item: "T") -> None:
        """Put `item`, or raise `QueueFull` (counted in `overruns`)."""
        if not self.offer(item):
            raise _full(self._queue)

    def __repr__(self) -> str:
        return f"<Producer for {self._queue!r}>"


_MARK = b"\x01"


class Slots(_Primitive):
    """A fixed set of callback slots with a pending mark each (the proposal in #5795).

    `register(callback)` returns a slot number; `signal(slot)` from any context marks it
    pending; the callback then runs in task context at least once after each `signal`, and
    never concurrently with itself (all callbacks run one after another in the service, in slot
    order).
    """

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"Slots(n) needs a whole number of slots >= 1, got {n!r}")
        super().__init__()
        self.size = n
        self._callbacks: list[Callable[[], object] | None] = [None] * n
        # The bitmap: one byte per slot, set by a single store from any context, cleared by the
        # service; found with bytearray.find, a C loop.
        self._pending = bytearray(n)
        self._registered = 0  # task context

    def register(self, callback: "Callable[[], object]") -> int:
        """Put `callback` in a free slot and return its number. Task context."""
        if not callable(callback):
            raise TypeError(f"Slots.register() needs a callable, got {callback!r}")
        doorbell = self._bind()
        for slot, held in enumerate(self._callbacks):
            if held is None:
                self._pending[slot] = 0
                self._callbacks[slot] = callback
                self._registered += 1
                doorbell.park(self)  # serviced by the overflow scan like a parked waiter
                return slot
        raise RuntimeError(
            f"all {self.size} slots are in use: unregister() one first, or create Slots with "
            "more slots"
        )

    def unregister(self, slot: int) -> None:
        """Free `slot`; a pending signal to it is dropped with it. Task context."""
        self._check(slot)
        if self._callbacks[slot] is not None:
            self._callbacks[slot] = None
            self._registered -= 1
            if not self._registered:
                self._unpark()
        self._pending[slot] = 0

    def signal(self, slot: int) -> None:
        """Mark `slot` pending. Any context; O(1), no lock, no allocation."""
        if not 0 <= slot < self.size:
            self._check(slot)
        self._pending[slot] = 1  # publish, then ring
        self._ring()

    def _check(self, slot: int) -> None:
        if not isinstance(slot, int) or not 0 <= slot < self.size:
            raise ValueError(f"slot {slot!r} is not one of this Slots' 0..{self.size - 1}")

    def _service(self) -> None:
        self._queued = False
        pending = self._pending
        callbacks = self._callbacks
        slot = pending.find(_MARK)
        while slot >= 0:
            pending[slot] = 0  # before the call: a signal during it runs it again
            callback = callbacks[slot]
            if callback is not None:
                try:
                    callback()
                except Exception as exc:
                    doorbell = self._doorbell
                    assert doorbell is not None
                    doorbell.report(f"Slots callback in slot {slot} ({callback!r}) raised", exc)
            slot = pending.find(_MARK, slot + 1)

    def _ready(self) -> bool:
        raise TypeError("Slots run callbacks; they cannot be waited on with wait_any")
