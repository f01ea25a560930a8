"""The alert channel: what a scheduler's poller sleeps on, and an alert makes ready.

One per scheduler, whatever the number of primitives and waiters: the interrupt side's alert
(`alert()`) makes it readable, the scheduler's `select.poll` ends its sleep, and task context
`drain()`s it before servicing. Three shapes, the first that works here:

* CPython: an eventfd (a pipe where there is none); `alert()` is one write.
* MicroPython with sockets (the unix port): there is no `os.pipe`, so a UDP socket on 127.0.0.1
  connected to itself; `alert()` is one `send` of a constant byte and allocates nothing. A file
  descriptor, so the poller sleeps in `poll()` with no 1 ms sweep (an object without one, like
  `asyncio.ThreadSafeFlag`, makes the unix poller wake every millisecond).
* MicroPython without sockets (bare metal, the WebAssembly build): an `io.IOBase` whose
  `ioctl(MP_STREAM_POLL)` reports the alert, as `ThreadSafeFlag` does; `alert()` is one store,
  and the IRQ that made it also ends the poller's WFE.

`alert()` may run in any context (a hard IRQ with the heap locked, another thread, a signal
handler) and never blocks: a full buffer already holds an alert. Spare readable bytes left by
alerts that raced a `drain()` make one spare service, never a lost one.
"""

import sys

from irqio._compat import MICROPYTHON, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_ALERT = b"\x00"
_MP_STREAM_POLL = 3

if MICROPYTHON:
    try:
        from io import IOBase as _IOBase
    except ImportError:  # a port built without io.IOBase: such objects cannot be polled
        _IOBase = object  # type: ignore[misc,assignment]
else:
    _IOBase = object  # type: ignore[misc,assignment]


class _Pollable(_IOBase):
    """Ready while `state` is 1 (one store from any context). `select.poll` asks `ioctl`;
    MicroPython polls Python objects only when they derive from `io.IOBase`."""

    def __init__(self) -> None:
        self.state = 0

    def ioctl(self, req: int, flags: int) -> int:
        if req == _MP_STREAM_POLL:
            return self.state * flags
        return -1


def _udp_self(socket: "Any") -> "Any":
    """A UDP socket on 127.0.0.1 connected to itself (MicroPython's sockets have no
    `getsockname`, so the port is chosen here; a taken one is skipped)."""
    import time

    ticks_us: Any = getattr(time, "ticks_us")  # noqa: B009 - MicroPython's, not in the stubs
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    seed = ticks_us()
    for attempt in range(64):
        port = 20000 + (seed + attempt * 7919) % 40000
        address = socket.getaddrinfo("127.0.0.1", port)[0][-1]
        try:
            sock.bind(address)
        except OSError:
            continue
        sock.connect(address)
        sock.setblocking(False)
        return sock
    sock.close()
    raise OSError("irqio: no free UDP port on 127.0.0.1 for the alert channel")


class AlertChannel:
    """An object a poller waits on (`pollable`, registered for POLLIN), made readable by
    `alert()` from any context and emptied by `drain()` in task context.

    `key` is what `poll()` / `ipoll()` report for it: the file descriptor on CPython, the
    object itself on MicroPython. It lives as long as the channel: a primitive that outlives
    its scheduler may still alert, and a closed file descriptor's number could by then belong
    to someone else (CPython closes it when the channel is collected; MicroPython's socket has
    its own finaliser)."""

    #: Make `pollable` readable. Any context; O(1), never blocks, allocates nothing.
    alert: "Callable[[], None]"
    #: Empty what alerts left readable. Task context.
    drain: "Callable[[], None]"

    def __init__(self) -> None:
        self.pollable: Any = None
        self.key: Any = None
        if not MICROPYTHON:
            self._open_fd()
            return
        sock = None
        if sys.platform in ("linux", "darwin", "freebsd"):
            try:
                import socket

                sock = _udp_self(socket)
            except (ImportError, OSError):
                sock = None
        if sock is not None:
            self._open_socket(sock)
        else:
            self._open_pollable()

    # -- the three shapes ---------------------------------------------------------------------

    def _open_fd(self) -> None:
        import os

        if hasattr(os, "eventfd"):
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._fds: tuple[int, ...] = (fd,)
            write = os.eventfd_write

            def alert() -> None:
                try:
                    write(fd, 1)
                except OSError:
                    pass  # the counter is full (an alert is readable) or the fd is closed

            def drain() -> None:
                try:
                    os.eventfd_read(fd)
                except OSError:
                    pass  # nothing there

        else:  # pragma: no cover - non-Linux CPython
            rfd, wfd = os.pipe()
            os.set_blocking(rfd, False)
            os.set_blocking(wfd, False)
            fd = rfd
            self._fds = (rfd, wfd)

            def alert() -> None:
                try:
                    os.write(wfd, _ALERT)
                except OSError:
                    pass  # a full pipe already holds an alert

            def drain() -> None:
                try:
                    while os.read(rfd, 512):
                        pass
                except OSError:
                    pass

        import weakref

        weakref.finalize(self, _close_fds, self._fds)
        self.pollable = self.key = fd
        self.alert = alert
        self.drain = drain

    def _open_socket(self, sock: "Any") -> None:
        self._sock = sock
        self._buf = bytearray(16)  # drain() reads into it: no allocation
        send = sock.send

        def alert() -> None:
            try:
                send(_ALERT)
            except OSError:
                pass  # a full buffer already holds an alert

        readinto = sock.readinto

        def drain() -> None:
            # One datagram per alert, and alerts are coalesced (one per service cycle): read
            # one. A non-blocking socket's readinto returns None when empty (no exception).
            try:
                readinto(self._buf)
            except OSError:
                pass

        self.pollable = self.key = sock
        self.alert = alert
        self.drain = drain

    def _open_pollable(self) -> None:
        pollable = _Pollable()

        def alert() -> None:
            pollable.state = 1

        def drain() -> None:
            pollable.state = 0

        self.pollable = self.key = pollable
        self.alert = alert
        self.drain = drain


def _close_fds(fds: "tuple[int, ...]") -> None:
    import os

    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
