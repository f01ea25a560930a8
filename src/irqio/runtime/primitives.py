"""Interrupt → task primitives: Flag, Event, Message, Queue, Slots.

Two sides, two rules (docs/runtime.md):

* The interrupt side (`set`, `put_nowait`, `offer`, `signal`) may run in any context: a task,
  another thread, a signal handler, an irqio handler, nested inside itself. It only stores
  immutable values in attributes, appends to / pops from a `collections.deque`, bumps a
  `Tally` and rings the doorbell. It never touches a waiter, a future or a task queue, never
  takes a lock, never blocks, and does O(1) work.
* The task side (`wait`, `get`, `_service`) runs in task context on the primitive's scheduler,
  where waiters live.

A primitive binds to the scheduler of the first task that waits on it (or registers with it,
for `Slots`). Before that, the interrupt side only publishes state: with nobody waiting there
is nobody to wake.

The hand-over, the same for every primitive: the interrupt side publishes, *then* reads
`_queued`; `_service` stores `_queued = False`, *then* reads the state. So a set either queues
the primitive itself or is seen by the service that clears `_queued` after it (the argument of
`irqio.runtime.doorbell`, one level up). A waiter binds, takes its token, *then* checks the
state; the setter publishes the state, *then* reads `_doorbell`: either the waiter sees the
state, or the setter sees the doorbell and the service finds the waiter.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from irqio._compat import unbounded_deque
from irqio.runtime import ports
from irqio.runtime.counters import Tally
from irqio.runtime.errors import QueueEmpty, QueueFull, WrongScheduler

if TYPE_CHECKING:
    from collections.abc import Callable

    from irqio.runtime.doorbell import Doorbell, Waiter

T = TypeVar("T")

if not TYPE_CHECKING and not isinstance(Generic, type):
    # MicroPython's typing stub has no generic classes: `Generic[T]` must still be a base.
    class _Unsubscripted:
        def __getitem__(self, item: object) -> type:
            return object

    Generic = _Unsubscripted()

# A token that no set() has stored: the state before the first set.
_NEVER = ("never set",)


class _Primitive:
    """What every primitive shares: its scheduler, its place on the doorbell, its waiters."""

    def __init__(self) -> None:
        self._doorbell: Doorbell | None = None
        # True from the interrupt side queueing this primitive until `_service` begins.
        self._queued = False
        # waiter -> the token it saw when it parked (task context only)
        self._waiters: dict[Waiter, object] = {}

    # -- interrupt side ---------------------------------------------------------------------

    def _ring(self) -> None:
        """Queue this primitive for service. Call only after publishing the new state."""
        doorbell = self._doorbell
        if doorbell is not None and not self._queued:
            self._queued = True
            doorbell.ring(self)

    # -- task side --------------------------------------------------------------------------

    def _bind(self) -> Doorbell:
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

    def _park(self, doorbell: Doorbell, token: object) -> Waiter:
        waiter = doorbell.new_waiter()
        waiter.on_cancel = self._forget
        self._waiters[waiter] = token
        return waiter

    def _forget(self, waiter: Waiter) -> None:
        self._waiters.pop(waiter, None)

    def _parked_before(self, token: object) -> list[Waiter]:
        """Take out the live waiters that parked before the set that stored `token`; those that
        parked after it (they saw `token`) stay. Task context."""
        waiters = self._waiters
        self._waiters = keep = {}
        due = []
        for waiter, seen in waiters.items():
            if waiter.done:
                continue  # cancelled, or a wait_any woken by another source
            if seen is token:
                keep[waiter] = seen  # parked after the latest set: not its turn
            else:
                due.append(waiter)
        return due

    def _service(self) -> None:
        raise NotImplementedError

    def _hook(self, waiter: Waiter) -> None:
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


class _Settable(_Primitive):
    """State shared by Flag and Event: a value and the token of the latest set()."""

    def __init__(self) -> None:
        super().__init__()
        self._value = False
        self._token: object = _NEVER

    def set(self) -> None:
        """Any context. O(1), no lock, at most one wake syscall per service cycle."""
        self._value = True
        self._token = object()  # a fresh token: waiters parked before it see it changed
        self._ring()

    def clear(self) -> None:
        self._value = False

    def is_set(self) -> bool:
        return self._value

    def _hook(self, waiter: Waiter) -> None:
        self._waiters[waiter] = self._token


class Flag(_Settable):
    """A coalescing signal from any context to any number of waiting tasks.

    When it clears: a `set()` with tasks waiting wakes every one of them and leaves the flag
    clear (the waiters consumed it). A `set()` with nobody waiting leaves it set; the next
    `wait()` returns at once and clears it. `clear()` clears it explicitly. Sets that arrive
    before the waiters have run are merged into one wake (coalescing), never queued.

    Unlike MicroPython's `ThreadSafeFlag`, any number of tasks may wait: each one waiting
    when `set()` happens wakes.
    """

    async def wait(self) -> None:
        """Wait until the flag is set; consume it."""
        if self._value:  # taking a set flag needs no scheduler
            self._value = False
            return
        doorbell = self._bind()
        token = self._token
        # Checked again after binding: a set in between may not have seen us. (Through
        # is_set(): the type checker would take the first check as still true.)
        if self.is_set():
            self._value = False
            return
        await self._park(doorbell, token)

    def _service(self) -> None:
        self._queued = False
        if not self._waiters:
            return  # stays set for the next wait()
        due = self._parked_before(self._token)
        if due:
            # Cleared after reading the token: a set() landing in between is merged into this
            # wake (its waiters are all woken here), and queued the flag again anyway.
            self._value = False
            for waiter in due:
                waiter.wake(self)

    def _ready(self) -> bool:
        if self._value:
            self._value = False
            return True
        return False


class Event(_Settable):
    """A latched broadcast: `set()` from any context; stays set until `clear()`.

    `wait()` returns at once while the event is set; otherwise it returns after the next
    `set()` (even if the event was cleared again before the task ran).
    """

    async def wait(self) -> bool:
        if self._value:
            return True
        doorbell = self._bind()
        token = self._token
        if self.is_set():  # checked again after binding (see Flag.wait)
            return True
        await self._park(doorbell, token)
        return True

    def _service(self) -> None:
        self._queued = False
        if self._waiters:
            for waiter in self._parked_before(self._token):
                waiter.wake(self)

    def _ready(self) -> bool:
        return self._value


class Message(_Primitive, Generic[T]):
    """An event that carries the latest value.

    `set(value)` from any context latches the value; `wait()` returns the current value at once
    while set, else the value of the next `set()`. A value replaced before any task read it is
    counted in `overwrites`, never hidden.
    """

    def __init__(self) -> None:
        super().__init__()
        # (value, serial): stored as one immutable tuple, so value and serial never tear.
        self._cell: tuple[Any, int] = (None, 0)
        self._serials = Tally()
        self._value = False
        self._reads = 0  # distinct values read (task context)
        self._last_read = 0  # serial of the last value read

    def set(self, value: T) -> None:
        """Any context. O(1), no lock."""
        self._cell = (value, self._serials.bump())
        self._value = True
        self._ring()

    def clear(self) -> None:
        self._value = False

    def is_set(self) -> bool:
        return self._value

    def value(self) -> T:
        """The latest value (task context). Raises LookupError if never set."""
        value, serial = self._cell
        if serial == 0:
            raise LookupError("Message.value(): no value has been set yet")
        self._mark_read(serial)
        return value  # type: ignore[no-any-return]

    @property
    def overwrites(self) -> int:
        """Values replaced before anyone read them (exact once the setters are quiet)."""
        # Every value set is the current one, or was read, or was overwritten unread.
        serial = self._cell[1]
        unread_current = 1 if serial and serial != self._last_read else 0
        return max(0, self._serials.value - self._reads - unread_current)

    async def wait(self) -> T:
        if self._value:
            cell = self._cell
            self._mark_read(cell[1])
            return cell[0]  # type: ignore[no-any-return]
        doorbell = self._bind()
        cell = self._cell
        if self.is_set():  # checked again after binding (see Flag.wait)
            cell = self._cell  # the set that made it true may have landed after the read above
            self._mark_read(cell[1])
            return cell[0]  # type: ignore[no-any-return]
        await self._park(doorbell, cell)
        return self.value()

    def _hook(self, waiter: Waiter) -> None:
        self._waiters[waiter] = self._cell  # each set stores a new cell: the cell is the token

    def _mark_read(self, serial: int) -> None:
        if serial != self._last_read:
            self._last_read = serial
            self._reads += 1

    def _service(self) -> None:
        self._queued = False
        if self._waiters:
            for waiter in self._parked_before(self._cell):  # each set stores a new cell
                waiter.wake(self)

    def _ready(self) -> bool:
        return self._value


class Queue(_Primitive, Generic[T]):
    """A bounded FIFO from any context into tasks.

    `put_nowait` and `offer` never block. When the queue is full the item is refused and the
    refusal counted in `overruns`: `put_nowait` raises `QueueFull`, `offer` returns False.
    Order is kept per producer. Conservation, at every quiet moment:
    items accepted = items taken + `len(queue)`, and attempts = accepted + `overruns`.
    """

    def __init__(self, capacity: int) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(
                f"Queue(capacity) needs a whole number of items >= 1, got {capacity!r}"
            )
        super().__init__()
        self.capacity = capacity
        # positional maxlen: MicroPython takes no keywords here; the tokens keep it in bounds
        self._items: deque[T] = deque((), capacity)  # noqa: RUF037
        # One token per free place. A producer takes a token (deque.pop, one C call) before it
        # appends: the check and the claim cannot be torn, so the bound is exact whatever
        # preempts whom.
        self._free: deque[None] = deque([None] * capacity, capacity)
        self._overruns = Tally()
        # True while a getter is parked (task context writes it). Read by the interrupt side
        # after publishing: a getter stores it, *then* looks at the items before parking.
        self._getters = False

    @property
    def overruns(self) -> int:
        """Items refused because the queue was full."""
        return self._overruns.value

    def offer(self, item: T) -> bool:
        """Put `item` if there is room; False (counted in `overruns`) if not. Any context."""
        try:
            self._free.pop()
        except IndexError:
            self._overruns.bump()
            return False
        self._items.append(item)  # publish, then signal
        if self._getters:
            self._ring()
        return True

    def put_nowait(self, item: T) -> None:
        """Put `item`, or raise `QueueFull` (counted in `overruns`). Any context."""
        if not self.offer(item):
            raise QueueFull(
                f"Queue is full ({self.capacity} items); the item was refused and counted in "
                "overruns: consume faster, make the queue larger, or use offer() in handlers"
            )

    def get_nowait(self) -> T:
        """Take the oldest item, or raise `QueueEmpty`. Task context (single consumer side)."""
        try:
            item = self._items.popleft()
        except IndexError:
            raise QueueEmpty("Queue is empty") from None
        self._free.append(None)  # after the item is gone: the bound never overshoots
        return item

    async def get(self) -> T:
        """Take the oldest item, waiting for one if need be."""
        items = self._items
        while not items:
            await self._until_items()
        item = items.popleft()
        self._free.append(None)
        return item

    async def get_batch(self, max_items: int) -> list[T]:
        """Take up to `max_items` items (at least one), waiting for the first if need be."""
        if max_items < 1:
            raise ValueError(f"get_batch(max_items) needs max_items >= 1, got {max_items!r}")
        items = self._items
        while not items:
            await self._until_items()
        n = min(max_items, len(items))
        popleft = items.popleft
        batch = [popleft() for _ in range(n)]
        self._free.extend([None] * n)
        return batch

    def __len__(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return not self._free

    def __aiter__(self) -> Queue[T]:
        return self

    async def __anext__(self) -> T:
        return await self.get()

    async def _until_items(self) -> None:
        doorbell = self._bind()
        self._getters = True  # before looking at the items (see the class docstring)
        if self._items:
            if not self._waiters:
                self._getters = False
            return
        await self._park(doorbell, None)

    def _hook(self, waiter: Waiter) -> None:
        self._getters = True  # before the caller looks at the items (see the class docstring)
        self._waiters[waiter] = None

    def _forget(self, waiter: Waiter) -> None:
        super()._forget(waiter)
        if not self._waiters:
            self._getters = False

    def _service(self) -> None:
        self._queued = False
        waiters = self._waiters
        items = self._items
        # Wake getters in arrival order while there are items; a woken getter that finds the
        # queue emptied by another simply parks again.
        while waiters and items:
            waiter = next(iter(waiters))
            del waiters[waiter]
            if not waiter.done:
                waiter.wake(self)
        if not waiters:
            self._getters = False

    def _ready(self) -> bool:
        return bool(self._items)


class Slots(_Primitive):
    """A fixed set of callback slots with a pending mark each (the proposal in #5795).

    `register(callback)` returns a slot number; `signal(slot)` from any context marks it
    pending; the callback then runs in task context at least once after each `signal`, and
    never concurrently with itself (all callbacks run one after another in the service).
    """

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"Slots(n) needs a whole number of slots >= 1, got {n!r}")
        super().__init__()
        self.size = n
        self._callbacks: list[Callable[[], object] | None] = [None] * n
        self._pending = [False] * n  # the bitmap: one mark per slot, set by a single store
        self._order: deque[int] = (
            unbounded_deque()
        )  # pending slots in signal order, for O(1) service

    def register(self, callback: Callable[[], object]) -> int:
        """Put `callback` in a free slot and return its number. Task context."""
        if not callable(callback):
            raise TypeError(f"Slots.register() needs a callable, got {callback!r}")
        self._bind()
        for slot, held in enumerate(self._callbacks):
            if held is None:
                self._pending[slot] = False
                self._callbacks[slot] = callback
                return slot
        raise RuntimeError(
            f"all {self.size} slots are in use: unregister() one first, or create Slots with "
            "more slots"
        )

    def unregister(self, slot: int) -> None:
        """Free `slot`; a pending signal to it is dropped with it. Task context."""
        self._check(slot)
        self._callbacks[slot] = None
        self._pending[slot] = False

    def signal(self, slot: int) -> None:
        """Mark `slot` pending. Any context; O(1), no lock."""
        if not 0 <= slot < self.size:
            self._check(slot)
        if self._pending[slot]:
            return  # already pending; its service clears the mark before the callback runs
        self._pending[slot] = True
        self._order.append(slot)  # publish, then signal
        self._ring()

    def _check(self, slot: int) -> None:
        if not isinstance(slot, int) or not 0 <= slot < self.size:
            raise ValueError(f"slot {slot!r} is not one of this Slots' 0..{self.size - 1}")

    def _service(self) -> None:
        self._queued = False
        order = self._order
        pending = self._pending
        callbacks = self._callbacks
        for _ in range(len(order)):
            slot = order.popleft()
            if not pending[slot]:
                continue  # a duplicate entry from two racing signals, already run
            pending[slot] = False  # before the call: a signal during it runs it again
            callback = callbacks[slot]
            if callback is None:
                continue
            try:
                callback()
            except Exception as exc:
                doorbell = self._doorbell
                assert doorbell is not None
                doorbell.report(f"Slots callback in slot {slot} ({callback!r}) raised", exc)

    def _ready(self) -> bool:
        raise TypeError("Slots run callbacks; they cannot be waited on with wait_any")
