"""`Lock`: mutual exclusion between kernel tasks, as MicroPython's asyncio documents it.

`acquire()` waits until the lock is free and takes it; waiters are served in the order they
came. `release()` hands the lock straight to the next waiter (it stays locked) or frees it.
`async with lock:` does both. Task context only: for interrupt context use the primitives
(`Flag`, `Event`, `Queue`), which never lock.

A waiter cancelled after the lock was handed to it, but before it ran, passes it on: the lock
is never left held by a task that did not get it.
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel.core import running
from irqio.kernel.heap import TaskQueue
from irqio.kernel.task import CancelledError

if TYPE_CHECKING:
    from typing import Any

_FREE = 0
_HELD = 1


class Lock:
    """A FIFO lock for kernel tasks."""

    def __init__(self) -> None:
        # _FREE, _HELD, or the waiting task it was handed to and that has not run yet
        self.state: Any = _FREE
        self.waiting = TaskQueue()  # equal keys: served in the order they came

    def locked(self) -> bool:
        return self.state is not _FREE

    def release(self) -> None:
        """Free the lock, or hand it to the next waiter. Task context."""
        if self.state is _FREE:
            raise RuntimeError("Lock.release(): the lock is not acquired")
        waiting = self.waiting
        if waiting.peek() is not None:
            task = waiting.pop()
            self.state = task  # handed over: it owns the lock once it runs
            task.kernel.ready(task)
        else:
            self.state = _FREE

    async def acquire(self) -> bool:
        """Wait for the lock and take it. A coroutine."""
        if self.state is _FREE:  # free means nobody waits (release() hands it over)
            self.state = _HELD
            return True
        kernel = running()
        me = kernel.cur_task
        assert me is not None
        self.waiting.push(me, 0)
        me.parked_in = self.waiting
        try:
            await kernel.park()
        except CancelledError:
            if self.state is me:  # handed to us before the cancel: pass it on
                self.state = _HELD
                self.release()
            raise
        self.state = _HELD
        return True

    async def __aenter__(self) -> "Lock":
        await self.acquire()
        return self

    async def __aexit__(self, *exc: "Any") -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<Lock {'locked' if self.locked() else 'unlocked'}>"
