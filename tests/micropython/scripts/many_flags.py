# 1000 flags signalled at once, before one service: every one wakes its waiter (no primitive
# goes deaf when more are rung than the doorbell's ring holds), from task context, a locked
# heap and a thread.
import _thread
import asyncio

import irqio
import micropython

N = 1000


async def scene(how):
    flags = [irqio.Flag() for _ in range(N)]
    woke = [0]

    async def waiter(flag):
        await flag.wait()
        woke[0] += 1

    tasks = [asyncio.create_task(waiter(f)) for f in flags]
    await asyncio.sleep_ms(10)

    def set_all(_arg=None):
        for f in flags:
            f.set()

    if how == "task":
        set_all()
    elif how == "heap-locked":
        micropython.heap_lock()
        set_all()
        micropython.heap_unlock()
    else:
        _thread.start_new_thread(set_all, ())
    for t in tasks:
        await t
    # and again: none went deaf
    tasks = [asyncio.create_task(waiter(f)) for f in flags]
    await asyncio.sleep_ms(10)
    set_all()
    for t in tasks:
        await t
    print(how, "woke", woke[0])


for how in ("task", "heap-locked", "thread"):
    asyncio.run(scene(how))
print("MICROPYTHON-OK")
