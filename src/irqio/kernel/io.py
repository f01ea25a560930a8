"""The real-time kernel's poller: the alert channel and the streams tasks wait on, one poll.

`poll(dt)` is the idle step in "poll" mode: one `select.poll` wait with the deadline as
timeout, on the alert channel (always registered) and on each stream a task waits to read or
write. Tasks waiting on a stream are held here (`queue_read` / `queue_write`) and pushed back
on the kernel's queue when their stream is ready; a cancelled one is taken out (`remove`).
MicroPython: `ipoll`, which yields one reused tuple, so the wait allocates nothing.

Streams are keyed the way the poller reports them: their file descriptor on CPython, the
stream object itself on MicroPython (where `select.poll` takes objects).
"""

import select

from irqio._compat import MICROPYTHON, TYPE_CHECKING
from irqio.kernel.ticks import to_timeout_ms

if TYPE_CHECKING:
    from typing import Any

    from irqio.kernel.core import Kernel
    from irqio.kernel.task import Task
    from irqio.runtime.alert_channel import AlertChannel

_IN = select.POLLIN
_OUT = select.POLLOUT


def poll_key(stream: "Any") -> "Any":
    """What the poller registers and reports for `stream`."""
    if MICROPYTHON:
        return stream
    return stream if isinstance(stream, int) else stream.fileno()


class IOQueue:
    """The poller of one real-time kernel. Task context only."""

    def __init__(self, channel: "AlertChannel") -> None:
        poller = select.poll()
        poller.register(channel.pollable, _IN)
        self._poller = poller
        self._poll: Any = getattr(poller, "ipoll", None) or poller.poll
        self._drain = channel.drain
        self._alert_key = channel.key
        # key -> [task waiting to read, task waiting to write]
        self._waiting: dict[Any, list[Task | None]] = {}
        self.kernel: Kernel | None = None  # set by the first queue_*: whose queue to push to

    @property
    def active(self) -> bool:
        """True while some task waits on a stream."""
        return bool(self._waiting)

    # -- the idle step --------------------------------------------------------------------------

    def poll(self, dt: int | None) -> None:
        """Wait until an alert, a waited-on stream, or `dt` ticks (None: no deadline)."""
        alert_key = self._alert_key
        for key, events in self._poll(-1 if dt is None else to_timeout_ms(dt)):
            if key == alert_key:
                self._drain()
            else:
                self._ready(key, events)

    def _ready(self, key: "Any", events: int) -> None:
        entry = self._waiting.get(key)
        if entry is None:
            return
        kernel = self.kernel
        assert kernel is not None
        reader, writer = entry
        if reader is not None and events & ~_OUT:  # readable, or an error / hang-up
            entry[0] = None
            kernel.ready(reader)
        if writer is not None and events & ~_IN:  # writable, or an error / hang-up
            entry[1] = None
            kernel.ready(writer)
        self._update(key, entry)

    # -- task side --------------------------------------------------------------------------

    def queue_read(self, kernel: "Kernel", task: "Task", stream: "Any") -> None:
        self._queue(kernel, task, stream, 0)

    def queue_write(self, kernel: "Kernel", task: "Task", stream: "Any") -> None:
        self._queue(kernel, task, stream, 1)

    def _queue(self, kernel: "Kernel", task: "Task", stream: "Any", side: int) -> None:
        self.kernel = kernel
        key = poll_key(stream)
        entry = self._waiting.get(key)
        if entry is None:
            entry = self._waiting[key] = [None, None]
            entry[side] = task
            self._poller.register(key, _IN if side == 0 else _OUT)
        else:
            if entry[side] is not None:
                raise RuntimeError(
                    "another task already waits to "
                    + ("read" if side == 0 else "write")
                    + " this stream: one reader and one writer at a time"
                )
            entry[side] = task
            self._poller.modify(key, _IN | _OUT)
        task.parked_in = self

    def _update(self, key: "Any", entry: "list[Task | None]") -> None:
        reader, writer = entry
        if reader is None and writer is None:
            del self._waiting[key]
            self._poller.unregister(key)
        elif reader is None:
            self._poller.modify(key, _OUT)
        elif writer is None:
            self._poller.modify(key, _IN)

    def remove(self, task: "Task") -> bool:
        """A task waiting on a stream is cancelled: stop waiting for it."""
        for key in self._waiting:
            entry = self._waiting[key]
            if entry[0] is task or entry[1] is task:
                if entry[0] is task:
                    entry[0] = None
                if entry[1] is task:
                    entry[1] = None
                self._update(key, entry)
                return True
        return False

    def forget(self, stream: "Any") -> None:
        """The stream is being closed: unregister it (its waiters, if any, are woken)."""
        key = poll_key(stream)
        entry = self._waiting.get(key)
        if entry is not None:
            self._ready(key, _IN | _OUT)
