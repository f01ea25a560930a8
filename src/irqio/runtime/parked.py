"""`ParkedTask`: one task parked on a primitive, for schedulers that hold their own tasks (irqio's
kernel, MicroPython's asyncio). Task context only.

A primitive parks the running task with ``await waiter``: the task leaves every run queue and
remembers the waiter (so that cancelling it finds the waiter); `wake(value)` puts it back with
`value`; `remove(task)` is how the scheduler cancels it, and tells the primitive through
`on_cancel`. The first of the two wins. A port says how a task is found, marked and resumed.
"""

from irqio._compat import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from typing import Any

    from irqio.runtime.doorbell import Waiter


class ParkedTask:
    __slots__ = ("_task", "_value", "done", "on_cancel")

    def __init__(self) -> None:
        self.done = False  # woken or cancelled
        self.on_cancel: Callable[[Waiter], None] | None = None
        self._task: Any = None
        self._value: Any = None

    # -- per port -----------------------------------------------------------------------------

    def _current(self) -> "Any":
        """The running task, to park."""
        raise NotImplementedError

    def _mark(self, task: "Any") -> None:
        """Record on `task` that this waiter holds it (where the scheduler's cancel looks)."""
        raise NotImplementedError

    def _resume(self, task: "Any", value: "Any") -> None:
        """Put `task` back on its scheduler's run queue."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------

    def wake(self, value: "Any") -> None:
        if self.done:
            return  # first wake wins
        self.done = True
        self._value = value
        task = self._task
        if task is not None:
            self._task = None
            self._resume(task, value)

    def remove(self, task: "Any") -> bool:
        """The scheduler cancels the parked task: forget it and tell the primitive."""
        if self.done:
            return False
        self.done = True
        self._task = None
        if self.on_cancel is not None:
            self.on_cancel(self)
        return True

    def __iter__(self) -> "Generator[None, Any, Any]":  # MicroPython's `await` calls __iter__
        if not self.done:
            task = self._current()
            self._task = task
            self._mark(task)
            yield None
        return self._value

    __await__ = __iter__
