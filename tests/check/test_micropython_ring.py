"""MicroPython's per-context ring (`irqio.runtime.rings._Cell`) explored on CPython, where it is
plain Python: its producer on another core against the consumer's `take` and `pop`. The ring
passes at three switches; a ring that publishes its tail before writing the item, or clears
taken places after publishing its head, fails."""

from __future__ import annotations

from typing import Any

import irqio_primitives as p

from irqio.check import Setup, explore, scenario
from irqio.runtime.rings import _Cell


def test_the_ring_is_safe_at_three_switches() -> None:
    result = explore(p.micropython_ring_foreign_producer)
    assert result.ok, result.report()
    assert result.schedules_run > 1000  # the thread really interleaves with take and pop


class _PublishFirst(_Cell):
    def put(self, item: Any) -> bool:
        tail = self.tail
        size = self.size
        room = (tail + 1) % size != self.taken.head
        self.tail = (tail + room) % size  # the item is not in yet
        self.buf[tail] = item
        if room:
            return True
        self.refused += 1
        return False


class _ClearAfter(_Cell):
    def take(self, n: int) -> list[Any]:
        taken = self.taken
        head = taken.head
        size = self.size
        k = min(n, (self.tail - head) % size)
        batch = [self.buf[(head + j) % size] for j in range(k)]
        end = (head + k) % size
        taken.head = end  # the places are the producer's from here
        j = head
        while j != end:
            self.buf[j] = None
            j = (j + 1) % size
        return batch


# The example's world (and its invariant) around the broken rings; the example's module is
# traced too, where the thread and the task run.
_TRACED = ["@scenario", "irqio.runtime.rings", "irqio_primitives"]


@scenario(ports=("kernel",), preemptions=3, modules=_TRACED)
def publish_first(s: Setup) -> None:
    p.micropython_ring_world(s, _PublishFirst(2))


@scenario(ports=("kernel",), preemptions=3, modules=_TRACED)
def clear_after(s: Setup) -> None:
    p.micropython_ring_world(s, _ClearAfter(2))


def test_a_ring_that_publishes_before_the_item_is_in_loses_it() -> None:
    assert not explore(publish_first).ok


def test_a_ring_that_clears_places_it_gave_back_loses_an_item() -> None:
    assert not explore(clear_after).ok
