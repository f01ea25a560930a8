"""`Samples`: bounded recording of durations in interrupt context (the profiler reads it)."""

from array import array

from irqio._compat import RING_SIZE, bit_length


class Samples:
    """Bounded recording of durations: exact count/min/max/total and a log2 histogram of every
    sample, plus a ring of the last `size` samples for percentiles.

    One writer at a time (a line's samples are written only by the dispatch running that line,
    which never preempts itself), so plain read-modify-write is safe. `add` is O(1) and never
    allocates once constructed.

    The unit is that of the controller's clock, `irqio._compat.CLOCK_UNIT_NS` ns: 1 on CPython
    (`perf_counter_ns`), 1000 on MicroPython (`time.ticks_us`), where the ring is also smaller
    (`RING_SIZE`)."""

    __slots__ = ("count", "hist", "max", "min", "ring", "size", "total")

    def __init__(self, size: int = RING_SIZE) -> None:
        self.size = size
        self.ring = array("q", bytes(8 * size))
        self.count = 0
        self.total = 0
        self.min = -1
        self.max = -1
        self.hist = array("q", bytes(8 * 64))  # bucket k: samples with bit_length() == k

    def add(self, ns: int) -> None:
        if ns < 0:
            ns = 0
        self.ring[self.count % self.size] = ns
        self.count += 1
        self.total += ns
        if ns > self.max:
            self.max = ns
        if self.min < 0 or ns < self.min:
            self.min = ns
        self.hist[bit_length(ns) if ns < (1 << 63) else 63] += 1

    def recent(self) -> list[int]:
        """The last min(count, size) samples (task context)."""
        n = self.count if self.count < self.size else self.size
        return list(self.ring[:n])
