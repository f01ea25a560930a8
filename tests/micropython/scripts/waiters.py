# 50 waiters per primitive inside MicroPython's own asyncio.run(), woken from task context,
# from a soft IRQ (micropython.schedule) and from a GIL-less _thread.
import _thread
import asyncio
import time

import irqio
import micropython

N = 50


def make():
    return {"Flag": irqio.Flag(), "Event": irqio.Event(), "Message": irqio.Message()}


def fire(prims, how):
    def go(_arg=None):
        prims["Flag"].set()
        prims["Event"].set()
        prims["Message"].set(how)

    if how == "task":
        go()
    elif how == "soft-irq":
        micropython.schedule(go, None)
    else:
        _thread.start_new_thread(go, ())


async def scene(how):
    prims = make()
    woke = {"Flag": 0, "Event": 0, "Message": 0}
    values = []

    async def waiter(name):
        got = await prims[name].wait()
        if name == "Message":
            values.append(got)
        woke[name] += 1

    tasks = [asyncio.create_task(waiter(name)) for name in prims for _ in range(N)]
    await asyncio.sleep_ms(5)  # every waiter parks
    parked = [prims[name].waiting for name in ("Flag", "Event", "Message")]
    fire(prims, how)
    t0 = time.ticks_ms()
    for task in tasks:
        await task
    ms = time.ticks_diff(time.ticks_ms(), t0)
    ok = all(v == how for v in values)
    print(
        how,
        "parked",
        parked,
        "woke",
        [woke[n] for n in ("Flag", "Event", "Message")],
        "values-ok",
        ok,
        "under-1s",
        ms < 1000,
    )


async def queue_getters(how):
    # 50 tasks parked in get(); 50 items arrive from `how`; each getter takes one.
    q = irqio.Queue(N)
    got = []

    async def getter():
        got.append(await q.get())

    tasks = [asyncio.create_task(getter()) for _ in range(N)]
    await asyncio.sleep_ms(5)

    def feed(_arg=None):
        for i in range(N):
            q.offer(i)

    if how == "task":
        feed()
    elif how == "soft-irq":
        micropython.schedule(feed, None)
    else:
        _thread.start_new_thread(feed, ())
    for task in tasks:
        await task
    print(how, "queue-getters", len(got), sorted(got) == list(range(N)), "overruns", q.overruns)


for how in ("task", "soft-irq", "thread"):
    asyncio.run(scene(how))
    asyncio.run(queue_getters(how))
print("MICROPYTHON-OK")
