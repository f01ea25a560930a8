"""More interrupt sources for a `Controller`: a periodic timer and file-descriptor readiness.

Both run a small watcher thread that does nothing but wait and `pend()` a line, so they work
the same for a main-thread (preemptive) controller and a loop-turn one. The watcher threads
block the controller's signals, so a signal is never handed to them instead of the main thread.

* `Timer(line, period)`: pends `line` every `period` seconds on a drift-free schedule (tick k is
  due at start + k * period). If the watcher falls more than a period behind, the missed ticks
  are counted in `missed` and skipped, never bunched.
* `FdReady(line, fd)`: pends `line` when `fd` is readable: a pipe, a socket, an eventfd, and so a
  gpiod line request's fd (edge events) or a SocketCAN socket. Level-triggered like a
  level-sensitive IRQ line: after it pends, the fd is disarmed (epoll ONESHOT) until the line's
  handler has run, then re-armed from the handler's end-of-interrupt (`Line.after`). One pend per
  readiness, none lost: data that arrives while disarmed is reported at re-arm. The handler is
  expected to read the fd; if it does not, the line pends again at once.

Linux (epoll) for `FdReady`. Each source is closed by `close()`, by `with`, or by closing its
controller.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from irqio.controller.core import Line


def _block_controller_signals(line: Line) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, line._ctl._delivery.signals())


class _Watcher:
    """What both sources share: a daemon watcher thread that pends `line`, and `with`."""

    line: Line
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"irqio-{type(self).__name__}-{self.line.name}", daemon=True
        )
        self._thread.start()

    def _join(self) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Timer(_Watcher):
    """Pend `line` every `period` seconds. Starts at once unless ``start=False``."""

    def __init__(self, line: Line, period: float, *, start: bool = True) -> None:
        if not period > 0:
            raise ValueError(f"Timer for line {line.name!r}: period must be > 0 s, got {period}")
        self.line = line
        self.period = float(period)
        self.ticks = 0  # pends made (written by the timer thread only)
        self.missed = 0  # periods skipped because the thread woke more than a period late
        self._stop = threading.Event()
        line._ctl._add_source(self)
        if start:
            self.start()

    def _run(self) -> None:
        _block_controller_signals(self.line)
        period = self.period
        due = time.monotonic() + period
        pend = self.line.pend
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            try:
                pend()
            except Exception:  # controller closed under us
                return
            self.ticks += 1
            due += period
            late = time.monotonic() - due
            if late > 0:
                skip = int(late // period) + 1
                self.missed += skip
                due += skip * period

    def close(self) -> None:
        self._stop.set()
        self._join()
        self.line._ctl._remove_source(self)


class FdReady(_Watcher):
    """Pend `line` whenever `fd` is readable (see the module docstring). Linux only."""

    def __init__(self, line: Line, fd: int, *, start: bool = True) -> None:
        if not hasattr(select, "epoll"):
            raise RuntimeError("FdReady needs Linux epoll; on other systems use a reader thread")
        if line.after is not None:
            raise ValueError(
                f"line {line.name!r} already has a source attached; use one FdReady per line"
            )
        self.line = line
        self.fd = fd
        self.pends = 0  # written by the watcher thread only
        self._flags = select.EPOLLIN | select.EPOLLONESHOT
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe()
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._epoll.register(fd, self._flags)
        self._closed = False
        # End-of-interrupt: re-arm after each handler run. One epoll_ctl syscall; thread-safe,
        # no lock, O(1): fit for interrupt context.
        line.after = self._rearm
        line._ctl._add_source(self)
        if start:
            self.start()

    def _rearm(self) -> None:
        if not self._closed:
            try:
                self._epoll.modify(self.fd, self._flags)
            except (OSError, ValueError):  # fd closed by the user, or epoll closed
                pass

    def _run(self) -> None:
        _block_controller_signals(self.line)
        epoll, wake_r, pend = self._epoll, self._wake_r, self.line.pend
        while True:
            try:
                events = epoll.poll()
            except (OSError, ValueError):
                return
            for fd, _mask in events:
                if fd == wake_r:
                    return
                try:
                    pend()  # disarmed (ONESHOT) until the handler's end re-arms it
                except Exception:
                    return
                self.pends += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        self._join()
        if self.line.after == self._rearm:
            self.line.after = None
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self.line._ctl._remove_source(self)
