"""MicroPython's naive `asyncio.Event`, kept as the known-unsafe reference (#5795).

Written from the documented behaviour of extmod/asyncio/event.py (MIT): `wait()` parks the
current task in the event's own task queue; `set()` moves every waiting task straight onto the
scheduler's task queue, then stores the state. Upstream's own comment says `set()` must only be
called from the thread running the loop, never from a hard or soft IRQ: `set()` relinks the
task queue's heap, and if task context was in the middle of relinking the same heap the two
interleave and tasks fall out of it. The explorer finds that on its own
(examples/check/naive_event_5795.py). Use `irqio.Event` instead.
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel.core import Kernel, current
from irqio.kernel.heap import TaskQueue

if TYPE_CHECKING:
    from collections.abc import Generator
    from typing import Any


class NaiveEvent:
    """Latched event whose `set()` touches the task queue directly. Task context only."""

    def __init__(self, kernel: "Kernel | None" = None) -> None:
        self.state = False
        self.waiting = TaskQueue()  # tasks parked in wait()
        self.kernel = kernel

    def is_set(self) -> bool:
        return self.state

    def set(self) -> None:
        # Unsafe from interrupt context: this pushes onto the kernel's task queue.
        kernel = self.kernel
        while self.waiting.peek() is not None:
            assert kernel is not None
            kernel.ready(self.waiting.pop())
        self.state = True

    def clear(self) -> None:
        self.state = False

    def wait(self) -> "_Wait":
        return _Wait(self)


class _Wait:
    def __init__(self, event: "NaiveEvent") -> None:
        self.event = event

    def __await__(self) -> "Generator[None, Any, bool]":
        event = self.event
        if not event.state:
            kernel = current()
            assert kernel is not None, "Event.wait() outside a kernel task"
            event.kernel = kernel
            task = kernel.cur_task
            assert task is not None
            event.waiting.push(task, kernel.clock.ticks())
            task.parked_in = event.waiting
            yield None
        return True

    __iter__ = __await__  # MicroPython's await calls __iter__
