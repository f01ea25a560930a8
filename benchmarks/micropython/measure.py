# Runs on MicroPython's unix port (bench_micropython.py starts it): one measurement of one library
# per process; the last line it prints is one JSON object of results. Usage:
#   micropython measure.py KIND LIB [N]
# KIND: import | idle | wake | switch | queue | batch | handle | queue2 | produce
# LIB: irqio | tsf | hinch | floor, handle (produce only: a deque append; irqio's Producer)
import _thread
import asyncio
import gc
import json
import sys
import time

KIND, LIB = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 0
SECONDS = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0  # the idle window


RESULTS = {}


def result(name, value):
    RESULTS[name] = value


# -- what each library offers: a flag a thread sets and one task waits on, a queue ----------


def make_flag():
    if LIB == "irqio":
        import irqio

        return irqio.Flag()
    if LIB == "tsf":
        return asyncio.ThreadSafeFlag()
    from threadsafe import ThreadSafeEvent  # Peter Hinch's, on the path when available

    return ThreadSafeEvent()


async def flag_wait(flag):
    await flag.wait()
    if LIB == "hinch":
        flag.clear()  # ThreadSafeEvent is latched like asyncio.Event


def make_queue(size):
    if LIB == "irqio":
        import irqio

        return irqio.Queue(size)
    from threadsafe import ThreadSafeQueue

    return ThreadSafeQueue(size + 1)  # Hinch's ring of n places holds n - 1 items


# -- measurements -----------------------------------------------------------------------------


def measure_import():
    gc.collect()
    before = gc.mem_alloc()
    t0 = time.ticks_us()
    if LIB == "irqio":
        import irqio  # noqa: F401
    elif LIB == "hinch":
        import threadsafe  # noqa: F401
    else:
        import asyncio  # noqa: F401 - already imported: ThreadSafeFlag is part of it
    us = time.ticks_diff(time.ticks_us(), t0)
    gc.collect()
    result("import_us", us)
    result("heap_bytes", gc.mem_alloc() - before)


async def idle(waiters, seconds):
    # `waiters` tasks parked, one per flag (ThreadSafeFlag takes one waiter each), nothing else
    # to do: the loop should sleep. The parent reads our CPU time around the marks.
    flags = [make_flag() for _ in range(waiters)]
    tasks = [asyncio.create_task(flag_wait(f)) for f in flags]
    await asyncio.sleep_ms(50)
    print("IDLE-START")  # the unix port writes stdout unbuffered
    await asyncio.sleep_ms(int(seconds * 1000))
    print("IDLE-END")
    for f in flags:
        f.set()
    for t in tasks:
        await t


async def wake(n):
    # A _thread sets the flag n times, ~2 ms apart, after stamping the time; the task records
    # set -> resumed. One waiter at a time (all three libraries allow that).
    flag = make_flag()
    stamp = [0]
    lat = []
    done = [False]

    def thread():
        for _ in range(n):
            time.sleep_ms(2)
            stamp[0] = time.ticks_us()
            flag.set()
            while stamp[0]:  # the task clears it when it has taken the wake
                time.sleep_us(50)
        done[0] = True

    _thread.start_new_thread(thread, ())
    while len(lat) < n:
        await flag_wait(flag)
        lat.append(time.ticks_diff(time.ticks_us(), stamp[0]))
        stamp[0] = 0
    result("wake_us", lat)  # the driver takes p50 / p99 (irqio.percentile)


async def switch(n):
    # The cost of one pass through the loop (a task yielding with sleep_ms(0)) while one task
    # is parked on the library's flag: the poller looks at the parked flag on every pass.
    flag = make_flag()
    parked = asyncio.create_task(flag_wait(flag))
    await asyncio.sleep_ms(5)
    t0 = time.ticks_us()
    for _ in range(n):
        await asyncio.sleep_ms(0)
    us = time.ticks_diff(time.ticks_us(), t0)
    result("switch_us", us / n)
    flag.set()
    await parked


