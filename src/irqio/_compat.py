"""What differs between CPython and MicroPython, in one place.

The core (`irqio.runtime`, `irqio.controller`'s dispatch core, `irqio.kernel`) imports only this
module and the few built-ins both interpreters have, so the same source runs on both. Rules for
that code: no `from __future__`, no `typing` at run time (annotations naming a type that is only
imported for the type checker are quoted; MicroPython never evaluates annotations), no
`dataclasses`, `weakref`, `contextvars` or `collections.abc` at module level.
"""

import sys
from collections import deque

try:
    from typing import TYPE_CHECKING, Generic, TypeVar
except ImportError:  # MicroPython: no typing module (micropython-lib's stub is not needed)
    TYPE_CHECKING = False  # type: ignore[misc]

    class _GenericBase:
        pass

    class _Generic:
        """`Generic[T]` as a base class: an empty class, so `class Queue(..., Generic[T])`
        works where typing does not exist."""

        def __getitem__(self, item: object) -> type:
            return _GenericBase

    Generic = _Generic()  # type: ignore[assignment]

    def TypeVar(name: str, *constraints: object, **kwargs: object) -> str:  # type: ignore[no-redef]
        return name


#: True on MicroPython (any port: unix, bare metal, WebAssembly).
MICROPYTHON = sys.implementation.name == "micropython"

if TYPE_CHECKING or not MICROPYTHON:
    import os
    import time
    from _thread import get_ident

    now = time.perf_counter_ns
    CLOCK_UNIT_NS = 1
    RING_SIZE = 4096
    AWAITABLE = "__await__"
    bit_length = int.bit_length

    def in_hard_irq() -> bool:
        return False

    def write_stderr(msg: str) -> None:
        os.write(2, msg.encode())  # no lock: sys.stderr's buffer lock is not re-entrant

    def unbounded_deque() -> "deque[Any]":
        return deque()

    # The built-in base each controller error adds to ControllerError (InvalidPriority is a
    # ValueError, ...).
    ValueErrorBase = ValueError
    RuntimeErrorBase = RuntimeError

else:
    import time

    import micropython  # type: ignore[import-not-found]

    # µs ticks: a small int, so a pend from a hard IRQ (heap locked) allocates nothing. Durations
    # are differences of two ticks; one that spans the wrap (every 2**30 µs) reads as 0.
    now = time.ticks_us  # type: ignore[attr-defined]
    #: Nanoseconds per unit of `now()`.
    CLOCK_UNIT_NS = 1000
    #: Samples kept per recorder for percentiles (a microcontroller's heap is small).
    RING_SIZE = 64
    #: The attribute that marks an awaitable returned by a handler (coroutines are generators).
    AWAITABLE = "send"

    try:
        from _thread import get_ident as _thread_ident
    except ImportError:  # a port without threads (the WebAssembly build)

        def _thread_ident() -> int:
            return 0

    _heap_lock = micropython.heap_lock
    _heap_unlock = micropython.heap_unlock

    def in_hard_irq() -> bool:
        """True inside a hard IRQ, where MicroPython locks the heap around the handler. Two C
        calls, no allocation: heap_unlock() returns the depth left, > 0 if it was locked."""
        _heap_lock()
        return _heap_unlock() != 0

    def get_ident() -> int:
        """The thread's identity, or -1 in a hard IRQ: a foreign context, like another thread.
        (On 64-bit ports `_thread.get_ident()` allocates a big int, which a hard IRQ may not.)"""
        if in_hard_irq():
            return -1
        return _thread_ident()

    def bit_length(n: int) -> int:
        """`int.bit_length`, which MicroPython's int has not."""
        k = 0
        while n:
            n >>= 1
            k += 1
        return k

    def write_stderr(msg: str) -> None:
        sys.stderr.write(msg)  # MicroPython's stderr takes no lock

    def unbounded_deque() -> "deque[Any]":
        """MicroPython's deque needs a bound; flag 1 makes a full one raise IndexError instead of
        dropping the oldest item silently."""
        return deque((), UNBOUNDED_DEQUE_MICROPYTHON, 1)

    # MicroPython cannot derive a class from two exception types ("multiple bases have instance
    # lay-out conflict"): there the controller's errors are ControllerErrors only.
    ValueErrorBase = RuntimeErrorBase = object


if TYPE_CHECKING:
    from typing import Any

#: MicroPython: the bound of `unbounded_deque()`.
UNBOUNDED_DEQUE_MICROPYTHON = 256

__all__ = [
    "AWAITABLE",
    "CLOCK_UNIT_NS",
    "MICROPYTHON",
    "RING_SIZE",
    "TYPE_CHECKING",
    "Generic",
    "RuntimeErrorBase",
    "TypeVar",
    "ValueErrorBase",
    "bit_length",
    "get_ident",
    "in_hard_irq",
    "now",
    "unbounded_deque",
    "write_stderr",
]
