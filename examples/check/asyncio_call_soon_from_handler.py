"""Waking an asyncio loop from interrupt context: only a file descriptor ends its sleep.

An idle asyncio loop sleeps in `select()`. When a signal handler runs meanwhile, CPython retries
`select()` with the same timeout (PEP 475, https://peps.python.org/pep-0475/), so work the
handler scheduled with `loop.call_soon` (or by resolving a future, or by
`asyncio.Queue.put_nowait` to a waiting getter) sits in the loop's ready queue while the loop
sleeps on: until its next timer, or forever. `loop.call_soon_threadsafe` writes the loop's
self-pipe, and irqio's primitives write the loop's doorbell eventfd: either ends the sleep.
(`call_soon` is documented as not thread-safe:
https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.call_soon.)

    irqio check examples/check/asyncio_call_soon_from_handler.py   # 2 stranded, 2 safe: exits 1
"""

import asyncio
from typing import Any

import irqio
from irqio.check import Setup, scenario


def _future_world(s: Setup, threadsafe: bool) -> None:
    got: list[int] = []
    box: dict[str, Any] = {}

    def resolve() -> None:
        fut = box["fut"]
        if not fut.done():
            fut.set_result(1)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        box["loop"] = loop
        box["fut"] = loop.create_future()  # published last: the handler looks for it
        if box.get("fired"):  # the interrupt came before there was a future to resolve
            resolve()
        got.append(await box["fut"])

    def isr() -> None:
        box["fired"] = True
        if "fut" in box:
            loop = box["loop"]
            (loop.call_soon_threadsafe if threadsafe else loop.call_soon)(resolve)

    s.run(main)
    s.handler(isr, "isr")
    s.at_end(lambda: got == [1], "the task got the value")


@scenario(port="asyncio")
def call_soon(s: Setup) -> None:
    """`loop.call_soon` from the handler: the callback is stranded while the loop sleeps."""
    _future_world(s, threadsafe=False)


@scenario(port="asyncio")
def call_soon_threadsafe(s: Setup) -> None:
    """`loop.call_soon_threadsafe` writes the self-pipe: the loop wakes."""
    _future_world(s, threadsafe=True)


@scenario(port="asyncio")
def asyncio_queue(s: Setup) -> None:
    """`asyncio.Queue.put_nowait` from the handler resolves the getter's future: stranded."""
    q: asyncio.Queue[int] = asyncio.Queue()
    got: list[int] = []

    async def main() -> None:
        got.append(await q.get())

    s.run(main)
    s.handler(lambda: q.put_nowait(1), "isr")
    s.at_end(lambda: got == [1], "the consumer got the item")


@scenario(port="asyncio")
def irqio_queue(s: Setup) -> None:
    """`irqio.Queue.offer` rings the loop's doorbell eventfd: the loop wakes."""
    q: irqio.Queue[int] = irqio.Queue(4)
    got: list[int] = []

    async def main() -> None:
        got.append(await q.get())

    s.run(main)
    s.handler(lambda: q.offer(1), "isr")
    s.at_end(lambda: got == [1], "the consumer got the item")
