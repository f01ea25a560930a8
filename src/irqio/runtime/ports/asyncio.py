"""The asyncio port: one doorbell per event loop (the stock loop or uvloop, in any thread).

The alert is one write to an eventfd (a pipe where there is none) that the loop watches with
`add_reader`. That is the loop's own way to end its selector's sleep, so it works from another
thread, from a Python signal handler that runs while the loop sits inside `select()` (CPython
re-enters `select()` after the handler with the same timeout: a `call_soon` from there would wait
for that timeout), and from several loops at once, each with its own fd. On uvloop too: its own
C `call_soon_threadsafe` was tried as the alert and measured no faster for the thread → task
half (benchmarks/README.md), so every loop takes the same path.

Waking a task costs no extra loop turn: a parked task waits on a `_Wakeup`, which asyncio's
`Task` accepts as a future (it has `_asyncio_future_blocking`, `get_loop`, `add_done_callback`,
`result`, `cancel`). `wake()` calls the task's wake-up callback at once, inside the doorbell's
service, where an asyncio future would `call_soon` it and the task would run one loop turn later.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from irqio.runtime.counters import Tally
from irqio.runtime.doorbell import Doorbell
from irqio.runtime.errors import NoScheduler

if TYPE_CHECKING:
    from irqio.runtime.doorbell import Waiter

_PENDING, _WOKEN, _CANCELLED = 0, 1, 2


class _Wakeup:
    """A parked task, in the shape of an asyncio future. Task context only."""

    __slots__ = (
        "_asyncio_future_blocking",
        "_callback",
        "_context",
        "_loop",
        "_state",
        "_value",
        "on_cancel",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._state = _PENDING
        self._value: Any = None
        self._callback: Callable[[Any], object] | None = None
        self._context: contextvars.Context | None = None
        self._asyncio_future_blocking = False
        self.on_cancel: Callable[[Waiter], None] | None = None

    @property
    def done(self) -> bool:
        return self._state != _PENDING

    def wake(self, value: Any) -> None:
        if self._state != _PENDING:
            return  # first wake wins
        self._value = value
        self._state = _WOKEN
        callback = self._callback
        if callback is not None:
            self._callback = None
            # Resume the task now. The doorbell's service runs as a loop callback, so no task
            # is current and asyncio lets this one step.
            if self._context is None:
                callback(self)
            else:
                self._context.run(callback, self)

    def __await__(self) -> Generator[Any, None, Any]:
        if self._state == _PENDING:
            self._asyncio_future_blocking = True
            yield self  # Task registers its wake-up callback through add_done_callback
        return self.result()

    # -- what asyncio.Task asks of a future --------------------------------------------------

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def add_done_callback(
        self, fn: Callable[[Any], object], *, context: contextvars.Context | None = None
    ) -> None:
        if self._state != _PENDING:
            self._loop.call_soon(fn, self, context=context)
        else:
            self._callback = fn
            self._context = context

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        if self._callback is not None and self._callback == fn:
            self._callback = None
            return 1
        return 0

    def cancel(self, msg: Any = None) -> bool:
        if self._state != _PENDING:
            return False
        self._state = _CANCELLED
        if self.on_cancel is not None:
            self.on_cancel(self)  # the primitive forgets this waiter
        callback, self._callback = self._callback, None
        if callback is not None:
            self._loop.call_soon(callback, self, context=self._context)
        return True

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def result(self) -> Any:
        if self._state == _CANCELLED:
            raise asyncio.CancelledError
        if self._state == _PENDING:
            raise asyncio.InvalidStateError("irqio waiter has not been woken yet")
        return self._value

    def exception(self) -> BaseException | None:
        if self._state == _CANCELLED:
            raise asyncio.CancelledError
        return None


class AsyncioDoorbell(Doorbell):
    """The doorbell of one asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop_ref = weakref.ref(loop)
        self.loop_name = f"{type(loop).__module__}.{type(loop).__name__} at {id(loop):#x}"
        self.thread_name = threading.current_thread().name
        self.alerts = Tally()  # alerts made (one fd write or call_soon_threadsafe each)
        self.services = 0  # service cycles run (task context only, so a plain int)
        if hasattr(os, "eventfd"):
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._rfd = self._wfd = fd
            self._write: Callable[[], None] = lambda: os.eventfd_write(fd, 1)
        else:  # pragma: no cover - non-Linux
            self._rfd, self._wfd = os.pipe()
            os.set_blocking(self._rfd, False)
            os.set_blocking(self._wfd, False)
            wfd = self._wfd

            def write() -> None:
                os.write(wfd, b"\0")

            self._write = write
        loop.add_reader(self._rfd, self._on_readable)
        # The fds live as long as this doorbell: a primitive that outlives its loop may still
        # ring it, and a closed fd number could by then belong to someone else.
        weakref.finalize(self, _close_fds, self._rfd, self._wfd)

    def _alert(self) -> None:
        self.alerts.bump()
        try:
            self._write()
        except BlockingIOError:
            pass  # the counter (or pipe) is full, so an alert is already readable
        except (OSError, RuntimeError):
            pass  # the loop is closed or gone; nobody is left to wake

    def _on_readable(self) -> None:
        try:
            os.read(self._rfd, 8 if self._rfd == self._wfd else 4096)
        except BlockingIOError:
            pass
        self.services += 1
        self.service()

    def new_waiter(self) -> Waiter:
        loop = self._loop_ref()
        assert loop is not None, "a live task's loop cannot be gone"
        return _Wakeup(loop)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Callable[[], None]:
        loop = self._loop_ref()
        assert loop is not None
        return loop.call_later(delay, callback).cancel

    def report(self, message: str, exc: BaseException) -> None:
        loop = self._loop_ref()
        if loop is None:  # pragma: no cover
            traceback.print_exception(exc, file=sys.stderr)
            return
        loop.call_exception_handler({"message": message, "exception": exc})

    def __repr__(self) -> str:
        return f"<irqio doorbell of {self.loop_name} in thread {self.thread_name!r}>"


def _close_fds(rfd: int, wfd: int) -> None:
    for fd in {rfd, wfd}:
        try:
            os.close(fd)
        except OSError:
            pass


# Loops are weakly keyed, so a closed and dropped loop takes its doorbell with it.
_doorbells: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncioDoorbell]
_doorbells = weakref.WeakKeyDictionary()


# The last loop asked about and its doorbell: most calls come from one loop, and this spares a
# WeakKeyDictionary lookup (which builds a weakref) on every wait. Swapped as one tuple; both
# weak, so a dead loop's doorbell (and its eventfd) is not kept alive by this cache.
_last: tuple[weakref.ref[asyncio.AbstractEventLoop], weakref.ref[AsyncioDoorbell]] | None = None


def running_doorbell() -> AsyncioDoorbell:
    """The doorbell of the running loop, made on first use. Task context only."""
    global _last
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise NoScheduler(
            "no asyncio event loop is running in this thread: await irqio primitives inside a "
            "task (asyncio.run(...)), or use the irqio kernel"
        ) from None
    last = _last
    if last is not None and last[0]() is loop:
        cached = last[1]()
        if cached is not None:
            return cached
    doorbell = _doorbells.get(loop)
    if doorbell is None:
        doorbell = _doorbells[loop] = AsyncioDoorbell(loop)
    _last = (weakref.ref(loop), weakref.ref(doorbell))
    return doorbell
