"""`gather`, `wait_for`, `wait_for_ms`: as MicroPython's asyncio documents them
(docs.micropython.org/en/latest/library/asyncio.html).

* `wait_for(aw, timeout)`: `aw` (made a task if it is not one) is cancelled if it takes longer
  than `timeout` seconds, and `TimeoutError` is raised once it has ended; else its result is
  returned (its exception raised). `timeout=None` waits for ever. Cancelling the waiting task
  cancels `aw` too.
* `gather(*aws, return_exceptions=False)`: runs them all (each made a task) and returns their
  results in order. A failure is raised at once unless `return_exceptions`, which puts the
  exception in the list instead; the other tasks keep running. Cancelling the gathering task
  cancels every task not yet done.

Both wait with the task parked once: no polling, and no task of their own (a `gather` is woken
by the last of its tasks, through `Task.on_done`; a `wait_for` sleeps to its deadline and is
woken early by `aw`'s end).
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel.core import running
from irqio.kernel.task import CancelledError, Task
from irqio.kernel.ticks import from_ms, from_seconds

if TYPE_CHECKING:
    from collections.abc import Awaitable, Generator
    from typing import Any

    from irqio.kernel.core import Kernel

try:
    _TimeoutBase: "type[Exception]" = TimeoutError  # CPython: `except TimeoutError` catches ours
except NameError:  # MicroPython has no built-in TimeoutError
    _TimeoutBase = Exception


class TimeoutError(_TimeoutBase):  # type: ignore[valid-type,misc]
    """`wait_for` gave up: the awaitable took longer than the timeout (and was cancelled)."""


# -- wait_for --------------------------------------------------------------------------------


def wait_for(aw: "Awaitable[Any]", timeout: float | None) -> "Any":
    """Await `aw` for at most `timeout` seconds (None: no limit). A coroutine."""
    return _wait_for(aw, None if timeout is None else from_seconds(timeout))


def wait_for_ms(aw: "Awaitable[Any]", timeout: int) -> "Any":
    """`wait_for` with the timeout in milliseconds (MicroPython's extension). A coroutine."""
    return _wait_for(aw, from_ms(timeout))


async def _wait_for(aw: "Awaitable[Any]", delay: int | None) -> "Any":
    kernel = running()
    task = kernel.promote(aw)
    if delay is None:
        return await task
    if task.finished:
        return task.result()
    if task.on_done is not None:
        raise RuntimeError("wait_for(): the task is already gathered or waited for")
    me = kernel.cur_task
    assert me is not None
    queue = kernel.queue

    def done(_task: "Task") -> None:
        # `aw` ended before the deadline: wake the sleeping waiter now.
        if me.parked_in is queue and queue.remove(me):
            kernel.ready(me)

    task.on_done = done
    try:
        await kernel._sleep.arm(delay)
    except CancelledError:
        if task.on_done is done:
            task.on_done = None
        task.cancel()  # cancelling the waiter cancels what it waits for
        raise
    if task.done():  # (a call: the type checker keeps no stale view across the await)
        return task.result()
    # The deadline came first: cancel `aw`, wait for it to end, and say so.
    task.on_done = None
    task.cancel()
    try:
        await task
    except BaseException as error:  # it ended as it did; the timeout is what we report
        if not isinstance(error, Exception) and not isinstance(error, CancelledError):
            raise  # KeyboardInterrupt, SystemExit
    raise TimeoutError


# -- gather ---------------------------------------------------------------------------------


class _Gather:
    """The gathering task's holder: woken by the last task to end (or the first failure)."""

    def __init__(self, kernel: "Kernel", me: "Task", left: int, return_exceptions: bool) -> None:
        self.kernel = kernel
        self.me = me
        self.left = left
        self.return_exceptions = return_exceptions
        self.woken = False
        self.failed: Task | None = None  # the failure that woke it

    def done(self, task: "Task") -> None:
        if self.woken:
            return
        if self.return_exceptions or task.error is None:
            self.left -= 1
            if self.left:
                return
        else:
            self.failed = task
        self.woken = True
        self.kernel.ready(self.me)

    def remove(self, task: "Task") -> bool:
        """The gathering task is cancelled."""
        self.woken = True
        return True

    def __await__(self) -> "Generator[None, None, None]":
        self.me.parked_in = self
        yield None

    __iter__ = __await__


async def gather(*aws: "Awaitable[Any]", return_exceptions: bool = False) -> "list[Any]":
    """Run every awaitable concurrently; their results in order. A coroutine."""
    kernel = running()
    me = kernel.cur_task
    assert me is not None
    tasks = [kernel.promote(aw) for aw in aws]
    pending = False
    failed = None
    for task in tasks:
        if task.finished:
            if failed is None and task.error is not None and not return_exceptions:
                failed = task
        else:
            if task.on_done is not None:
                raise RuntimeError("gather(): a task is already gathered or waited for")
            pending = True
    waiter = _Gather(kernel, me, 0, return_exceptions)
    cancelled = None
    if pending and failed is None:
        done = waiter.done  # one bound method, compared by identity below
        for task in tasks:
            if not task.finished and task.on_done is not done:  # (a task given twice: once)
                task.on_done = done
                waiter.left += 1
        try:
            await waiter
        except CancelledError as error:
            cancelled = error
        failed = waiter.failed
        for task in tasks:
            if task.on_done is done:
                task.on_done = None
                if cancelled is not None:
                    task.cancel()
    if cancelled is not None:
        raise cancelled
    results: list[Any] = []
    for task in tasks:
        if not task.finished:
            results.append(None)  # still running: a failure ended the gather early
            continue
        task.retrieved = True
        outcome = task.error
        if outcome is None:
            results.append(task.value)
        elif return_exceptions:
            results.append(outcome)
        elif failed is None:
            failed = task
    if failed is not None:
        failed.retrieved = True
        assert failed.error is not None
        raise failed.error
    return results
