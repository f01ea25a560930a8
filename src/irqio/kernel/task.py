"""A kernel task: a coroutine, its place in a task queue, and its outcome.

A task is its own heap node (`ph_*` fields), like MicroPython's `Task`, so moving it between
queues allocates nothing. `parked_in` names what holds the task while it is not running: the
kernel's task queue (ready or sleeping), another `TaskQueue` (a naive `Event`, a `Lock`),
another `Task` it awaits, or a port's waiter, a `gather`. Cancellation asks that holder to let
go (`holder.remove(task)`).

Cancellation follows MicroPython's asyncio (docs.micropython.org, `Task.cancel`):

* a task that awaits another task passes the cancel on to it (and so on down the chain): the
  awaited task gets `CancelledError`, and the awaiting one gets what the awaited one ends with;
* a task held elsewhere (sleeping, parked on a primitive) is taken out and made ready now;
* a task that is already ready stays where it is in the queue: cancelling it over and over
  does not move it ahead of the others, so it cannot starve them;
* a task cannot cancel itself (RuntimeError), and a finished task is not cancelled (False).
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel.heap import TaskQueue
from irqio.kernel.ticks import ticks_diff

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Generator
    from typing import Any, Protocol

    from irqio.kernel.core import Kernel

    class Holder(Protocol):
        """What can hold a parked task: a `TaskQueue`, a `Task`, a port's waiter, ..."""

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
        self.ph_key = 0
        self.ph_seq = 0
        self.ph_child: Task | None = None
        self.ph_next: Task | None = None
        self.ph_prev: Task | None = None
        self.parked_in: Holder | None = None
        self.send_value: Any = None  # given to the coroutine at its next step
        self.throw: BaseException | None = None  # or thrown into it
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.awaited_by: TaskQueue | None = None  # tasks awaiting this one (made on first use)
        # One callback run in task context when the task finishes (gather, wait_for).
        self.on_done: Callable[[Task], None] | None = None
        self.retrieved = False  # its outcome was taken (awaited, result(), gathered)
        self.slept = False  # parked by the kernel's sleep awaitable (see core._Sleep)

    # -- asyncio's Task API ---------------------------------------------------------------------

    def done(self) -> bool:
        return self.finished

    def result(self) -> "Any":
        if not self.finished:
            raise RuntimeError(f"task {self.name!r} has not finished")
        self.retrieved = True
        if self.error is not None:
            raise self.error
        return self.value

    def cancel(self) -> bool:
        """Throw `CancelledError` into the task at its next step (see the module docstring).
        Task context only. False if it had already finished."""
        if self.finished:
            return False
        kernel = self.kernel
        task = self
        holder = task.parked_in
        while isinstance(holder, Task) and not holder.finished:
            task = holder  # the cancel goes to the task it awaits
            holder = task.parked_in
        if task is kernel.cur_task:
            raise RuntimeError("a task cannot cancel itself (nor a task that awaits it)")
        if task.throw is None:
            task.throw = CancelledError()
        queue = kernel.queue
        if holder is queue:
            if ticks_diff(task.ph_key, kernel.clock.ticks()) > 0:
                queue.remove(task)  # sleeping: wake it now
                kernel.ready(task)
            # else: already due; it keeps its place (repeated cancels cannot starve others)
        elif holder is not None:
            holder.remove(task)  # a port waiter calls its on_cancel hook here
            kernel.ready(task)
        # no holder: the task is being stepped or made; the throw is taken at its next step
        return True

    # -- the kernel's side ----------------------------------------------------------------------

    def remove(self, task: "Task") -> bool:
        """A task that awaits this one is cancelled: stop holding it (it is in `awaited_by`)."""
        waiting = self.awaited_by
        return waiting is not None and waiting.remove(task)

    def _finish(self, value: "Any", error: BaseException | None) -> None:
        self.finished = True
        self.value = value
        self.error = error
        kernel = self.kernel
        waiting = self.awaited_by
        if waiting is not None:
            while waiting.peek() is not None:
                self.retrieved = True
                kernel.ready(waiting.pop())
        on_done = self.on_done
        if on_done is not None:
            self.on_done = None
            self.retrieved = True  # its owner (a gather, a wait_for) takes the outcome
            on_done(self)

    def __await__(self) -> "Generator[Any, None, Any]":
        if not self.finished:
            kernel = self.kernel
            me = kernel.cur_task
            assert me is not None, "await a task from inside another kernel task"
            if me is self:
                raise RuntimeError("a task cannot await itself")
            waiting = self.awaited_by
            if waiting is None:
                waiting = self.awaited_by = TaskQueue()
            waiting.push(me, 0)  # equal keys: woken in the order they came
            me.parked_in = self
            yield None
        return self.result()

    __iter__ = __await__  # MicroPython's await calls __iter__

    def __repr__(self) -> str:
        state = "done" if self.finished else "pending"
        return f"<Task {self.name} {state}>"
