# irqio's kernel as MicroPython's asyncio, API by API, written from MicroPython's asyncio
# documentation (docs.micropython.org/en/latest/library/asyncio.html). One import changes:
# `import irqio.kernel as asyncio`. Runs unchanged on MicroPython's unix port, its WebAssembly
# build and CPython; prints "ok NAME", "skip NAME: why" or "FAIL NAME: what" per check.
import sys
import time

import irqio.kernel as asyncio

MICROPYTHON = sys.implementation.name == "micropython"
try:
    import _thread
except ImportError:  # the WebAssembly build
    _thread = None
try:
    import socket
except ImportError:
    socket = None

if MICROPYTHON:
    ticks_ms, ticks_diff = time.ticks_ms, time.ticks_diff
else:

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


failures = []


def check(name, ok, detail=""):
    if ok:
        print("ok", name)
    else:
        print("FAIL", name + ":", detail)
        failures.append(name)


def skip(name, why):
    print("skip", name + ":", why)


def start_thread(fn, *args):
    _thread.start_new_thread(fn, args)


def sleep_in_thread(ms):
    if MICROPYTHON:
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


# -- core functions --------------------------------------------------------------------------


async def returns(x):
    return x


async def test_run_and_create_task():
    task = asyncio.create_task(returns(7))
    check("create_task returns a Task", isinstance(task, asyncio.Task))
    value = await task
    check("await task gives its result", value == 7 and task.done(), repr(value))
    check("run returns the coroutine's value", True)


async def test_current_task():
    me = asyncio.current_task()
    seen = []

    async def child():
        seen.append(asyncio.current_task())

    task = asyncio.create_task(child())
    await task
    check("current_task is the running task", seen == [task] and me is not task)


async def test_sleep_order_and_time():
    order = []

    async def sleeper(name, ms):
        await asyncio.sleep_ms(ms)
        order.append(name)

    t0 = ticks_ms()
    tasks = [asyncio.create_task(sleeper("c", 60)), asyncio.create_task(sleeper("a", 20))]
    tasks.append(asyncio.create_task(sleeper("b", 40)))
    for t in tasks:
        await t
    elapsed = ticks_diff(ticks_ms(), t0)
    check("sleep_ms wakes in deadline order", order == ["a", "b", "c"], repr(order))
    check("sleep_ms sleeps at least as asked", elapsed >= 59, str(elapsed))
    t0 = ticks_ms()
    await asyncio.sleep(0.05)
    elapsed = ticks_diff(ticks_ms(), t0)
    check("sleep takes seconds (a float)", elapsed >= 49, str(elapsed))


async def test_sleep_zero_round_robin():
    log = []

    async def worker(name):
        for _ in range(3):
            log.append(name)
            await asyncio.sleep(0)

    a = asyncio.create_task(worker("a"))
    b = asyncio.create_task(worker("b"))
    await a
    await b
    check("sleep(0) yields to the other ready tasks", log == list("ababab"), "".join(log))


# -- gather ----------------------------------------------------------------------------------


async def slow(x, ms):
    await asyncio.sleep_ms(ms)
    return x


async def fails(ms):
    await asyncio.sleep_ms(ms)
    raise ValueError("boom")


async def test_gather():
    results = await asyncio.gather(slow(1, 30), slow(2, 10), returns(3))
    check("gather returns results in order", results == [1, 2, 3], repr(results))
    task = asyncio.create_task(slow(4, 5))
    results = await asyncio.gather(task, slow(5, 1))
    check("gather takes tasks and coroutines", results == [4, 5], repr(results))
    results = await asyncio.gather(slow(1, 5), fails(1), return_exceptions=True)
    check(
        "gather(return_exceptions=True) puts the exception in the list",
        results[0] == 1 and isinstance(results[1], ValueError),
        repr(results),
    )
    other = asyncio.create_task(slow(6, 30))
    try:
        await asyncio.gather(other, fails(1))
        raised = None
    except ValueError as error:
        raised = error
    check("gather raises the first failure", isinstance(raised, ValueError), repr(raised))
    check("the other tasks keep running", not other.done() and await other == 6)
    results = await asyncio.gather()
    check("gather of nothing is []", results == [], repr(results))


