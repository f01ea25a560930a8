"""`wait_any`: one wait on many primitives.

The waiting task parks once; each source holds a small entry that forwards its wake to that
one waiter, naming the source. The work per wake is the woken sources' own, plus O(k) to
unhook from the k sources of this call: it does not grow with how many primitives exist.
"""

from irqio._compat import TYPE_CHECKING
from irqio.runtime import ports
from irqio.runtime.primitives import Event, Flag, Message, Queue, _Primitive

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from typing import Any

    from irqio.runtime.doorbell import Waiter

    Source = Flag | Event | Message[Any] | Queue[Any]

_SOURCES = (Flag, Event, Message, Queue)


class _Entry:
    """One source's hook on a shared waiter: a wake from it wakes the waiter with the source."""

    __slots__ = ("on_cancel", "source", "waiter")

    def __init__(self, waiter: "Waiter", source: "_Primitive") -> None:
        self.waiter = waiter
        self.source = source
        self.on_cancel: Callable[[Waiter], None] | None = None

    @property
    def done(self) -> bool:
        return self.waiter.done

    def wake(self, value: "Any") -> None:
        self.waiter.wake(self.source)

    def __await__(self) -> "Generator[Any, None, Any]":  # pragma: no cover - never awaited
        raise TypeError("a wait_any entry is not awaitable")


async def wait_any(*sources: "Source", timeout: float | None = None) -> "list[Source]":
    """Wait until at least one of `sources` is ready; return the ready ones, in argument order.

    Ready means: a `Flag` was set (and is consumed, as `Flag.wait()` would), an `Event` or
    `Message` is set, a `Queue` has items. With `timeout` (seconds), returns `[]` when it
    passes with nothing ready. Task context.
    """
    if not sources:
        raise ValueError("wait_any() needs at least one Flag, Event, Message or Queue")
    for source in sources:
        if not isinstance(source, _SOURCES):
            raise TypeError(
                f"wait_any() takes Flag, Event, Message and Queue objects, got {source!r}"
            )
    if timeout is not None and timeout < 0:
        raise ValueError(f"wait_any(timeout=) must be >= 0 seconds or None, got {timeout!r}")
    doorbell = ports.current()
    for source in sources:
        source._bind()
    while True:
        # Every source is hooked before any is polled: a set that lands after its source was
        # polled finds the hook and wakes us (the waiter's token/getter mark is in place).
        waiter = doorbell.new_waiter()
        entries = []
        for source in sources:
            entry = _Entry(waiter, source)
            entries.append(entry)
            source._hook(entry)

        def unhook(_waiter: "Waiter | None" = None, entries: "list[_Entry]" = entries) -> None:
            for entry in entries:
                entry.source._forget(entry)

        waiter.on_cancel = unhook
        ready = [s for s in sources if s._ready()]
        if ready or timeout == 0:
            unhook()
            waiter.wake(None)  # retire it: a late wake from a source is ignored
            return ready
        cancel_timer = None
        if timeout is not None:
            cancel_timer = doorbell.call_later(timeout, _timeout_of(waiter))
        try:
            woken_by = await waiter
        finally:
            unhook()
            if cancel_timer is not None:
                cancel_timer()
        # A Flag that woke us was consumed on our behalf by its service; poll the others.
        ready = [s for s in sources if (s is woken_by and isinstance(s, Flag)) or s._ready()]
        if ready or woken_by is None:
            return ready
        # Woken by a Queue whose items another getter took first: wait again.


def _timeout_of(waiter: "Waiter") -> "Callable[[], None]":
    def timeout() -> None:
        waiter.wake(None)

    return timeout
