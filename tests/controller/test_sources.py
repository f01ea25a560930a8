"""Timer and file-descriptor lines, with real fds: pipe, socketpair, eventfd."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable

import pytest

from irqio.controller import Controller
from irqio.controller.sources import FdReady, Timer

from ._helpers import spin_until, wait_until


def test_timer_pends_periodically(ctl: Controller) -> None:
    stamps: list[float] = []
    tick = ctl.line("tick", 2, lambda: stamps.append(time.monotonic()))
    with Timer(tick, 0.005) as timer:
        spin_until(lambda: len(stamps) >= 20, what="20 ticks")
    n = len(stamps)
    span = stamps[-1] - stamps[0]
    assert span >= 0.005 * (n - 1) * 0.5  # not bunched
    assert timer.ticks >= 20
    assert tick.pends == timer.ticks
    time.sleep(0.02)
    assert tick.pends == timer.ticks  # stopped


def test_timer_stopped_by_controller_close() -> None:
    ctl = Controller()
    tick = ctl.line("tick", 1, lambda: None)
    timer = Timer(tick, 0.002)
    wait_until(lambda: tick.runs >= 2, what="ticks")
    ctl.close()
    assert timer._stop.is_set()


def test_timer_rejects_bad_period(ctl: Controller) -> None:
    tick = ctl.line("tick", 1, lambda: None)
    with pytest.raises(ValueError, match="period"):
        Timer(tick, 0)


def _fd_roundtrip(
    ctl: Controller, rfd: int, write: Callable[[], None], read: Callable[[], bytes | int]
) -> None:
    got: list[object] = []
    line = ctl.line("rx", 2, lambda: got.append(read()))
    with FdReady(line, rfd) as src:
        for i in range(5):
            write()
            spin_until(lambda i=i: len(got) > i, what=f"read {i}")
        assert len(got) == 5
        assert line.runs == 5 and src.pends == 5


def test_fd_line_pipe(ctl: Controller) -> None:
    r, w = os.pipe()
    try:
        _fd_roundtrip(ctl, r, lambda: os.write(w, b"ab") and None, lambda: os.read(r, 100))
    finally:
        os.close(r)
        os.close(w)


def test_fd_line_socket(ctl: Controller) -> None:
    a, b = socket.socketpair()
    with a, b:
        _fd_roundtrip(ctl, a.fileno(), lambda: b.send(b"frame") and None, lambda: a.recv(100))


@pytest.mark.skipif(not hasattr(os, "eventfd"), reason="eventfd is Linux, Python 3.10+")
def test_fd_line_eventfd(ctl: Controller) -> None:
    efd = os.eventfd(0, os.EFD_NONBLOCK)
    try:
        _fd_roundtrip(ctl, efd, lambda: os.eventfd_write(efd, 1), lambda: os.eventfd_read(efd))
    finally:
        os.close(efd)


def test_fd_line_level_triggered_one_pend_per_readiness(ctl: Controller) -> None:
    r, w = os.pipe()
    reads: list[bytes] = []
    line = ctl.line("rx", 1, lambda: reads.append(os.read(r, 1)))  # reads one byte only
    try:
        with FdReady(line, r):
            os.write(w, b"xyz")
            spin_until(lambda: len(reads) == 3, what="three one-byte reads")
            # drained: no further pend, even though we wait a while
            end = time.monotonic() + 0.05
            while time.monotonic() < end:
                pass
            assert line.pends == 3
    finally:
        os.close(r)
        os.close(w)
    assert b"".join(reads) == b"xyz"


def test_fd_line_wakes_sleeping_loop_and_primitive(ctl: Controller) -> None:
    """Readiness -> handler (interrupt context) -> Queue -> task, while the loop sleeps."""
    from irqio import Queue

    a, b = socket.socketpair()

    async def main() -> list[bytes]:
        q: Queue[bytes] = Queue(16)
        line = ctl.line("can", 2, lambda: q.offer(a.recv(100)))
        with FdReady(line, a.fileno()):
            threading.Thread(target=lambda: (time.sleep(0.02), b.send(b"id=0x123"))).start()
            return [await asyncio.wait_for(q.get(), 5)]

    with a, b:
        assert asyncio.run(main()) == [b"id=0x123"]


def test_one_source_per_line(ctl: Controller) -> None:
    r, w = os.pipe()
    line = ctl.line("rx", 1, lambda: None)
    try:
        with FdReady(line, r), pytest.raises(ValueError, match="one FdReady per line"):
            FdReady(line, r)
    finally:
        os.close(r)
        os.close(w)
