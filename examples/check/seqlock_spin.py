"""A seqlock read spins until the writer is done: fine on another core, a livelock in a handler.

Task context updates a two-word timestamp under a sequence counter (odd while writing, as the
Linux kernel's seqlock does: https://docs.kernel.org/locking/seqlock.html). A reader retries
while the counter is odd or changed under it. On another core the reader's spin ends when the
writer finishes. In an interrupt handler that preempted the writer it never ends: the writer
cannot run until the handler returns. The explorer lets a spinning core hand the CPU back to
task context (that is what the other core's concurrency means), and calls a handler that spins
a livelock.

    irqio check examples/check/seqlock_spin.py     # the core reader is SAFE, the handler's
                                                   # a LIVELOCK: exits 1
"""

from irqio.check import Setup, scenario


class Stamp:
    """Two words that must be read together, guarded by a sequence counter."""

    def __init__(self) -> None:
        self.seq = 0
        self.high = 0
        self.low = 0

    def write(self, high: int, low: int) -> None:  # task context, the only writer
        self.seq += 1  # odd: a write is under way
        self.high = high
        self.low = low
        self.seq += 1

    def read(self) -> tuple[int, int]:  # any context: retries until it saw no write
        while True:
            seq = self.seq
            if seq % 2:
                continue
            high, low = self.high, self.low
            if self.seq == seq:
                return high, low


def _world(s: Setup, where: str) -> None:
    stamp = Stamp()
    seen: list[tuple[int, int]] = []

    def task() -> None:
        stamp.write(1, 1)
        stamp.write(2, 2)

    def reader() -> None:
        seen.append(stamp.read())

    s.task(task)
    if where == "core":
        s.thread(reader, "core1")
    else:
        s.handler(reader, "tick_isr")
    s.at_end(lambda: all(h == lo for h, lo in seen), "every read saw a consistent stamp")


@scenario(modules=["@scenario"], spin_points=200)
def read_on_another_core(s: Setup) -> None:
    _world(s, "core")


@scenario(modules=["@scenario"], spin_points=200)
def read_in_a_handler(s: Setup) -> None:
    _world(s, "handler")
