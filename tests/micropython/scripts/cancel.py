# Cancelling a waiting task, as MicroPython's asyncio cancels: the waiter leaves the primitive,
# the task gets CancelledError, the others still wake. Also wait_any with a timeout, and loops
# in sequence (asyncio.run twice, then a new event loop).
import asyncio

import irqio

flag = irqio.Flag()
q = irqio.Queue(4)


async def cancel_scene():
    woke = []
    cancelled = []

    async def waiter(i):
        try:
            await flag.wait()
            woke.append(i)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await asyncio.sleep_ms(5)
    before = flag.waiting
    tasks[1].cancel()
    await asyncio.sleep_ms(5)
    after = flag.waiting
    flag.set()
    for t in (tasks[0], tasks[2]):
        await t
    try:
        await tasks[1]
    except asyncio.CancelledError:
        pass
    print("cancel", "waiting", before, after, "woke", sorted(woke), "cancelled", cancelled)

    # a getter cancelled while parked leaves the queue; an item offered later stays queued
    getter = asyncio.create_task(q.get())
    await asyncio.sleep_ms(5)
    getter.cancel()
    await asyncio.sleep_ms(5)
    q.offer(7)
    await asyncio.sleep_ms(5)
    print("queue-after-cancel", len(q), q.get_nowait())

    # wait_any: a timeout returns [], a set source returns itself
    a, b = irqio.Flag(), irqio.Event()
    timed_out = await irqio.wait_any(a, b, timeout=0.02)
    b.set()
    ready = await irqio.wait_any(a, b, timeout=1)
    print("wait_any", timed_out, [r is b for r in ready])


async def second_run():
    flag.set()
    await flag.wait()  # set before the wait: returns at once
    task = asyncio.create_task(flag.wait())
    await asyncio.sleep_ms(2)
    flag.set()
    await task
    return "second"


asyncio.run(cancel_scene())
print("run", asyncio.run(second_run()))
asyncio.new_event_loop()
print("new-loop", asyncio.run(second_run()))
print("MICROPYTHON-OK")