async def queue(n, batch=False, handle=False):
    # A _thread produces n items as fast as the queue takes them; the task consumes them, one
    # `await get()` per item, or (irqio's get_batch) all that are there per await. The
    # producer calls `offer` (any context), or (`handle`) the offer of its `Producer`.
    q = make_queue(256)
    done = [False]

    def producer():
        if LIB == "irqio":
            offer = q.producer().offer if handle else q.offer
            for i in range(n):
                while not offer(i):
                    pass
        else:
            put = q.put_sync
            for i in range(n):
                while True:
                    try:
                        put(i)
                        break
                    except IndexError:
                        pass
        done[0] = True

    # Items/s are counted from the first item taken to the last: the steady rate. What comes
    # before (starting the thread; a library's first wait on this loop, which sets up its wake
    # path and, for irqio, imports and compiles its port) is reported apart, as first_item_us.
    t0 = time.ticks_us()
    _thread.start_new_thread(producer, ())
    expect = 0
    ok = True
    first = None  # when the first item (or batch) was in hand, and how many that was
    while expect < n:
        if batch:
            for item in await q.get_batch(256):
                if item != expect:
                    ok = False
                expect += 1
        else:
            item = await q.get()
            if item != expect:
                ok = False
            expect += 1
        if first is None:
            first, first_count = time.ticks_us(), expect
    us = time.ticks_diff(time.ticks_us(), first)
    result("queue_items_per_s", int((n - first_count) * 1_000_000 / max(us, 1)))
    result("queue_first_item_us", time.ticks_diff(first, t0))
    result("queue_in_order", ok)


async def queue2(n):
    # Two _thread producers, n tagged items each, into one queue: is every item delivered once,
    # in order per producer? (irqio gives each producer context its own ring; Hinch's queue
    # documents one producer.) The consumer gives up after 2 s without an item.
    q = make_queue(256)
    put = q.offer if LIB == "irqio" else q.put_sync

    def producer(tag):
        for i in range(n):
            item = (tag, i)
            while True:
                try:
                    if put(item) is not False:
                        break
                except IndexError:
                    pass

    t0 = time.ticks_us()
    _thread.start_new_thread(producer, (0,))
    _thread.start_new_thread(producer, (1,))
    last = [-1, -1]
    received = in_order = corrupt = 0
    while received < 2 * n:
        try:
            item = await asyncio.wait_for_ms(q.get(), 2000)
        except asyncio.TimeoutError:  # noqa: UP041 - MicroPython: not the builtin
            break
        received += 1
        if not isinstance(item, tuple) or len(item) != 2:
            corrupt += 1
            continue
        tag, i = item
        if i == last[tag] + 1:
            in_order += 1
        last[tag] = i
    us = time.ticks_diff(time.ticks_us(), t0)
    result("queue2_items_per_s", int(received * 1_000_000 / us))
    result("queue2_received", received)
    result("queue2_in_order", in_order)
    result("queue2_corrupt", corrupt)
    result("queue2_expected", 2 * n)


def produce(n):
    # What one item costs the producer alone (no consumer running): 255 puts into a queue with
    # room, timed; then the queue is emptied, untimed. Whoever runs the producer pays this per
    # item, so it bounds the throughput of the queue benchmark above.
    if LIB == "floor":  # the least a producer can do: one Python call that appends
        from collections import deque

        ring = deque((), 256, 1)
        append = ring.append

        def put(item):
            append(item)

        take = ring.popleft
    elif LIB == "handle":  # irqio's Producer: the thread's own ring, no context lookup per item
        import irqio

        q = irqio.Queue(256)
        put = q.producer().offer
        take = q.get_nowait
    else:
        q = make_queue(256)
        put = q.offer if LIB == "irqio" else q.put_sync
        take = q.get_nowait if LIB == "irqio" else q.get_sync
    us = 0
    done = 0
    while done < n:
        t0 = time.ticks_us()
        for i in range(255):
            put(i)
        us += time.ticks_diff(time.ticks_us(), t0)
        for _ in range(255):
            take()
        done += 255
    result("produce_ns_per_item", int(us * 1000 / done))


if KIND == "import":
    measure_import()
elif KIND == "idle":
    asyncio.run(idle(N or 1, SECONDS))
elif KIND == "wake":
    asyncio.run(wake(N or 300))
elif KIND == "switch":
    asyncio.run(switch(N or 2000))
elif KIND == "queue":
    asyncio.run(queue(N or 50000))
elif KIND == "batch":
    asyncio.run(queue(N or 50000, batch=True))
elif KIND == "handle":
    asyncio.run(queue(N or 50000, batch=True, handle=True))
elif KIND == "queue2":
    asyncio.run(queue2(N or 50000))
elif KIND == "produce":
    produce(N or 50000)
print(json.dumps(RESULTS))
