"""Streams over `select.poll`: TCP connections and pipes, as MicroPython's asyncio has them.

One `Stream` class is both reader and writer (`StreamReader` and `StreamWriter` are aliases,
as in MicroPython): `read`, `readinto`, `readexactly`, `readline`, `write` + `drain`, `close` +
`wait_closed`, `get_extra_info("peername")`, `async with`. `open_connection(host, port)` and
`start_server(callback, host, port)` make TCP streams (host names are resolved with the
blocking `getaddrinfo`, as in MicroPython). A `Stream` can also wrap a pipe's file descriptor
(CPython: `os.pipe()`; MicroPython's unix port has none) or any object `select.poll` takes that
reads and writes without blocking.

A task that must wait for its stream parks in the kernel's poller (`irqio.kernel.io`): the
idle step's one `poll()` wakes it, together with the alert channel. Needs a real-time kernel
(`run()`, or a `Kernel(RealClock())`); a virtual clock has no poller. One task at a time may
wait to read a stream, and one to write it. TLS (`ssl=`) is not supported.
"""

from irqio._compat import MICROPYTHON, TYPE_CHECKING
from irqio.kernel.core import running
from irqio.kernel.task import CancelledError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Generator
    from typing import Any

    from irqio.kernel.io import IOQueue
    from irqio.kernel.task import Task

_EINPROGRESS = 115  # Linux; MicroPython's unix port has no errno names for it either way
_CHUNK = 512


# -- non-blocking reads and writes: None means "would block" -----------------------------------

if MICROPYTHON:

    def _recv(s: "Any", n: int) -> "bytes | None":
        data: bytes | None = s.read(n)
        return data

    def _recv_into(s: "Any", buf: "Any") -> "int | None":
        got: int | None = s.readinto(buf)
        return got

    def _send(s: "Any", data: "Any") -> "int | None":
        sent: int | None = s.write(data)
        return sent

else:
    import os

    def _fd(s: "Any") -> int:
        return s if isinstance(s, int) else int(s.fileno())

    def _recv(s: "Any", n: int) -> "bytes | None":
        try:
            if hasattr(s, "recv"):
                data: bytes = s.recv(n)
            else:
                data = os.read(_fd(s), n)
        except (BlockingIOError, InterruptedError):
            return None
        return data

    def _recv_into(s: "Any", buf: "Any") -> "int | None":
        try:
            if hasattr(s, "recv_into"):
                got: int = s.recv_into(buf)
            else:
                got = os.readv(_fd(s), [buf])
        except (BlockingIOError, InterruptedError):
            return None
        return got

    def _send(s: "Any", data: "Any") -> "int | None":
        try:
            if hasattr(s, "send"):
                sent: int = s.send(data)
            else:
                sent = os.write(_fd(s), data)
        except (BlockingIOError, InterruptedError):
            return None
        return sent


def _io() -> "IOQueue":
    io: IOQueue | None = running().clock.io
    if io is None:
        raise RuntimeError(
            "stream I/O needs a real-time kernel (run(), or Kernel(RealClock())): a virtual "
            "clock has no poller"
        )
    return io


class _Ready:
    """Awaitable: park the current task until `stream` is readable (side 0) or writable (1)."""

    def __init__(self, stream: "Any", side: int) -> None:
        self.stream = stream
        self.side = side

    def __await__(self) -> "Generator[None, None, None]":
        kernel = running()
        io = _io()
        task = kernel.cur_task
        assert task is not None, "stream I/O outside a kernel task"
        if self.side == 0:
            io.queue_read(kernel, task, self.stream)
        else:
            io.queue_write(kernel, task, self.stream)
        yield None

    __iter__ = __await__


