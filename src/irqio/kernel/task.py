"""A kernel task: a coroutine, its place in a task queue, and its outcome.

A task is its own heap node (`ph_*` fields), like MicroPython's `Task`, so moving it between
queues allocates nothing. `parked_in` names what holds the task while it is not running: the
kernel's task queue (ready or sleeping), another `TaskQueue` (a naive `Event`, a task being
awaited), or a port's waiter. Cancellation asks that holder to let go.
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel.heap import TaskQueue

if TYPE_CHECKING:
    from collections.abc import Coroutine, Generator
    from typing import Any, Protocol

    from irqio.kernel.core import Kernel

    class Holder(Protocol):
        """What can hold a parked task: a `TaskQueue` or a port's waiter."""

        def remove(self, task: "Task") -> bool: ...


class CancelledError(BaseException):
    """Thrown into a kernel task that was cancelled (a BaseException, as in asyncio)."""


class Task:
    """A coroutine scheduled by a `Kernel`. Await it to get its result."""

    def __init__(self, coro: "Coroutine[Any, Any, Any]", kernel: "Kernel", name: str = "") -> None:
        self.coro = coro
        self.kernel = kernel
        self.name = name or getattr(coro, "__name__", "task")
        # Pairing-heap node fields (see heap.py).
        self.ph_key = 0.0
        self.ph_seq = 0
        self.ph_child: Task | None = None
        self.ph_next: Task | None = None
        self.parked_in: Holder | None = None
        self.send_value: Any = None  # given to the coroutine at its next step
        self.throw: BaseException | None = None  # or thrown into it
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.awaited_by = TaskQueue()  # tasks waiting for this one to finish

    def done(self) -> bool:
        return self.finished

    def result(self) -> "Any":
        if not self.finished:
            raise RuntimeError(f"task {self.name!r} has not finished")
        if self.error is not None:
            raise self.error
        return self.value

    def cancel(self) -> bool:
        """Make the task raise `CancelledError` at its next step. Task context only."""
        if self.finished:
            return False
        kernel = self.kernel
        if kernel.cur_task is self:
            raise RuntimeError("a task cannot cancel itself")
        holder = self.parked_in
        if holder is not None:
            holder.remove(self)  # a port waiter calls its on_cancel hook here
            self.parked_in = None
        self.throw = CancelledError()
        kernel.ready(self)
        return True

    def _finish(self, value: "Any", error: BaseException | None) -> None:
        self.finished = True
        self.value = value
        self.error = error
        waiting = self.awaited_by
        while waiting.peek() is not None:
            self.kernel.ready(waiting.pop())

    def __await__(self) -> "Generator[Any, None, Any]":
        if not self.finished:
            me = self.kernel.cur_task
            assert me is not None, "await a task from inside another kernel task"
            self.awaited_by.push(me, self.kernel.clock.now())
            me.parked_in = self.awaited_by
            yield None
        return self.result()

    __iter__ = __await__  # MicroPython's await calls __iter__

    def __repr__(self) -> str:
        state = "done" if self.finished else "pending"
        return f"<Task {self.name} {state}>"
