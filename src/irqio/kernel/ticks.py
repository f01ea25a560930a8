"""The kernel's time: integer ticks, compared the way MicroPython's `time.ticks_*` do.

Deadlines are ticks, not float seconds: on MicroPython a float is an object on the heap, and
the scheduler's hot path (sleep, wake, task switch) must allocate nothing. A tick is one
millisecond on MicroPython (`time.ticks_ms`, as its asyncio: a small int that wraps every
2**30 ms, about 12 days; `ticks_diff` gives the right sign for deadlines up to half of that)
and one nanosecond on CPython (`time.monotonic_ns`, which never wraps). Code never compares two
ticks with `<`: it asks `ticks_diff(a, b)`, which is `a - b` on CPython.
"""

from irqio._compat import MICROPYTHON, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

if TYPE_CHECKING or not MICROPYTHON:
    import operator
    import time

    ticks: "Callable[[], int]" = time.monotonic_ns
    ticks_add: "Callable[[int, int], int]" = operator.add
    ticks_diff: "Callable[[int, int], int]" = operator.sub  # C calls: fast, and no frame
    #: Ticks per second and per millisecond.
    PER_SECOND = 1_000_000_000
    PER_MS = 1_000_000
else:
    import time

    ticks = time.ticks_ms  # type: ignore[attr-defined]
    ticks_add = time.ticks_add  # type: ignore[attr-defined]
    ticks_diff = time.ticks_diff  # type: ignore[attr-defined]

    PER_SECOND = 1000
    PER_MS = 1

#: The longest delay a deadline can hold (half the wrap on MicroPython); longer sleeps are cut
#: to it and simply wake early, as MicroPython's asyncio does not allow them at all.
MAX_DELAY = (1 << 29) - 1 if MICROPYTHON else 1 << 62


def from_seconds(seconds: float) -> int:
    """A delay in seconds as ticks (>= 0, at most `MAX_DELAY`)."""
    if seconds <= 0:
        return 0
    n = int(seconds * PER_SECOND)
    return n if n < MAX_DELAY else MAX_DELAY


def from_ms(ms: float) -> int:
    """A delay in milliseconds as ticks (>= 0). An int on MicroPython costs no allocation."""
    if ms <= 0:
        return 0
    n = int(ms * PER_MS)  # PER_MS is 1 on MicroPython: a small int stays one
    return n if n < MAX_DELAY else MAX_DELAY


def to_seconds(n: int) -> float:
    return n / PER_SECOND


def to_timeout_ms(n: int) -> int:
    """A delay in ticks as a `poll()` timeout in whole milliseconds, rounded up (a timeout
    rounded down would wake before the deadline and spin)."""
    if PER_MS == 1:
        return n
    return -(-n // PER_MS)