async def test_gather_cancelled():
    ended = []

    async def long(i):
        try:
            await asyncio.sleep_ms(1000)
        except asyncio.CancelledError:
            ended.append(i)
            raise

    async def gatherer():
        await asyncio.gather(long(0), long(1))

    task = asyncio.create_task(gatherer())
    await asyncio.sleep_ms(10)
    task.cancel()
    try:
        await task
        outcome = "returned"
    except asyncio.CancelledError:
        outcome = "cancelled"
    await asyncio.sleep_ms(1)
    check(
        "cancelling a gather cancels its tasks",
        outcome == "cancelled" and sorted(ended) == [0, 1],
        outcome + " " + repr(ended),
    )


# -- wait_for ------------------------------------------------------------------------------------


async def test_wait_for():
    value = await asyncio.wait_for(slow(8, 10), 1)
    check("wait_for returns the result in time", value == 8, repr(value))
    cleaned = []

    async def stubborn():
        try:
            await asyncio.sleep_ms(1000)
        finally:
            cleaned.append(True)

    t0 = ticks_ms()
    try:
        await asyncio.wait_for(stubborn(), 0.03)
        raised = None
    except asyncio.TimeoutError as error:
        raised = error
    elapsed = ticks_diff(ticks_ms(), t0)
    check("wait_for raises TimeoutError", isinstance(raised, asyncio.TimeoutError), repr(raised))
    check("the awaitable got CancelledError (cleanup ran)", cleaned == [True], repr(cleaned))
    check("wait_for gave up at the timeout", 29 <= elapsed < 900, str(elapsed))
    try:
        await asyncio.wait_for_ms(slow(9, 500), 20)
        raised = None
    except asyncio.TimeoutError as error:
        raised = error
    check("wait_for_ms takes milliseconds", isinstance(raised, asyncio.TimeoutError))
    value = await asyncio.wait_for_ms(slow(10, 5), 500)
    check("wait_for_ms returns the result in time", value == 10, repr(value))
    try:
        await asyncio.wait_for(fails(1), 1)
        raised = None
    except ValueError as error:
        raised = error
    check("wait_for raises the awaitable's exception", isinstance(raised, ValueError))
    value = await asyncio.wait_for(slow(11, 5), None)
    check("wait_for(aw, None) waits without a limit", value == 11, repr(value))


async def test_wait_for_cancelled():
    inner = []

    async def long():
        try:
            await asyncio.sleep_ms(1000)
        except asyncio.CancelledError:
            inner.append("cancelled")
            raise

    async def waiter():
        await asyncio.wait_for(long(), 10)

    task = asyncio.create_task(waiter())
    await asyncio.sleep_ms(10)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    await asyncio.sleep_ms(1)
    check("cancelling a wait_for cancels what it waits for", inner == ["cancelled"], repr(inner))


# -- exceptions ------------------------------------------------------------------------------------


async def test_exception_types():
    check(
        "CancelledError is a BaseException, not an Exception",
        issubclass(asyncio.CancelledError, BaseException)
        and not issubclass(asyncio.CancelledError, Exception),
    )
    check("TimeoutError is an Exception", issubclass(asyncio.TimeoutError, Exception))


# -- Task.cancel --------------------------------------------------------------------------------


async def test_cancel():
    log = []

    async def sleeper():
        try:
            await asyncio.sleep_ms(1000)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        finally:
            log.append("cleanup")

    task = asyncio.create_task(sleeper())
    await asyncio.sleep_ms(5)
    t0 = ticks_ms()
    first = task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        log.append("awaiter saw it")
    elapsed = ticks_diff(ticks_ms(), t0)
    check(
        "cancel injects CancelledError and cleanup runs",
        log == ["cancelled", "cleanup", "awaiter saw it"],
        repr(log),
    )
    check("a cancelled sleep ends at once", elapsed < 500, str(elapsed))
    check("cancel returns True, then False once done", first and not task.cancel())

    async def ignores():
        try:
            await asyncio.sleep_ms(1000)
        except asyncio.CancelledError:
            pass
        return "ignored"

    task = asyncio.create_task(ignores())
    await asyncio.sleep_ms(1)
    task.cancel()
    check("a task may ignore the cancel", await task == "ignored")

    async def self_cancel():
        try:
            asyncio.current_task().cancel()
        except RuntimeError:
            return "refused"
        return "allowed"

    check("a task cannot cancel itself", await asyncio.create_task(self_cancel()) == "refused")


