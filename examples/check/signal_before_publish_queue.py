"""A queue whose interrupt side signals before it publishes strands an item until the next put.

The producer runs in a foreign context (another core, a C-library thread): it and task context
interleave both ways. `put()` sets the flag *then* appends the item. If task context runs
between the two, the consumer wakes on the flag, finds the queue empty and waits again, and the
flag is spent: the item sits in the queue until some later `put()` sets the flag again. (Peter
Hinch's `ThreadSafeQueue.put_sync` has this order; irqio's rule is publish, then signal.)

    irqio check examples/check/signal_before_publish_queue.py     # finds it, exits 1
"""

from collections import deque

import irqio
from irqio.check import Setup, scenario


class SignalFirstQueue:
    def __init__(self) -> None:
        self.items: deque[int] = deque()
        self.ready = irqio.Flag()

    def put(self, item: int) -> None:  # any context
        self.ready.set()  # signal ...
        self.items.append(item)  # ... then publish: the wrong order

    async def get(self) -> int:  # task context
        while not self.items:
            await self.ready.wait()
        return self.items.popleft()


@scenario(preemptions=2, modules=["@scenario", "irqio.runtime.primitives"])  # this file and the Flag
def signal_before_publish(s: Setup) -> None:
    q = SignalFirstQueue()
    got: list[int] = []

    async def main() -> None:
        got.append(await q.get())

    s.run(main)
    s.thread(lambda: q.put(1), "producer")
    s.at_end(lambda: got == [1], "the consumer received the item that was put")
