"""The doorbell: the one path from interrupt context into a scheduler's task context.

Every primitive hands work to task context the same way: publish its state, put itself on
`Doorbell.pending` (a `collections.deque`, whose `append` cannot be torn) and ring. The port
turns a ring into one wake of the scheduler (a write to an fd the loop's selector watches, a
flag the kernel's idle step reads); the scheduler then calls `service()` in task context, which
is the only place futures, task queues and waiter lists are touched.

Why no wake is ever lost (the checker tests this, see tests/check):

* `schedule()` appends the item, *then* reads `_due`.
* `service()` stores `_due = False`, *then* reads `pending`.

Take any `schedule()`. If it reads `_due is False`, it rings itself. If it reads `_due is True`,
a wake was requested and `service()` has not yet cleared `_due`; that service clears it after
our append, so it reads `pending` after our append and finds the item. Either way the item is
serviced. The GIL (or, on MicroPython, the atomicity of a single store) orders the two steps of
each side; both sides only store and read, so a re-entrant ring from a signal handler that
preempts either side is one more instance of the same argument.

Why the ring is O(1) and re-entrant: it is one append, one read, one store and at most one
`_wake()`. No lock is taken anywhere on the interrupt side: a lock taken in a signal handler that
preempted its own holder would hang the thread.

Coalescing: while `_due` is True no further `_wake()` happens, so a storm of sets costs one wake
(one syscall on the asyncio port) per service cycle. Two rings racing past the check both wake;
that is a spare wake, never a lost one.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any  # on MicroPython: micropython-lib's typing stub

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from typing import Protocol

    # Protocols exist for the type checker only: MicroPython's typing stub has no classes.
    class Serviced(Protocol):
        """Something a doorbell services in task context (every primitive is one)."""

        def _service(self) -> None: ...

    class Waiter(Protocol):
        """One parked task, as a port represents it. Touched in task context only.

        A primitive parks a task with::

            waiter = doorbell.new_waiter()
            waiter.on_cancel = self._forget      # the port calls it if the task is cancelled first
            self._waiters[waiter] = ...
            value = await waiter                 # resumes with the value given to wake()
        """

        @property
        def done(self) -> bool:
            """True once woken or cancelled."""

        on_cancel: Callable[[Waiter], None] | None

        def wake(self, value: Any) -> None:
            """Resume the task with `value`; a second wake is ignored (first one wins)."""

        def __await__(self) -> Generator[Any, None, Any]: ...

else:
    # Run-time names, so `from irqio.doorbell import Waiter` works everywhere.
    Serviced = Waiter = object


def fifo() -> deque[Any]:
    """An unbounded FIFO deque; MicroPython's deque needs a bound, and raises when it is hit."""
    try:
        return deque()
    except TypeError:  # MicroPython: fixed size, flag 1 = raise IndexError instead of dropping
        return deque((), FIFO_BOUND_MICROPYTHON, 1)  # type: ignore[call-overload,no-any-return]


# On MicroPython a pending deque holds each primitive at most once (plus racing duplicates).
FIFO_BOUND_MICROPYTHON = 256


class Doorbell:
    """A scheduler's wake path. One per scheduler (per asyncio loop, per kernel)."""

    def __init__(self) -> None:
        # Items waiting for `service()`. Appended from any context, drained in task context.
        self.pending: deque[Serviced] = fifo()
        # True from the ring that requested a wake until `service()` starts.
        self._due = False

    def schedule(self, item: Serviced) -> None:
        """Queue `item` for service and wake the scheduler if no wake is due. Any context."""
        self.pending.append(item)  # publish first
        if not self._due:
            self._due = True
            self._wake()

    def service(self) -> None:
        """Service what was scheduled. Task context only; the port calls it when woken."""
        self._due = False  # before reading `pending`: a schedule() after this line rings again
        pending = self.pending
        # Only what is there now: items added meanwhile rang again (they saw `_due` False), and
        # a storm of rings cannot keep this loop from returning.
        n = len(pending)
        try:
            while n:
                n -= 1
                pending.popleft()._service()
        finally:
            if n and not self._due:  # an item raised: the rest must not wait for the next ring
                self._due = True
                self._wake()

    # -- per port ---------------------------------------------------------------------------

    def _wake(self) -> None:
        """Make the scheduler call `service()` soon. Interrupt-safe, O(1), never blocks."""
        raise NotImplementedError

    def new_waiter(self) -> Waiter:
        """A waiter for the current task. Task context only."""
        raise NotImplementedError

    def call_later(self, delay: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` in task context after `delay` seconds; returns a cancel function."""
        raise NotImplementedError

    def report(self, message: str, exc: BaseException) -> None:
        """Report an error raised by user code run during service (a `Slots` callback)."""
        import sys

        print("irqio: " + message + ": " + repr(exc), file=sys.stderr)


# -- which doorbell belongs to the running scheduler -----------------------------------------

_finders: list[Callable[[], Doorbell | None]] = []


def add_finder(finder: Callable[[], Doorbell | None]) -> None:
    """Let a port say which doorbell serves the calling task (None: not one of mine)."""
    if finder not in _finders:
        _finders.insert(0, finder)


def current() -> Doorbell:
    """The doorbell of the scheduler running the calling task. Task context only."""
    for find in _finders:
        found = find()
        if found is not None:
            return found
    global _default_finder
    if _default_finder is None:
        # Imported on first use: MicroPython has no asyncio port of this kind.
        from irqio.ports.asyncio import running_doorbell

        _default_finder = running_doorbell
    return _default_finder()


_default_finder: Callable[[], Doorbell] | None = None