async def test_cancel_reaches_the_awaited_task():
    log = []

    async def inner():
        try:
            await asyncio.sleep_ms(1000)
        except asyncio.CancelledError:
            log.append("inner cancelled")
            raise

    async def outer(task):
        try:
            await task
        except asyncio.CancelledError:
            log.append("outer cancelled")
            raise

    inner_task = asyncio.create_task(inner())
    outer_task = asyncio.create_task(outer(inner_task))
    await asyncio.sleep_ms(5)
    outer_task.cancel()
    try:
        await outer_task
    except asyncio.CancelledError:
        pass
    check(
        "cancelling a task cancels the task it awaits",
        log == ["inner cancelled", "outer cancelled"] and inner_task.done(),
        repr(log),
    )


async def test_cancel_over_and_over_starves_nobody():
    counts = [0, 0]
    stop = [False]

    async def victim():
        while not stop[0]:
            try:
                await asyncio.sleep_ms(0)
            except asyncio.CancelledError:
                counts[0] += 1

    async def bystander():
        while not stop[0]:
            counts[1] += 1
            await asyncio.sleep_ms(0)

    v = asyncio.create_task(victim())
    b = asyncio.create_task(bystander())
    await asyncio.sleep_ms(0)  # both started (a task cancelled before it starts just ends)
    for _ in range(200):
        v.cancel()
        await asyncio.sleep_ms(0)
    stop[0] = True
    await v
    await b
    check(
        "a task cancelled over and over starves nobody",
        counts[0] >= 150 and counts[1] >= 150,
        repr(counts),
    )


# -- Event -----------------------------------------------------------------------------------


async def test_event():
    ev = asyncio.Event()
    check("an Event starts clear", not ev.is_set())
    woke = []

    async def waiter(i):
        result = await ev.wait()
        woke.append((i, result))

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await asyncio.sleep_ms(5)
    check("waiters wait while it is clear", woke == [])
    ev.set()
    for t in tasks:
        await t
    check(
        "set wakes every waiter, wait returns True",
        sorted(woke) == [(0, True), (1, True), (2, True)],
    )
    check("it stays set", ev.is_set())
    t0 = ticks_ms()
    await ev.wait()
    check("wait on a set event returns at once", ticks_diff(ticks_ms(), t0) < 50)
    ev.clear()
    check("clear clears it", not ev.is_set())


# -- Lock ----------------------------------------------------------------------------------------


async def test_lock():
    lock = asyncio.Lock()
    check("a Lock starts unlocked", not lock.locked())
    order = []

    async def user(i):
        async with lock:
            order.append(("in", i))
            await asyncio.sleep_ms(5)
            order.append(("out", i))

    tasks = [asyncio.create_task(user(i)) for i in range(3)]
    await asyncio.sleep_ms(1)
    check("locked while held", lock.locked())
    for t in tasks:
        await t
    expected = [("in", 0), ("out", 0), ("in", 1), ("out", 1), ("in", 2), ("out", 2)]
    check("one holder at a time, in the order they came", order == expected, repr(order))
    check("unlocked once all are done", not lock.locked())
    await lock.acquire()
    lock.release()
    try:
        lock.release()
        raised = False
    except RuntimeError:
        raised = True
    check("releasing an unlocked Lock raises RuntimeError", raised)

    await lock.acquire()
    blocked = asyncio.create_task(lock.acquire())
    await asyncio.sleep_ms(2)
    blocked.cancel()
    try:
        await blocked
    except asyncio.CancelledError:
        pass
    lock.release()
    check("a cancelled waiter leaves the Lock free", not lock.locked())


# -- ThreadSafeFlag --------------------------------------------------------------------------------


async def test_thread_safe_flag():
    flag = asyncio.ThreadSafeFlag()
    flag.set()
    t0 = ticks_ms()
    await flag.wait()
    check("wait on a set flag returns at once", ticks_diff(ticks_ms(), t0) < 50)
    check("wait resets the flag", not flag.is_set())
    flag.set()
    flag.clear()
    woke = []

    async def waiter(i):
        await flag.wait()
        woke.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await asyncio.sleep_ms(5)
    check("clear clears it (the waiters wait)", woke == [], repr(woke))
    flag.set()
    for t in tasks:
        await t
    check("any number of tasks may wait (irqio's Flag)", sorted(woke) == [0, 1, 2], repr(woke))
    if _thread is None:
        skip("set from another thread wakes the task", "no _thread on this interpreter")
        return
    start_thread(lambda: (sleep_in_thread(30), flag.set()))
    t0 = ticks_ms()
    await flag.wait()
    check("set from another thread wakes the task", ticks_diff(ticks_ms(), t0) >= 20)


