"""The doorbell: the one path from interrupt context into a scheduler's task context.

Every primitive hands work to task context the same way: publish its state, then `ring()` the
doorbell with itself. The doorbell queues it on `pending` (a ring whose append cannot be torn:
one shared deque on CPython, one ring per producer context on MicroPython, see
`irqio.runtime.rings`) and, unless an alert is already due, alerts the scheduler through its
port (a write to an fd the loop watches, a flag the kernel's idle step reads). The scheduler
then calls `service()` in task context, the only place futures, task queues and waiter lists
are touched.

Why no ring is ever lost (the checker tests this, see tests/check):

* `ring()` appends the item, *then* reads `_due`.
* `service()` stores `_due = False`, *then* reads `pending`.

Take any `ring()`. If it reads `_due is False`, it alerts the scheduler itself. If it reads
`_due is True`, an alert was made and `service()` has not yet cleared `_due`; that service clears
it after our append, so it reads `pending` after our append and finds the item. Either way the
item is serviced. The GIL (or, on MicroPython, the atomicity of a single store) orders the two
steps of each side; both sides only store and read, so a re-entrant ring from a signal handler
that preempts either side is one more instance of the same argument.

Why a ring is O(1) and re-entrant: one append, one read, one store and at most one `_alert()`.
No lock is taken anywhere on the interrupt side: a lock taken in a signal handler that preempted
its own holder would hang the thread.

Coalescing: while `_due` is True no further `_alert()` happens, so a storm of rings costs one
alert (one syscall on the asyncio port) per service cycle. Two rings racing past the check both
alert; that is a spare alert, never a lost one.

Why no primitive goes deaf when a bounded ring is full (MicroPython: more primitives rung from
one context than its ring holds before a service): `ring()` then stores `_overflow = True`
*before* its alert, and `service()` services every primitive in `parked` (those with a task
parked on them, kept in task context by `park`/`unpark`). A primitive with nobody parked has
nobody to wake: its state stays published for the next `wait()`. The primitive's own
`_queued` mark is given back when its ring fails (see `_Primitive._ring`), so its next ring is
queued again.
"""

from irqio._compat import TYPE_CHECKING
from irqio.runtime.rings import EMPTY
from irqio.runtime.rings import ring as _ring

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from typing import Any, Protocol

    # Protocols exist for the type checker only: MicroPython has no typing module.
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

        on_cancel: "Callable[[Waiter], None] | None"

        def wake(self, value: Any) -> None:
            """Resume the task with `value`; a second wake is ignored (first one wins)."""

        def __await__(self) -> Generator[Any, None, Any]: ...

else:
    # Run-time names, so `from irqio.runtime.doorbell import Waiter` works everywhere.
    Serviced = Waiter = object


class Doorbell:
    """A scheduler's wake path. One per scheduler (per asyncio loop, per kernel)."""

    def __init__(self) -> None:
        # Items waiting for `service()`. Appended from any context, drained in task context.
        self.pending = _ring(None)
        # True from the ring that made an alert until `service()` starts.
        self._due = False
        # True when a ring found its ring full (MicroPython only; see the module docstring).
        self._overflow = False
        # Primitives with a task parked on them (task context only): the overflow scan.
        self.parked: dict[Serviced, None] = {}

    def ring(self, item: "Serviced") -> bool:
        """Queue `item` for service and alert the scheduler if no alert is due. Any context.
        False when `item` could not be queued (a full ring): the service scans `parked`."""
        queued = self.pending.put(item)  # publish first
        if not queued:
            self._overflow = True  # before the alert (and its `_due` check), like the item
        if not self._due:
            self._due = True
            self._alert()
        return queued

    def service(self) -> None:
        """Service what was rung. Task context only; the port calls it when alerted."""
        self._due = False  # before reading `pending`: a ring() after this line alerts again
        # Only what is there now: items added meanwhile alerted again (they saw `_due` False),
        # and a storm of rings cannot keep this loop from returning. A count and `poll()`, not
        # a generator: the service allocates nothing of its own on MicroPython.
        pending = self.pending
        poll = pending.poll
        n = len(pending)
        done = False
        try:
            while n:
                n -= 1
                item = poll()
                if item is EMPTY:
                    break
                item._service()
            if self._overflow:
                self._overflow = False  # before the scan, as `_due` before the drain
                for item in list(self.parked):
                    item._service()
            done = True
        finally:
            if not done and not self._due:  # an item raised: the rest must not wait
                self._due = True
                self._alert()

    def park(self, item: "Serviced") -> None:
        """`item` has a task parked on it now. Task context."""
        self.parked[item] = None

    def unpark(self, item: "Serviced") -> None:
        """`item` has no task parked on it any more. Task context."""
        self.parked.pop(item, None)

    # -- per port ---------------------------------------------------------------------------

    def _alert(self) -> None:
        """Make the scheduler call `service()` soon. Interrupt-safe, O(1), never blocks."""
        raise NotImplementedError

    def new_waiter(self) -> "Waiter":
        """A waiter for the current task. Task context only."""
        raise NotImplementedError

    def call_later(self, delay: float, callback: "Callable[[], None]") -> "Callable[[], None]":
        """Run `callback` in task context after `delay` seconds; returns a cancel function."""
        raise NotImplementedError

    def report(self, message: str, exc: BaseException) -> None:
        """Report an error raised by user code run during service (a `Slots` callback)."""
        import sys

        print("irqio: " + message + ": " + repr(exc), file=sys.stderr)