class Stream:
    """A non-blocking stream (socket, pipe) read and written by kernel tasks."""

    def __init__(self, s: "Any", e: "dict[str, Any] | None" = None) -> None:
        self.s = s
        self.e = e if e is not None else {}
        self._in = b""  # read ahead by readline(), served first
        self._out = b""  # written, not yet drained
        self._closed = False

    def get_extra_info(self, v: str) -> "Any":
        return self.e[v]

    async def __aenter__(self) -> "Stream":
        return self

    async def __aexit__(self, *exc: "Any") -> None:
        self.close()
        await self.wait_closed()

    def close(self) -> None:
        """Close the stream (a task waiting on it wakes and finds it closed)."""
        if self._closed:
            return
        self._closed = True
        kernel = running()
        io = kernel.clock.io
        if io is not None:
            io.forget(self.s)
        if isinstance(self.s, int):
            if not MICROPYTHON:
                os.close(self.s)
        else:
            self.s.close()

    async def wait_closed(self) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------------

    def _take(self, n: int) -> bytes:
        data = self._in[:n]
        self._in = self._in[n:]
        return data

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (b"" at end of stream); all bytes to the end if `n` is -1."""
        if n < 0:
            parts = [self._take(len(self._in))]
            while True:
                chunk = await self._read_some(_CHUNK)
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
        if self._in:
            return self._take(n)
        return await self._read_some(n)

    async def _read_some(self, n: int) -> bytes:
        while True:
            await _Ready(self.s, 0)
            if self._closed:
                return b""
            data = _recv(self.s, n)
            if data is not None:
                return data

    async def readinto(self, buf: "Any") -> int:
        """Read up to len(buf) bytes into `buf`; how many (0 at end of stream)."""
        if self._in:
            data = self._take(len(buf))
            buf[: len(data)] = data
            return len(data)
        while True:
            await _Ready(self.s, 0)
            if self._closed:
                return 0
            got = _recv_into(self.s, buf)
            if got is not None:
                return got

    async def readexactly(self, n: int) -> bytes:
        """Exactly `n` bytes; EOFError if the stream ends first."""
        parts = []
        while n > 0:
            data = await self.read(n)
            if not data:
                raise EOFError(f"the stream ended {n} bytes short of readexactly()")
            parts.append(data)
            n -= len(data)
        return b"".join(parts)

    async def readline(self) -> bytes:
        """A line, with its b"\\n" (without one at end of stream)."""
        while True:
            i = self._in.find(b"\n")
            if i >= 0:
                return self._take(i + 1)
            chunk = await self._read_some(_CHUNK)
            if not chunk:
                return self._take(len(self._in))
            self._in += chunk

    # -- writing --------------------------------------------------------------------------------

    def write(self, buf: "Any") -> None:
        """Queue `buf` for `drain()` (call it right after)."""
        self._out += bytes(buf)

    async def drain(self) -> None:
        """Write out everything queued by `write()`."""
        out = self._out
        self._out = b""
        view = memoryview(out)
        sent = 0
        while sent < len(out):
            await _Ready(self.s, 1)
            if self._closed:
                raise OSError("drain() on a closed stream")
            n = _send(self.s, view[sent:])
            if n is not None:
                sent += n


StreamReader = Stream
StreamWriter = Stream


# -- TCP ------------------------------------------------------------------------------------------


async def open_connection(host: str, port: int, ssl: "Any" = None) -> "tuple[Stream, Stream]":
    """Connect over TCP; a (reader, writer) pair (one `Stream` twice). A coroutine."""
    _no_tls(ssl)
    import socket

    family, kind, proto, _, address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    s = socket.socket(family, kind, proto)
    s.setblocking(False)
    try:
        s.connect(address)
    except OSError as error:
        if error.errno != _EINPROGRESS and not _in_progress(error):
            s.close()
            raise
    await _Ready(s, 1)
    if not MICROPYTHON:
        problem = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if problem:
            s.close()
            raise OSError(problem, f"connect to {host}:{port}: {os.strerror(problem)}")
    stream = Stream(s, {"peername": address})
    return stream, stream


def _in_progress(error: OSError) -> bool:
    if MICROPYTHON:
        return False
    import errno

    return error.errno in (errno.EINPROGRESS, errno.EWOULDBLOCK)


def _no_tls(ssl: "Any") -> None:
    if ssl is not None and ssl is not False:
        raise ValueError("irqio.kernel streams do not support TLS (ssl=): leave it None")


class Server:
    """A listening TCP socket and the task that accepts on it (`start_server`)."""

    def __init__(self, s: "Any") -> None:
        self.s = s
        self.task: Task | None = None

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc: "Any") -> None:
        self.close()
        await self.wait_closed()

    def close(self) -> None:
        """Stop accepting (connections already made go on)."""
        task = self.task
        if task is not None and not task.done():
            task.cancel()

    async def wait_closed(self) -> None:
        task = self.task
        if task is not None and not task.done():
            try:
                await task
            except CancelledError:
                pass  # how the accept task ends

    async def _serve(
        self, callback: "Callable[[Stream, Stream], Coroutine[Any, Any, Any]]"
    ) -> None:
        s = self.s
        kernel = running()
        try:
            while True:
                await _Ready(s, 0)
                try:
                    conn, address = s.accept()
                except OSError:
                    continue  # the client went away before we took it
                conn.setblocking(False)
                stream = Stream(conn, {"peername": address})
                kernel.create_task(callback(stream, stream))
        finally:
            io = kernel.clock.io
            if io is not None:
                io.forget(s)
            s.close()


async def start_server(
    callback: "Callable[[Stream, Stream], Coroutine[Any, Any, Any]]",
    host: str,
    port: int,
    backlog: int = 5,
    ssl: "Any" = None,
) -> "Server":
    """Listen on (host, port); each connection runs `callback(reader, writer)` as a task.
    A coroutine; returns the `Server`."""
    _no_tls(ssl)
    import socket

    address = socket.getaddrinfo(host, port)[0][-1]
    s = socket.socket()
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(address)
        s.listen(backlog)
    except OSError:
        s.close()
        raise
    server = Server(s)
    server.task = running().create_task(server._serve(callback))
    return server