async def test_5843_the_loop_sleeps_while_main_waits():
    # Only the main task, waiting on something an interrupt can set: the loop must not exit.
    flag = asyncio.ThreadSafeFlag()
    if _thread is None:
        if not MICROPYTHON:
            skip("5843", "no _thread")
            return
        import micropython

        # No threads: a scheduled callback (a soft IRQ) sets it once the loop has gone idle.
        def later(_):
            flag.set()

        micropython.schedule(later, None)
    else:
        start_thread(lambda: (sleep_in_thread(50), flag.set()))
    await flag.wait()
    check("the loop sleeps, not exits, while main waits on a ThreadSafeFlag (#5843)", True)


# -- the loop ------------------------------------------------------------------------------------


def test_event_loop():
    loop = asyncio.get_event_loop()
    check("get_event_loop returns the same loop", asyncio.get_event_loop() is loop)
    task = loop.create_task(slow(12, 5))
    check("loop.run_until_complete", loop.run_until_complete(task) == 12)
    check("run_until_complete promotes a coroutine", loop.run_until_complete(slow(13, 1)) == 13)

    async def stopper():
        await asyncio.sleep_ms(20)
        loop.stop()

    loop.create_task(stopper())
    t0 = ticks_ms()
    loop.run_forever()
    check("run_forever runs until stop()", ticks_diff(ticks_ms(), t0) >= 19)

    seen = []

    def handler(the_loop, context):
        seen.append((the_loop is loop, type(context["exception"]).__name__))

    loop.set_exception_handler(handler)
    check("get_exception_handler", loop.get_exception_handler() is handler)

    async def main():
        asyncio.create_task(fails(0))
        await asyncio.sleep_ms(20)

    asyncio.run(main())
    check(
        "an unretrieved task failure goes to the handler",
        seen == [(True, "ValueError")],
        repr(seen),
    )
    loop.set_exception_handler(None)

    leftover = []

    async def never():
        leftover.append("ran")

    loop.create_task(never())
    new = asyncio.new_event_loop()
    asyncio.run(slow(0, 1))
    check("new_event_loop resets the loop (old tasks are gone)", leftover == [], repr(leftover))
    check("get_event_loop is the new loop", asyncio.get_event_loop() is new)


# -- streams -------------------------------------------------------------------------------------


async def test_streams():
    if socket is None:
        skip("streams", "no socket module on this interpreter")
        return
    got = []

    async def echo(reader, writer):
        line = await reader.readline()
        got.append(line)
        writer.write(line.upper())
        await writer.drain()
        three = await reader.readexactly(3)
        writer.write(three + b"!")
        await writer.drain()
        got.append(writer.get_extra_info("peername") is not None)
        writer.close()
        await writer.wait_closed()

    server = None
    port = 0
    for attempt in range(20):
        port = 30000 + (ticks_ms() * 7 + attempt * 131) % 20000
        try:
            server = await asyncio.start_server(echo, "127.0.0.1", port)
            break
        except OSError:
            continue
    check("start_server listens on 127.0.0.1", server is not None, "no free port")
    if server is None:
        return
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello\n")
    await writer.drain()
    line = await reader.readline()
    check(
        "readline / write / drain round trip",
        line == b"HELLO\n" and got == [b"hello\n"],
        repr(line),
    )
    writer.write(b"ab")
    await writer.drain()
    await asyncio.sleep_ms(5)
    writer.write(b"c")
    await writer.drain()
    rest = await reader.read(-1)
    check("readexactly, and read(-1) to the end of the stream", rest == b"abc!", repr(rest))
    check("get_extra_info('peername')", got[1:] == [True], repr(got))
    writer.close()
    await writer.wait_closed()
    async with server:
        pass
    check("Server.close / wait_closed (async with)", server.task.done())


# -- running everything ---------------------------------------------------------------------------


async def all_async():
    await test_run_and_create_task()
    await test_current_task()
    await test_sleep_order_and_time()
    await test_sleep_zero_round_robin()
    await test_gather()
    await test_gather_cancelled()
    await test_wait_for()
    await test_wait_for_cancelled()
    await test_exception_types()
    await test_cancel()
    await test_cancel_reaches_the_awaited_task()
    await test_cancel_over_and_over_starves_nobody()
    await test_event()
    await test_lock()
    await test_thread_safe_flag()
    await test_streams()
    return "done"


check("run returns the main coroutine's value", asyncio.run(all_async()) == "done")
asyncio.run(test_5843_the_loop_sleeps_while_main_waits())
test_event_loop()
print("failures", len(failures))
if not failures:
    print("MICROPYTHON-OK")
