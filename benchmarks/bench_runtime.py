#!/usr/bin/env python3
"""irqio runtime benchmarks, side by side with peer libraries, in one run.

    python benchmarks/bench_runtime.py [--json] [--quick] [--loop {asyncio,uvloop,both}]

Measurements (each row says what it measures; see benchmarks/README.md):

* round trip   thread -> task -> thread, p50 / p99 in µs
* throughput   one producer thread -> one consumer task through a queue, items/s
* set cost     interrupt-side set() (or the peer's thread-side equivalent), ns per call,
               with the doorbell wakes (syscalls) counted against calls
* idle CPU     process CPU time while tasks wait with nothing arriving
* wake latency thread set -> task resumed, with 1, 100 and 10,000 primitives alive

Peers: asyncio Event / Queue fed through `loop.call_soon_threadsafe`, janus, culsans, aiologic
(Event, SimpleQueue) and trio (`TrioToken.run_sync_soon`; trio runs its own loop, one row).
Every wait has a timeout and every thread is joined; a stuck case is reported, never hangs.
"""

from __future__ import annotations

import _thread
import argparse
import asyncio
import gc
import json
import math
import os
import platform
import select
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import irqio
from irqio.runtime.ports.asyncio import running_doorbell

pc = time.perf_counter_ns

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is in the bench extra
    uvloop = None

try:
    import janus
except ImportError:  # pragma: no cover
    janus = None

try:
    import culsans
except ImportError:  # pragma: no cover
    culsans = None

try:
    import aiologic
except ImportError:  # pragma: no cover
    aiologic = None

try:
    import trio
    import trio.lowlevel
except ImportError:  # pragma: no cover
    trio = None


# -- sizes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    rt_rounds: int  # round trips per row and block (upper bound)
    rt_seconds: float  # time bound per round-trip row and block
    rt_blocks: int  # round-trip blocks; every row runs once per block, interleaved
    tp_items: int  # items per throughput row (upper bound)
    tp_seconds: float  # time bound per throughput row
    set_calls: int  # set() calls per set-cost row (upper bound)
    set_seconds: float
    idle_seconds: float  # idle CPU window per row
    wl_rounds: int  # wake-latency samples per block
    wl_blocks: int  # blocks per population size (interleaved 1, 100, 10000, 1, ...)
    wl_counts: tuple[int, ...]
    case_timeout: float  # hard bound on any one case


FULL = Sizes(5_000, 0.25, 5, 3_000_000, 1.0, 200_000, 0.25, 2.0, 400, 12, (1, 100, 10_000), 30.0)
QUICK = Sizes(1_000, 0.08, 2, 400_000, 0.2, 40_000, 0.05, 0.3, 250, 1, (1, 100, 10_000), 15.0)
SMOKE = Sizes(150, 0.05, 1, 20_000, 0.05, 2_000, 0.02, 0.05, 50, 1, (1, 100, 1_000), 10.0)

QUEUE_CAPACITY = 65_536  # bounded queues (irqio, janus, culsans) in the throughput rows
REPLY_LOCK = "reply: task releases a _thread lock the thread waits on"


class CaseError(Exception):
    pass


# -- running a case -------------------------------------------------------------------------


def loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if loop == "asyncio":
        return asyncio.SelectorEventLoop
    if uvloop is None:
        raise CaseError("uvloop is not installed")
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def run_case(loop: str, make: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    """Run one case in a fresh loop of kind `loop` in this thread, bounded by `timeout`."""

    async def bounded() -> Any:
        return await asyncio.wait_for(make(), timeout)

    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(bounded())


class Worker(threading.Thread):
    """A foreign thread running `fn`; keeps its result or error. Daemon: never blocks exit."""

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:
            self.error = exc

    async def ajoin(self, timeout: float = 5.0) -> Any:
        """Join from inside the loop without blocking it."""
        end = time.monotonic() + timeout
        while self.is_alive():
            if time.monotonic() > end:
                raise CaseError(f"thread {self.name} did not finish in {timeout} s")
            await asyncio.sleep(0.001)
        if self.error is not None:
            raise CaseError(f"thread {self.name} failed: {self.error!r}") from self.error
        return self.result

    def join_checked(self, timeout: float = 5.0) -> Any:
        self.join(timeout)
        if self.is_alive():
            raise CaseError(f"thread {self.name} did not finish in {timeout} s")
        if self.error is not None:
            raise CaseError(f"thread {self.name} failed: {self.error!r}") from self.error
        return self.result


def pctl(samples: list[int], q: float) -> float:
    s = sorted(samples)
    if not s:
        return math.nan
    return float(s[min(len(s) - 1, int(q * len(s)))])


def trim(samples: list[Any]) -> list[Any]:
    """Drop the warm-up: the first 5 % of the samples."""
    return samples[len(samples) // 20 :]


# -- round trip (and wake latency, which shares the machinery) ------------------------------


class RoundTrip:
    """One library's round trip: thread signals, task wakes and replies, thread waits.

    Thread side: `t_signal()`, `t_wait(timeout) -> bool`. Task side: `await a_wait()`,
    `a_reply()`. `stop` tells the task to leave after the next wake.
    """

    lib = ""
    measures = ""

    def __init__(self) -> None:
        self.stop = False

    async def setup(self) -> None:
        pass

    def t_signal(self) -> None:
        raise NotImplementedError

    def t_wait(self, timeout: float) -> bool:
        raise NotImplementedError

    async def a_wait(self) -> None:
        raise NotImplementedError

    def a_reply(self) -> None:
        raise NotImplementedError


class LockReply(RoundTrip):
    """Reply through a plain `_thread` lock: the task releases it, the thread acquires it."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = _thread.allocate_lock()
        self.reply.acquire()

    def t_wait(self, timeout: float) -> bool:
        return self.reply.acquire(timeout=timeout)

    def a_reply(self) -> None:
        self.reply.release()


class IrqioFlagRT(LockReply):
    lib = "irqio Flag"
    measures = "thread: Flag.set(); task: await Flag.wait(); " + REPLY_LOCK

    def __init__(self) -> None:
        super().__init__()
        self.flag = irqio.Flag()

    def t_signal(self) -> None:
        self.flag.set()

    async def a_wait(self) -> None:
        await self.flag.wait()


class IrqioEventRT(LockReply):
    lib = "irqio Event"
    measures = "thread: Event.set(); task: await Event.wait(); Event.clear(); " + REPLY_LOCK

    def __init__(self) -> None:
        super().__init__()
        self.ev = irqio.Event()

    def t_signal(self) -> None:
        self.ev.set()

    async def a_wait(self) -> None:
        await self.ev.wait()
        self.ev.clear()


class IrqioQueueRT(LockReply):
    lib = "irqio Queue"
    measures = "thread: Queue.put_nowait(x); task: await Queue.get(); " + REPLY_LOCK

    def __init__(self) -> None:
        super().__init__()
        self.q: irqio.Queue[int] = irqio.Queue(16)

    def t_signal(self) -> None:
        self.q.put_nowait(1)

    async def a_wait(self) -> None:
        await self.q.get()


class AsyncioEventRT(LockReply):
    lib = "asyncio Event+cst"
    measures = (
        "thread: loop.call_soon_threadsafe(ev.set); task: await ev.wait(); ev.clear(); "
        + REPLY_LOCK
    )

    async def setup(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.ev = asyncio.Event()

    def t_signal(self) -> None:
        self.loop.call_soon_threadsafe(self.ev.set)

    async def a_wait(self) -> None:
        await self.ev.wait()
        self.ev.clear()


class JanusRT(RoundTrip):
    lib = "janus"
    measures = (
        "thread: req.sync_q.put(x); task: await req.async_q.get(); "
        "reply: rep.async_q.put_nowait(x), thread: rep.sync_q.get(timeout)"
    )
    module: Any = janus

    async def setup(self) -> None:
        self.req = self.module.Queue()
        self.rep = self.module.Queue()

    def t_signal(self) -> None:
        self.req.sync_q.put(1)

    def t_wait(self, timeout: float) -> bool:
        try:
            self.rep.sync_q.get(timeout=timeout)
        except Exception:
            return False
        return True

    async def a_wait(self) -> None:
        await self.req.async_q.get()

    def a_reply(self) -> None:
        self.rep.async_q.put_nowait(1)


class CulsansRT(JanusRT):
    lib = "culsans"
    measures = JanusRT.measures
    module = culsans


class AiologicEventRT(RoundTrip):
    lib = "aiologic Event"
    measures = (
        "one-shot Events per round; thread: req[i].set(); task: await req[i]; "
        "reply: rep[i].set(), thread: rep[i].wait(timeout) (aiologic's green side)"
    )

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.req = [aiologic.Event() for _ in range(rounds + 2)]
        self.rep = [aiologic.Event() for _ in range(rounds + 2)]
        self.ti = self.ai = self.ri = 0

    def t_signal(self) -> None:
        self.req[self.ti].set()
        self.ti += 1

    def t_wait(self, timeout: float) -> bool:
        ok: bool = self.rep[self.ri].wait(timeout)
        self.ri += 1
        return ok

    async def a_wait(self) -> None:
        await self.req[self.ai]
        self.ai += 1

    def a_reply(self) -> None:
        self.rep[self.ai - 1].set()


class AiologicQueueRT(RoundTrip):
    lib = "aiologic SimpleQueue"
    measures = (
        "thread: req.put(x); task: await req.async_get(); "
        "reply: rep.put(x), thread: rep.green_get(timeout)"
    )

    async def setup(self) -> None:
        self.req = aiologic.SimpleQueue()
        self.rep = aiologic.SimpleQueue()

    def t_signal(self) -> None:
        self.req.put(1)

    def t_wait(self, timeout: float) -> bool:
        try:
            self.rep.green_get(timeout=timeout)
        except Exception:
            return False
        return True

    async def a_wait(self) -> None:
        await self.req.async_get()

    def a_reply(self) -> None:
        self.rep.put(1)


def rt_client(rt: RoundTrip, rounds: int, seconds: float, stamps: list[int]) -> list[int]:
    """Thread side of a round trip: returns the round-trip samples (ns)."""
    samples: list[int] = []
    end = pc() + int(seconds * 1e9)
    try:
        for _ in range(rounds):
            t0 = pc()
            rt.t_signal()
            if not rt.t_wait(2.0):
                raise CaseError(f"{rt.lib}: no reply within 2 s")
            t1 = pc()
            samples.append(t1 - t0)
            if stamps:  # wake latency: the task stamped its resume time
                stamps[-1] -= t0
            if t1 > end:
                break
    finally:
        rt.stop = True
        rt.t_signal()
    return samples


async def rt_server(rt: RoundTrip, stamps: list[int] | None) -> None:
    while True:
        await rt.a_wait()
        if rt.stop:
            return
        if stamps is not None:
            stamps.append(pc())
        rt.a_reply()


async def rt_case(
    rt: RoundTrip, rounds: int, seconds: float, *, wake_stamps: bool = False
) -> tuple[list[int], list[int]]:
    """Run a round-trip case in the running loop: (round-trip samples, wake-latency samples)."""
    await rt.setup()
    stamps: list[int] = []
    server = asyncio.ensure_future(rt_server(rt, stamps if wake_stamps else None))
    await asyncio.sleep(0)  # the server parks (binds its primitive) first
    # The client adjusts stamps[-1] in place; a stamp list that is non-empty signals that.
    worker = Worker(lambda: rt_client(rt, rounds, seconds, stamps if wake_stamps else []), "rt")
    if wake_stamps:
        stamps.append(0)  # placeholder so the first adjustment has a slot; dropped below
    worker.start()
    try:
        samples = await worker.ajoin(seconds + 10.0)
        await asyncio.wait_for(server, 5.0)
    finally:
        server.cancel()
    wakes = [s for s in stamps[1:]] if wake_stamps else []
    return samples, wakes


def trio_rt(rounds: int, seconds: float, *, wake_stamps: bool = False, idle: int = 0) -> Any:
    """trio: thread token.run_sync_soon(ev.set); task await ev.wait(), new Event; lock reply."""

    async def main() -> tuple[list[int], list[int]]:
        token = trio.lowlevel.current_trio_token()
        reply = _thread.allocate_lock()
        reply.acquire()
        state: dict[str, Any] = {"ev": trio.Event(), "stop": False}
        stamps: list[int] = [0]

        def set_current() -> None:
            state["ev"].set()

        def client() -> list[int]:
            samples: list[int] = []
            end = pc() + int(seconds * 1e9)
            try:
                for _ in range(rounds):
                    t0 = pc()
                    token.run_sync_soon(set_current)
                    if not reply.acquire(timeout=2.0):
                        raise CaseError("trio: no reply within 2 s")
                    t1 = pc()
                    samples.append(t1 - t0)
                    stamps[-1] -= t0
                    if t1 > end:
                        break
            finally:
                state["stop"] = True
                token.run_sync_soon(set_current)
            return samples

        async def server() -> None:
            while True:
                await state["ev"].wait()
                state["ev"] = trio.Event()
                if state["stop"]:
                    return
                stamps.append(pc())
                reply.release()

        idle_events = [trio.Event() for _ in range(idle)]
        with trio.fail_after(seconds + 15.0):
            async with trio.open_nursery() as nursery:
                for ev in idle_events:
                    nursery.start_soon(ev.wait)
                nursery.start_soon(server)
                await trio.sleep(0)
                worker = Worker(client, "trio-rt")
                worker.start()
                while worker.is_alive():
                    await trio.sleep(0.001)
                samples = worker.join_checked()
                for ev in idle_events:
                    ev.set()
        return samples, stamps[1:]

    return trio.run(main)


BARE_MEASURES = (
    "no event loop: thread: eventfd write; a second thread blocked in epoll.poll() "
    "wakes, reads it; " + REPLY_LOCK
)


class BareRT(LockReply):
    """The signal half with no event loop: an eventfd write wakes a thread asleep in epoll."""

    def __init__(self) -> None:
        super().__init__()
        self.efd = os.eventfd(0, os.EFD_NONBLOCK)

    def t_signal(self) -> None:
        os.eventfd_write(self.efd, 1)


def bare_rt(rounds: int, seconds: float) -> tuple[list[int], list[int]]:
    """The same two cross-thread wakes with no event loop at all: what any loop pays.

    A loop asleep in epoll is woken by a write to an fd, and the reply wakes a thread blocked
    on a lock: both are a kernel wake of a sleeping thread, which on an idle VM includes
    waking the idle vCPU. Only spinning avoids that cost, and spinning costs idle CPU.
    """
    rt = BareRT()
    ep = select.epoll()
    ep.register(rt.efd, select.EPOLLIN)
    stamps: list[int] = [0]

    def server() -> None:
        while True:
            if not ep.poll(5.0):
                raise CaseError("bare threads: no signal within 5 s")
            os.eventfd_read(rt.efd)
            if rt.stop:
                return
            stamps.append(pc())
            rt.a_reply()

    srv = Worker(server, "bare-server")
    srv.start()
    try:
        samples = rt_client(rt, rounds, seconds, stamps)
        srv.join_checked(seconds + 10.0)
    finally:
        ep.close()
        os.close(rt.efd)
    return samples, stamps[1:]


# -- throughput -----------------------------------------------------------------------------

CHUNK = 1024


@dataclass
class TPResult:
    items: int
    seconds: float
    overruns: int = 0


def produce(
    put: Callable[[int], object], items: int, seconds: float, finish: Callable[[], None]
) -> int:
    """Put as fast as possible until `items` or `seconds`; then `finish()` (the sentinel)."""
    end = pc() + int(seconds * 1e9)
    sent = 0
    try:
        while sent < items:
            for i in range(CHUNK):
                put(i)
            sent += CHUNK
            if pc() > end:
                break
    finally:
        finish()
    return sent


async def tp_case(
    start_consumer: Callable[[], Awaitable[int]],
    put: Callable[[int], object],
    finish: Callable[[], None],
    items: int,
    seconds: float,
) -> TPResult:
    consumer = asyncio.ensure_future(start_consumer())
    await asyncio.sleep(0)
    t0 = pc()
    worker = Worker(lambda: produce(put, items, seconds, finish), "producer")
    worker.start()
    try:
        got = await asyncio.wait_for(asyncio.shield(consumer), seconds + 20.0)
        t1 = pc()
        sent = await worker.ajoin(5.0)
    finally:
        consumer.cancel()
    if got != sent:
        raise CaseError(f"throughput: sent {sent} items, got {got}")
    return TPResult(got, (t1 - t0) / 1e9)


async def tp_irqio(items: int, seconds: float, batch: bool) -> TPResult:
    q: irqio.Queue[int | None] = irqio.Queue(QUEUE_CAPACITY)
    retries = [0]
    offer = q.offer
    sleep = time.sleep

    def put(item: int | None) -> None:
        # The producer's only choice when full: count the refusal, yield the GIL, retry.
        while not offer(item):
            retries[0] += 1
            sleep(0)

    async def consume() -> int:
        got = 0
        if batch:
            get_batch = q.get_batch
            while True:
                chunk = await get_batch(QUEUE_CAPACITY)
                if chunk[-1] is None:
                    return got + len(chunk) - 1
                got += len(chunk)
        get = q.get
        while True:
            if await get() is None:
                return got
            got += 1

    result = await tp_case(consume, put, lambda: put(None), items, seconds)
    result.overruns = q.overruns
    return result


async def tp_asyncio(items: int, seconds: float) -> TPResult:
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[int | None] = asyncio.Queue()
    cst = loop.call_soon_threadsafe
    put_nowait = q.put_nowait

    def put(item: int | None) -> None:
        cst(put_nowait, item)

    async def consume() -> int:
        got = 0
        get = q.get
        while True:
            if await get() is None:
                return got
            got += 1

    return await tp_case(consume, put, lambda: put(None), items, seconds)


async def tp_janus_like(module: Any, items: int, seconds: float) -> TPResult:
    q = module.Queue(QUEUE_CAPACITY)
    sync_put = q.sync_q.put

    def put(item: int | None) -> None:
        sync_put(item, timeout=5.0)

    async def consume() -> int:
        got = 0
        get = q.async_q.get
        while True:
            if await get() is None:
                return got
            got += 1

    try:
        return await tp_case(consume, put, lambda: put(None), items, seconds)
    finally:
        q.close()
        await asyncio.wait_for(q.wait_closed(), 5.0)


async def tp_aiologic(items: int, seconds: float) -> TPResult:
    q = aiologic.SimpleQueue()

    async def consume() -> int:
        got = 0
        get = q.async_get
        while True:
            if await get() is None:
                return got
            got += 1

    return await tp_case(consume, q.put, lambda: q.put(None), items, seconds)


def trio_tp(items: int, seconds: float) -> TPResult:
    async def main() -> TPResult:
        token = trio.lowlevel.current_trio_token()
        send, recv = trio.open_memory_channel[int | None](math.inf)
        rss = token.run_sync_soon
        send_nowait = send.send_nowait

        def put(item: int | None) -> None:
            rss(send_nowait, item)

        got = 0
        with trio.fail_after(seconds + 20.0):
            t0 = pc()
            worker = Worker(lambda: produce(put, items, seconds, lambda: put(None)), "trio-tp")
            worker.start()
            async for item in recv:
                if item is None:
                    break
                got += 1
            t1 = pc()
            while worker.is_alive():
                await trio.sleep(0.001)
            sent = worker.join_checked()
        if got != sent:
            raise CaseError(f"trio throughput: sent {sent}, got {got}")
        return TPResult(got, (t1 - t0) / 1e9)

    return trio.run(main)


# -- set cost -------------------------------------------------------------------------------


@dataclass
class SetResult:
    calls: int
    ns_median: float  # median over chunks of CHUNK calls, per call
    ns_mean: float  # total time / calls (includes any syscall the path makes)
    wakes: int | None = None  # doorbell wake syscalls during the calls (irqio)
    services: int | None = None  # doorbell service cycles during the calls (irqio)


def timed_calls(fn: Callable[[], object], calls: int, seconds: float) -> SetResult:
    """Call `fn` in chunks of CHUNK until `calls` or `seconds`; per-call ns."""
    chunks: list[int] = []
    end = pc() + int(seconds * 1e9)
    done = 0
    r = range(CHUNK)
    while done < calls:
        t0 = pc()
        for _ in r:
            fn()
        t1 = pc()
        chunks.append(t1 - t0)
        done += CHUNK
        if t1 > end:
            break
    return SetResult(done, statistics.median(chunks) / CHUNK, sum(chunks) / done)


async def set_irqio_loop_thread(calls: int, seconds: float, n_flags: int) -> SetResult:
    """In the loop thread, between two services: `_due` (and the flag's `_queued`) stay True."""
    db = running_doorbell()
    flags = [irqio.Flag() for _ in range(n_flags)]
    stop = [False]

    async def waiter(f: irqio.Flag) -> None:
        while not stop[0]:
            await f.wait()

    tasks = [asyncio.ensure_future(waiter(f)) for f in flags]
    await asyncio.sleep(0)
    chunks: list[int] = []
    wakes = services = done = 0
    end = pc() + int(seconds * 1e9)
    sets = [f.set for f in flags]
    r = range(CHUNK // n_flags or 1)
    while done < calls and pc() < end:
        sets[0]()  # rings the doorbell: from here on a wake is due until the next service
        w0, s0 = db.alerts.value, db.services
        t0 = pc()
        for _ in r:
            for s in sets:
                s()
        t1 = pc()
        wakes += db.alerts.value - w0
        services += db.services - s0
        chunks.append(t1 - t0)
        done += len(r) * n_flags
        await asyncio.sleep(0)  # let the service run (it wakes the waiters)
        await asyncio.sleep(0)
    stop[0] = True
    for f in flags:
        f.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5.0)
    per = len(r) * n_flags
    return SetResult(done, statistics.median(chunks) / per, sum(chunks) / done, wakes, services)


async def set_from_thread(
    fn: Callable[[], object],
    waiter: Callable[[list[bool]], Awaitable[None]],
    wake_up: Callable[[], object],
    calls: int,
    seconds: float,
    doorbell: bool = False,
) -> SetResult:
    """A foreign thread calls `fn` in a tight loop while a task waits (and re-waits)."""
    stop = [False]
    task = asyncio.ensure_future(waiter(stop))
    await asyncio.sleep(0.001)
    db = running_doorbell() if doorbell else None
    w0 = db.alerts.value if db else 0
    s0 = db.services if db else 0
    worker = Worker(lambda: timed_calls(fn, calls, seconds), "setter")
    worker.start()
    result: SetResult = await worker.ajoin(seconds + 20.0)
    if db is not None:
        result.wakes = db.alerts.value - w0
        result.services = db.services - s0
    await asyncio.sleep(0.01)
    stop[0] = True
    wake_up()
    try:
        await asyncio.wait_for(task, 10.0)
    finally:
        task.cancel()
    return result


async def set_irqio_thread(calls: int, seconds: float) -> SetResult:
    flag = irqio.Flag()

    async def waiter(stop: list[bool]) -> None:
        while not stop[0]:
            await flag.wait()

    return await set_from_thread(flag.set, waiter, flag.set, calls, seconds, doorbell=True)


async def set_asyncio_thread(calls: int, seconds: float) -> SetResult:
    loop = asyncio.get_running_loop()
    ev = asyncio.Event()
    cst = loop.call_soon_threadsafe

    async def waiter(stop: list[bool]) -> None:
        while not stop[0]:
            await ev.wait()
            ev.clear()

    return await set_from_thread(lambda: cst(ev.set), waiter, lambda: cst(ev.set), calls, seconds)


async def set_janus_like_thread(module: Any, calls: int, seconds: float) -> SetResult:
    q = module.Queue()

    async def waiter(stop: list[bool]) -> None:
        while not stop[0]:
            await q.async_q.get()

    put = q.sync_q.put_nowait
    try:
        return await set_from_thread(lambda: put(1), waiter, lambda: put(1), calls, seconds)
    finally:
        q.close()
        await asyncio.wait_for(q.wait_closed(), 5.0)


async def set_aiologic_queue_thread(calls: int, seconds: float) -> SetResult:
    q = aiologic.SimpleQueue()

    async def waiter(stop: list[bool]) -> None:
        while not stop[0]:
            await q.async_get()

    return await set_from_thread(lambda: q.put(1), waiter, lambda: q.put(1), calls, seconds)


async def set_aiologic_event_thread(calls: int, seconds: float) -> SetResult:
    ev = aiologic.Event()

    async def waiter(stop: list[bool]) -> None:
        await ev

    return await set_from_thread(ev.set, waiter, ev.set, calls, seconds)


def trio_set(calls: int, seconds: float) -> SetResult:
    async def main() -> SetResult:
        token = trio.lowlevel.current_trio_token()
        state: dict[str, Any] = {"ev": trio.Event(), "stop": False}

        def set_current() -> None:
            state["ev"].set()

        async def waiter() -> None:
            while not state["stop"]:
                await state["ev"].wait()
                state["ev"] = trio.Event()

        rss = token.run_sync_soon
        with trio.fail_after(seconds + 20.0):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                await trio.sleep(0.001)
                worker = Worker(lambda: timed_calls(lambda: rss(set_current), calls, seconds), "s")
                worker.start()
                while worker.is_alive():
                    await trio.sleep(0.001)
                result: SetResult = worker.join_checked()
                await trio.sleep(0.01)
                state["stop"] = True
                set_current()
        return result

    return trio.run(main)


# -- idle CPU -------------------------------------------------------------------------------


@dataclass
class IdleResult:
    wall: float
    cpu: float  # seconds of process CPU time during the window

    @property
    def pct(self) -> float:
        return 100.0 * self.cpu / self.wall if self.wall else math.nan


IDLE_TASKS = 10


async def idle_window(seconds: float) -> IdleResult:
    await asyncio.sleep(0.05)  # let the waiters park
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return IdleResult(time.perf_counter() - w0, time.process_time() - c0)


async def idle_case(waits: list[Callable[[], Awaitable[Any]]], seconds: float) -> IdleResult:
    tasks = [asyncio.ensure_future(w()) for w in waits]
    try:
        return await idle_window(seconds)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def idle_irqio(seconds: float) -> IdleResult:
    flags = [irqio.Flag() for _ in range(IDLE_TASKS // 2)]
    queues: list[irqio.Queue[int]] = [irqio.Queue(8) for _ in range(IDLE_TASKS // 2)]
    waits: list[Callable[[], Awaitable[Any]]] = [f.wait for f in flags]
    waits += [q.get for q in queues]
    return await idle_case(waits, seconds)


async def idle_asyncio(seconds: float) -> IdleResult:
    evs = [asyncio.Event() for _ in range(IDLE_TASKS // 2)]
    qs: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(IDLE_TASKS // 2)]
    waits: list[Callable[[], Awaitable[Any]]] = [e.wait for e in evs]
    waits += [q.get for q in qs]
    return await idle_case(waits, seconds)


async def idle_janus_like(module: Any, seconds: float) -> IdleResult:
    qs = [module.Queue() for _ in range(IDLE_TASKS)]
    try:
        return await idle_case([q.async_q.get for q in qs], seconds)
    finally:
        for q in qs:
            q.close()
            await asyncio.wait_for(q.wait_closed(), 5.0)


async def idle_aiologic(seconds: float) -> IdleResult:
    evs = [aiologic.Event() for _ in range(IDLE_TASKS // 2)]
    qs = [aiologic.SimpleQueue() for _ in range(IDLE_TASKS // 2)]

    def await_event(ev: Any) -> Callable[[], Awaitable[Any]]:
        async def w() -> None:
            await ev

        return w

    waits = [await_event(e) for e in evs] + [q.async_get for q in qs]
    try:
        return await idle_case(waits, seconds)
    finally:
        for e in evs:
            e.set()


def trio_idle(seconds: float) -> IdleResult:
    async def main() -> IdleResult:
        evs = [trio.Event() for _ in range(IDLE_TASKS)]
        with trio.fail_after(seconds + 10.0):
            async with trio.open_nursery() as nursery:
                for ev in evs:
                    nursery.start_soon(ev.wait)
                await trio.sleep(0.05)
                gc.collect()
                c0, w0 = time.process_time(), time.perf_counter()
                await trio.sleep(seconds)
                result = IdleResult(time.perf_counter() - w0, time.process_time() - c0)
                for ev in evs:
                    ev.set()
        return result

    return trio.run(main)


# -- wake latency with many primitives alive ------------------------------------------------


def block_paired_ratio(blocks: list[list[int]], base: list[list[int]]) -> float | None:
    """Median over blocks of p50(block) ÷ p50(base's block of the same index), or None.

    The sizes of one block run back to back, so a spell of the host (here latencies shift
    between ~30 and ~45 µs for seconds at a time) hits both sides of each ratio alike, where
    comparing the overall p50s would read it as an effect of the size.
    """
    ratios = [pctl(b, 0.5) / pctl(f, 0.5) for b, f in zip(blocks, base, strict=True) if b and f]
    return statistics.median(ratios) if ratios else None


async def wl_case(kind: str, alive: int, rounds: int, seconds: float) -> list[int]:
    """Wake latency of one primitive while `alive - 1` others exist, each with a parked task."""
    extra_tasks: list[asyncio.Future[Any]] = []
    rt: RoundTrip
    if kind == "irqio":
        others = [irqio.Flag() for _ in range(alive - 1)]
        extra_tasks = [asyncio.ensure_future(f.wait()) for f in others]
        rt = IrqioFlagRT()
    else:
        aothers = [asyncio.Event() for _ in range(alive - 1)]
        extra_tasks = [asyncio.ensure_future(e.wait()) for e in aothers]
        rt = AsyncioEventRT()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    try:
        _samples, wakes = await rt_case(rt, rounds, seconds, wake_stamps=True)
    finally:
        for t in extra_tasks:
            t.cancel()
        await asyncio.gather(*extra_tasks, return_exceptions=True)
    return wakes


# -- the run --------------------------------------------------------------------------------


ROUND_TRIP_LIBS = [
    "irqio Flag",
    "irqio Event",
    "irqio Queue",
    "asyncio Event+cst",
    "janus",
    "culsans",
    "aiologic Event",
    "aiologic SimpleQueue",
]
THROUGHPUT_MEASURES = {
    "irqio Queue get_batch": (
        f"thread: Queue.offer(x) (capacity {QUEUE_CAPACITY}; when refused: count, sleep(0), "
        "retry); task: await Queue.get_batch(capacity)"
    ),
    "irqio Queue get": (
        f"thread: Queue.offer(x) (capacity {QUEUE_CAPACITY}, retry as above); "
        "task: await Queue.get()"
    ),
    "asyncio Queue+cst": (
        "thread: loop.call_soon_threadsafe(q.put_nowait, x) (unbounded); task: await q.get()"
    ),
    "janus": f"thread: sync_q.put(x) (maxsize {QUEUE_CAPACITY}); task: await async_q.get()",
    "culsans": f"thread: sync_q.put(x) (maxsize {QUEUE_CAPACITY}); task: await async_q.get()",
    "aiologic SimpleQueue": "thread: q.put(x) (unbounded); task: await q.async_get()",
    "trio": (
        "thread: token.run_sync_soon(send.send_nowait, x) into an unbounded memory channel; "
        "task: async for x in recv"
    ),
}
SET_MEASURES = {
    "irqio Flag.set, wake due": (
        "loop thread, between two services (a task waits on the Flag): the first set() rang "
        "the doorbell, the timed ones find it due"
    ),
    "irqio Flag.set ×1000 flags, wake due": (
        "loop thread: set() on 1000 distinct Flags (each with a waiting task) after the first "
        "rang: each goes through Doorbell.schedule and finds the wake due"
    ),
    "irqio Flag.set, thread": (
        "foreign thread, tight loop, a task waits and re-waits: the loop services meanwhile"
    ),
    "asyncio cst(ev.set)": (
        "foreign thread: loop.call_soon_threadsafe(ev.set), a task waits and re-waits"
    ),
    "janus sync_q.put_nowait": "foreign thread, a task awaits async_q.get() in a loop",
    "culsans sync_q.put_nowait": "foreign thread, a task awaits async_q.get() in a loop",
    "aiologic SimpleQueue.put": "foreign thread, a task awaits async_get() in a loop",
    "aiologic Event.set": "foreign thread; one-shot Event, set after the first: a no-op check",
    "trio run_sync_soon(ev.set)": (
        "foreign thread: token.run_sync_soon(set current Event), a task waits and re-waits"
    ),
}
IDLE_MEASURES = (
    f"process CPU time (time.process_time) while {IDLE_TASKS} tasks wait on the library's "
    "primitives (half events, half queues where it has both) with nothing arriving"
)
WL_MEASURES = (
    "thread: stamp, set one primitive; task: stamp on resume (its reply paces the thread); "
    "N-1 other primitives alive, each with a parked task; p50 = median of the per-block p50s"
)


class Bench:
    def __init__(self, sizes: Sizes, loops: list[str], progress: Any) -> None:
        self.sizes = sizes
        self.loops = loops
        self.progress = progress
        self.results: dict[str, list[dict[str, Any]]] = {
            "round_trip": [],
            "throughput": [],
            "set_cost": [],
            "idle_cpu": [],
            "wake_latency": [],
        }
        self.errors: list[str] = []
        self.rt_samples: dict[tuple[str, str], tuple[str, list[list[int]], list[list[int]]]] = {}

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        if self.progress is not None:
            self.progress.update(self.task_id, description=what)
            self.progress.refresh()
        yield
        if self.progress is not None:
            self.progress.advance(self.task_id)
            self.progress.refresh()

    def plan(self) -> list[tuple[str, Callable[[], None]]]:
        steps: list[tuple[str, Callable[[], None]]] = []
        # Round trips in interleaved blocks: a noisy spell on the machine hits every row alike.
        for block in range(self.sizes.rt_blocks):
            tag = f" · block {block + 1}/{self.sizes.rt_blocks}"
            for loop in self.loops:
                for lib in ROUND_TRIP_LIBS:
                    steps.append((f"round trip · {lib} · {loop}{tag}", self._rt(loop, lib)))
            steps.append((f"round trip · trio{tag}", self._rt_trio))
            steps.append((f"round trip · bare threads (no loop){tag}", self._rt_bare))
        steps.append(("round trip · summary", self._rt_rows))
        for loop in self.loops:
            for lib in THROUGHPUT_MEASURES:
                if lib != "trio":
                    steps.append((f"throughput · {lib} · {loop}", self._tp(loop, lib)))
        steps.append(("throughput · trio", self._tp_trio))
        for loop in self.loops:
            for lib in SET_MEASURES:
                if not lib.startswith("trio"):
                    steps.append((f"set cost · {lib} · {loop}", self._set(loop, lib)))
        steps.append(("set cost · trio", self._set_trio))
        for loop in self.loops:
            for lib in ("irqio", "asyncio", "janus", "culsans", "aiologic"):
                steps.append((f"idle CPU · {lib} · {loop}", self._idle(loop, lib)))
        steps.append(("idle CPU · trio", self._idle_trio))
        for loop in self.loops:
            for kind in ("irqio", "asyncio"):
                steps.append((f"wake latency · {kind} · {loop}", self._wl(loop, kind)))
        return steps

    def run(self) -> None:
        steps = self.plan()
        if self.progress is not None:
            self.task_id = self.progress.add_task("starting", total=len(steps))
        for what, fn in steps:
            with self.step(what):
                try:
                    fn()
                except Exception as exc:
                    self.errors.append(f"{what}: {exc!r}")
            gc.collect()

    # -- steps --

    def _rt_row(
        self, lib: str, loop: str, measures: str, samples: list[int], wakes: list[int]
    ) -> None:
        s, w = trim(samples), trim(wakes)
        if not s:
            raise CaseError("no samples")
        key = (lib, loop)
        if key not in self.rt_samples:
            self.rt_samples[key] = (measures, [], [])
        self.rt_samples[key][1].append(s)
        self.rt_samples[key][2].append(w)

    def _rt_rows(self) -> None:
        for (lib, loop), (measures, blocks, wblocks) in self.rt_samples.items():
            pooled = [x for b in blocks for x in b]
            wpooled = [x for b in wblocks for x in b]
            self.results["round_trip"].append(
                {
                    "library": lib,
                    "loop": loop,
                    "measures": measures,
                    "rounds": len(pooled),
                    "blocks": len(blocks),
                    "p50_us": pctl(pooled, 0.5) / 1e3,
                    "p99_us": pctl(pooled, 0.99) / 1e3,
                    "to_task_p50_us": pctl(wpooled, 0.5) / 1e3,
                    "block_p50s_us": [pctl(b, 0.5) / 1e3 for b in blocks],
                }
            )

    def _rt(self, loop: str, lib: str) -> Callable[[], None]:
        sz = self.sizes

        def go() -> None:
            makers: dict[str, Callable[[], RoundTrip]] = {
                "irqio Flag": IrqioFlagRT,
                "irqio Event": IrqioEventRT,
                "irqio Queue": IrqioQueueRT,
                "asyncio Event+cst": AsyncioEventRT,
                "janus": JanusRT,
                "culsans": CulsansRT,
                "aiologic Event": lambda: AiologicEventRT(sz.rt_rounds),
                "aiologic SimpleQueue": AiologicQueueRT,
            }
            rt = makers[lib]()
            samples, wakes = run_case(
                loop,
                lambda: rt_case(rt, sz.rt_rounds, sz.rt_seconds, wake_stamps=True),
                sz.case_timeout,
            )
            self._rt_row(lib, loop, rt.measures, samples, wakes)

        return go

    def _rt_trio(self) -> None:
        samples, wakes = trio_rt(self.sizes.rt_rounds, self.sizes.rt_seconds)
        self._rt_row(
            "trio",
            "trio",
            "thread: token.run_sync_soon(ev.set); task: await ev.wait(), fresh Event; "
            + REPLY_LOCK,
            samples,
            wakes,
        )

    def _rt_bare(self) -> None:
        samples, wakes = bare_rt(self.sizes.rt_rounds, self.sizes.rt_seconds)
        self._rt_row("bare threads (no loop)", "none", BARE_MEASURES, samples, wakes)

    def _tp_row(self, lib: str, loop: str, r: TPResult) -> None:
        if r.items <= 0 or r.seconds <= 0:
            raise CaseError("no items")
        self.results["throughput"].append(
            {
                "library": lib,
                "loop": loop,
                "measures": THROUGHPUT_MEASURES[lib],
                "items": r.items,
                "seconds": r.seconds,
                "items_per_s": r.items / r.seconds,
                "overruns": r.overruns,
            }
        )

    def _tp(self, loop: str, lib: str) -> Callable[[], None]:
        sz = self.sizes

        def go() -> None:
            n, s = sz.tp_items, sz.tp_seconds
            makers: dict[str, Callable[[], Awaitable[TPResult]]] = {
                "irqio Queue get_batch": lambda: tp_irqio(n, s, True),
                "irqio Queue get": lambda: tp_irqio(n, s, False),
                "asyncio Queue+cst": lambda: tp_asyncio(n, s),
                "janus": lambda: tp_janus_like(janus, n, s),
                "culsans": lambda: tp_janus_like(culsans, n, s),
                "aiologic SimpleQueue": lambda: tp_aiologic(n, s),
            }
            self._tp_row(lib, loop, run_case(loop, makers[lib], sz.case_timeout))

        return go

    def _tp_trio(self) -> None:
        self._tp_row("trio", "trio", trio_tp(self.sizes.tp_items, self.sizes.tp_seconds))

    def _set_row(self, lib: str, loop: str, r: SetResult) -> None:
        self.results["set_cost"].append(
            {
                "library": lib,
                "loop": loop,
                "measures": SET_MEASURES[lib],
                "calls": r.calls,
                "ns_per_call_median": r.ns_median,
                "ns_per_call_mean": r.ns_mean,
                "wakes": r.wakes,
                "services": r.services,
            }
        )

    def _set(self, loop: str, lib: str) -> Callable[[], None]:
        sz = self.sizes

        def go() -> None:
            n, s = sz.set_calls, sz.set_seconds
            makers: dict[str, Callable[[], Awaitable[SetResult]]] = {
                "irqio Flag.set, wake due": lambda: set_irqio_loop_thread(n, s, 1),
                "irqio Flag.set ×1000 flags, wake due": lambda: set_irqio_loop_thread(n, s, 1000),
                "irqio Flag.set, thread": lambda: set_irqio_thread(n, s),
                "asyncio cst(ev.set)": lambda: set_asyncio_thread(n, s),
                "janus sync_q.put_nowait": lambda: set_janus_like_thread(janus, n, s),
                "culsans sync_q.put_nowait": lambda: set_janus_like_thread(culsans, n, s),
                "aiologic SimpleQueue.put": lambda: set_aiologic_queue_thread(n, s),
                "aiologic Event.set": lambda: set_aiologic_event_thread(n, s),
            }
            self._set_row(lib, loop, run_case(loop, makers[lib], sz.case_timeout))

        return go

    def _set_trio(self) -> None:
        self._set_row(
            "trio run_sync_soon(ev.set)",
            "trio",
            trio_set(self.sizes.set_calls, self.sizes.set_seconds),
        )

    def _idle_row(self, lib: str, loop: str, r: IdleResult) -> None:
        self.results["idle_cpu"].append(
            {
                "library": lib,
                "loop": loop,
                "measures": IDLE_MEASURES,
                "wall_s": r.wall,
                "cpu_ms": r.cpu * 1e3,
                "cpu_pct": r.pct,
            }
        )

    def _idle(self, loop: str, lib: str) -> Callable[[], None]:
        s = self.sizes.idle_seconds

        def go() -> None:
            makers: dict[str, Callable[[], Awaitable[IdleResult]]] = {
                "irqio": lambda: idle_irqio(s),
                "asyncio": lambda: idle_asyncio(s),
                "janus": lambda: idle_janus_like(janus, s),
                "culsans": lambda: idle_janus_like(culsans, s),
                "aiologic": lambda: idle_aiologic(s),
            }
            self._idle_row(lib, loop, run_case(loop, makers[lib], s + self.sizes.case_timeout))

        return go

    def _idle_trio(self) -> None:
        self._idle_row("trio", "trio", trio_idle(self.sizes.idle_seconds))

    def _wl(self, loop: str, kind: str) -> Callable[[], None]:
        sz = self.sizes

        def go() -> None:
            blocks: dict[int, list[list[int]]] = {n: [] for n in sz.wl_counts}
            for _ in range(sz.wl_blocks):
                for n in sz.wl_counts:
                    wakes = run_case(
                        loop,
                        lambda n=n: wl_case(kind, n, sz.wl_rounds, sz.rt_seconds),
                        sz.case_timeout,
                    )
                    blocks[n].append(trim(wakes))
                    gc.collect()
            lib = "irqio Flag" if kind == "irqio" else "asyncio Event+cst"
            fewest = sz.wl_counts[0]
            for n in sz.wl_counts:
                p50s = [pctl(b, 0.5) for b in blocks[n] if b]
                every = [x for b in blocks[n] for x in b]
                if not p50s:
                    raise CaseError("no samples")
                self.results["wake_latency"].append(
                    {
                        "library": lib,
                        "loop": loop,
                        "measures": WL_MEASURES,
                        "primitives": n,
                        "samples": len(every),
                        "p50_us": statistics.median(p50s) / 1e3,
                        "p99_us": pctl(every, 0.99) / 1e3,
                        "block_p50s_us": [p / 1e3 for p in p50s],
                        "ratio_to_fewest": block_paired_ratio(blocks[n], blocks[fewest]),
                    }
                )

        return go


# -- verdicts -------------------------------------------------------------------------------


def _find(rows: list[dict[str, Any]], lib: str, loop: str) -> dict[str, Any] | None:
    for row in rows:
        if row["library"] == lib and row["loop"] == loop:
            return row
    return None


def verdicts(results: dict[str, list[dict[str, Any]]], loops: list[str]) -> list[dict[str, Any]]:
    """irqio against the targets of issue 2 (and DESIGN.md), per loop."""
    out: list[dict[str, Any]] = []

    def add(
        name: str, loop: str, target: str, value: float | None, ok: bool | None, note: str
    ) -> None:
        out.append(
            {
                "target": name,
                "loop": loop,
                "wanted": target,
                "value": value,
                "pass": ok,
                "note": note,
            }
        )

    for loop in loops:
        rt = results["round_trip"]
        base = _find(rt, "asyncio Event+cst", loop)
        bare = _find(rt, "bare threads (no loop)", "none")
        for lib in ("irqio Flag", "irqio Event", "irqio Queue"):
            row = _find(rt, lib, loop)
            if row and base:
                ratio = row["p50_us"] / base["p50_us"]
                row["target"] = "≤ 0.6× asyncio p50"
                row["ratio_vs_asyncio"] = ratio
                row["pass"] = ratio <= 0.6
                note = (
                    f"{row['p50_us']:.1f} µs vs {base['p50_us']:.1f} µs; thread → task half "
                    f"{row['to_task_p50_us']:.1f} vs {base['to_task_p50_us']:.1f} µs = "
                    f"{row['to_task_p50_us'] / base['to_task_p50_us']:.2f}×"
                )
                if bare:
                    # The two kernel wakes every row pays, with no loop at all.
                    b50 = bare["p50_us"]
                    row["bare_threads_p50_us"] = b50
                    note += (
                        f"; bare threads (no loop) {b50:.1f} µs = "
                        f"{b50 / base['p50_us']:.2f}× asyncio, "
                        f"→task half {bare['to_task_p50_us']:.1f} µs"
                    )
                add(
                    f"round trip p50 {lib}",
                    loop,
                    "≤ 0.6 × asyncio Event+cst p50",
                    ratio,
                    ratio <= 0.6,
                    note,
                )
        for lib in ("irqio Queue get_batch", "irqio Queue get"):
            row = _find(results["throughput"], lib, loop)
            if row:
                wanted = 3_000_000.0
                if loop == "asyncio":
                    row["target"] = "≥ 3,000,000 items/s"
                    row["pass"] = row["items_per_s"] >= wanted
                    add(
                        f"throughput {lib}",
                        loop,
                        "≥ 3,000,000 items/s (stock loop)",
                        row["items_per_s"],
                        row["pass"],
                        f"{row['overruns']} refused offers retried",
                    )
        for lib in ("irqio Flag.set, wake due", "irqio Flag.set ×1000 flags, wake due"):
            row = _find(results["set_cost"], lib, loop)
            if row:
                no_syscall = row["wakes"] == 0
                ok = row["ns_per_call_mean"] < 500 and no_syscall
                row["target"] = "< 500 ns, 0 wakes"
                row["pass"] = ok
                add(
                    f"set() cost, {lib}",
                    loop,
                    "< 0.5 µs per call and no wake syscall",
                    row["ns_per_call_mean"],
                    ok,
                    f"{row['wakes']} wakes during {row['calls']} calls",
                )
        row = _find(results["idle_cpu"], "irqio", loop)
        if row:
            ok = row["cpu_pct"] < 1.0
            row["target"] = "~0 CPU (< 1 %)"
            row["pass"] = ok
            add(
                "idle CPU irqio",
                loop,
                "~0 CPU (< 1 % of a core)",
                row["cpu_pct"],
                ok,
                f"{row['cpu_ms']:.2f} ms over {row['wall_s']:.1f} s",
            )
        wl = [
            r for r in results["wake_latency"] if r["library"] == "irqio Flag" and r["loop"] == loop
        ]
        if len(wl) >= 2 and all(r["ratio_to_fewest"] is not None for r in wl):
            wl.sort(key=lambda r: r["primitives"])
            # The spread of the block-paired ratios (p50 with N alive ÷ p50 with the fewest, in
            # the same block), so a slow spell of the host is not read as an effect of N.
            ratios = [r["ratio_to_fewest"] for r in wl]
            spread = max(ratios) / min(ratios) - 1.0
            ok = spread <= 0.10
            for r in wl:
                r["target"] = "flat within 10 %"
                r["pass"] = ok
            add(
                "wake latency flat irqio",
                loop,
                f"p50 flat within 10 % from {wl[0]['primitives']} to {wl[-1]['primitives']}",
                spread,
                ok,
                " / ".join(f"{r['primitives']}: {r['p50_us']:.1f} µs" for r in wl)
                + "; paired per block: "
                + ", ".join(
                    f"{r['primitives']} ÷ {wl[0]['primitives']} = {r['ratio_to_fewest']:.3f}"
                    for r in wl[1:]
                ),
            )
    return out


# -- output ---------------------------------------------------------------------------------


def _mark(row: dict[str, Any]) -> str:
    if "pass" not in row:
        return ""
    return "[green]pass[/]" if row["pass"] else "[red]miss[/]"


def _legend(console: Any, rows: list[dict[str, Any]], note: str = "") -> None:
    """Under a table: what each row measures (once per library)."""
    seen: dict[str, str] = {}
    for r in rows:
        seen.setdefault(r["library"], r["measures"])
    if note:
        console.print(f"  [dim]{note}[/]")
    if len(set(seen.values())) == 1:
        console.print(f"  [dim]every row: {next(iter(seen.values()))}[/]")
    else:
        for lib, measures in seen.items():
            console.print(f"  [dim][bold]{lib}[/bold]: {measures}[/]")
    console.print()


def print_tables(console: Any, results: dict[str, Any]) -> None:
    from rich.table import Table

    def table(title: str, cols: list[str], target: str) -> Any:
        t = Table(title=title, title_justify="left")
        for i, c in enumerate(cols):
            t.add_column(c, justify="left" if i < 2 else "right", no_wrap=True)
        t.add_column(f"target: {target}", no_wrap=True)
        return t

    rows = results["round_trip"]
    t = table(
        "Round trip thread → task → thread (µs)",
        [
            "library",
            "loop",
            "rounds",
            "p50 µs",
            "p99 µs",
            "p50 ÷ aio",
            "→task p50",
            "→task ÷ aio",
        ],
        "irqio p50 ≤ 0.6× aio",
    )
    for r in rows:
        base = _find(rows, "asyncio Event+cst", r["loop"] if r["loop"] != "none" else "asyncio")
        ratio = f"{r['p50_us'] / base['p50_us']:.2f}" if base else "-"
        fwd = f"{r['to_task_p50_us'] / base['to_task_p50_us']:.2f}" if base else "-"
        t.add_row(
            r["library"],
            r["loop"],
            f"{r['rounds']:,}",
            f"{r['p50_us']:.1f}",
            f"{r['p99_us']:.1f}",
            ratio,
            f"{r['to_task_p50_us']:.1f}",
            fwd,
            _mark(r),
        )
    console.print(t)
    _legend(
        console,
        rows,
        "p50/p99 over all rounds of the interleaved blocks (first 5 % of each block dropped); "
        "p50 ÷ aio: ratio to asyncio Event+cst (aio) on the same loop; →task p50: the "
        "thread → task half of the same rounds (thread stamp before the signal to the task's "
        "stamp on resume), and →task ÷ aio its ratio to asyncio's",
    )

    rows = results["throughput"]
    t = table(
        "One-way throughput, producer thread → consumer task (items/s)",
        ["library", "loop", "items", "seconds", "items/s", "overruns"],
        "irqio Queue ≥ 3,000,000 items/s, stock loop",
    )
    for r in rows:
        t.add_row(
            r["library"],
            r["loop"],
            f"{r['items']:,}",
            f"{r['seconds']:.2f}",
            f"{r['items_per_s']:,.0f}",
            f"{r['overruns']:,}",
            _mark(r),
        )
    console.print(t)
    _legend(
        console,
        rows,
        "items counted by the consumer, from the producer's start to the last item taken; "
        "overruns = offers refused because the queue was full (retried, never lost)",
    )

    rows = results["set_cost"]
    t = table(
        "Interrupt-side set() cost (ns per call)",
        ["library", "loop", "calls", "ns median", "ns mean", "wakes", "services"],
        "< 500 ns, 0 wake syscalls",
    )
    for r in rows:
        wakes = "-" if r["wakes"] is None else f"{r['wakes']:,}"
        services = "-" if r["services"] is None else f"{r['services']:,}"
        t.add_row(
            r["library"],
            r["loop"],
            f"{r['calls']:,}",
            f"{r['ns_per_call_median']:.0f}",
            f"{r['ns_per_call_mean']:.0f}",
            wakes,
            services,
            _mark(r),
        )
    console.print(t)
    _legend(
        console,
        rows,
        "ns median: median over chunks of 1024 calls; ns mean: all time / all calls "
        "(includes every syscall the path made); wakes: irqio doorbell wake requests = "
        "eventfd writes during the timed calls; services: doorbell service cycles meanwhile",
    )

    rows = results["idle_cpu"]
    t = table(
        "Idle CPU while tasks wait, nothing arriving",
        ["library", "loop", "window s", "CPU ms", "% of a core"],
        "irqio ~0 (< 1 % of a core)",
    )
    for r in rows:
        t.add_row(
            r["library"],
            r["loop"],
            f"{r['wall_s']:.2f}",
            f"{r['cpu_ms']:.2f}",
            f"{r['cpu_pct']:.3f}",
            _mark(r),
        )
    console.print(t)
    _legend(console, rows)

    rows = results["wake_latency"]
    t = table(
        "Wake latency thread set → task resumed, with N primitives alive (µs)",
        ["library", "loop", "N alive", "samples", "p50 µs", "p99 µs"],
        "irqio p50 flat within 10 %",
    )
    for r in rows:
        t.add_row(
            r["library"],
            r["loop"],
            f"{r['primitives']:,}",
            f"{r['samples']:,}",
            f"{r['p50_us']:.1f}",
            f"{r['p99_us']:.1f}",
            _mark(r),
        )
    console.print(t)
    _legend(console, rows)

    t = Table(title="irqio against its targets", title_justify="left")
    for c in ("target", "loop", "wanted", "value", "verdict", "detail"):
        t.add_column(c)
    for v in results["targets"]:
        value = v["value"]
        if v["target"].startswith("throughput"):
            shown = f"{value:,.0f} items/s"
        elif v["target"].startswith("set()"):
            shown = f"{value:.0f} ns"
        elif v["target"].startswith("round trip"):
            shown = f"{value:.2f}×"
        elif v["target"].startswith("idle"):
            shown = f"{value:.3f} %"
        else:
            shown = f"{100 * value:.1f} % spread"
        verdict = "[green]pass[/]" if v["pass"] else "[red]miss[/]"
        t.add_row(v["target"], v["loop"], v["wanted"], shown, verdict, v["note"])
    console.print(t)


def idle_wake_config() -> dict[str, str]:
    """How this machine's idle CPUs wait, which sets the cost of every cross-thread wake.

    On a VM whose idle vCPU halts at once (cpuidle `haltpoll` with `guest_halt_poll_ns` 0), a
    wake is an IPI and a VM exit: here the waker's futex or eventfd syscall took ~11 µs and the
    sleeper ran ~30 µs later. With guest halt-polling on, the bare-threads round trip fell from
    ~73 to ~9 µs (benchmarks/README.md). Read from sysfs; absent entries are left out.
    """
    found: dict[str, str] = {}
    for key, path in (
        ("cpuidle_driver", "/sys/devices/system/cpu/cpuidle/current_driver"),
        ("cpuidle_governor", "/sys/devices/system/cpu/cpuidle/current_governor"),
        ("guest_halt_poll_ns", "/sys/module/haltpoll/parameters/guest_halt_poll_ns"),
    ):
        try:
            with open(path) as f:
                found[key] = f.read().strip()
        except OSError:
            pass
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench_runtime",
        description="irqio runtime benchmarks beside asyncio, janus, culsans, aiologic, trio",
    )
    p.add_argument("--json", action="store_true", help="results as JSON on stdout")
    p.add_argument("--quick", action="store_true", help="short runs (a smoke test, ~15 s)")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests: tiny runs
    p.add_argument(
        "--loop",
        choices=("asyncio", "uvloop", "both"),
        default="both",
        help="asyncio loop(s) to run on (default both); trio always runs its own",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    err = Console(stderr=True)
    if "uvloop" in loops and uvloop is None:
        err.print("uvloop is not installed: running on the stock loop only")
        loops = ["asyncio"]
    missing = [
        n
        for n, m in (("janus", janus), ("culsans", culsans), ("aiologic", aiologic), ("trio", trio))
        if m is None
    ]
    if missing:
        err.print(f"missing peer libraries: {', '.join(missing)} (pip install 'irqio[bench]')")
        return 2
    # auto_refresh off: a refresh thread would add CPU time to the idle measurement.
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        auto_refresh=False,
        transient=True,
    )
    bench = Bench(sizes, loops, progress)
    t0 = time.perf_counter()
    with progress:
        bench.run()
    results: dict[str, Any] = dict(bench.results)
    results["targets"] = verdicts(bench.results, loops)
    results["meta"] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "idle_wake": idle_wake_config(),
        "loops": loops,
        "mode": "smoke" if args.smoke else "quick" if args.quick else "full",
        "irqio": irqio.__version__,
        "peers": {
            name: getattr(mod, "__version__", "?")
            for name, mod in (
                ("uvloop", uvloop),
                ("janus", janus),
                ("culsans", culsans),
                ("aiologic", aiologic),
                ("trio", trio),
            )
            if mod is not None
        },
        "seconds": time.perf_counter() - t0,
        "errors": bench.errors,
    }
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        # Wide enough for the tables when piped to a file.
        out = Console(width=None if sys.stdout.isatty() else 150)
        meta = results["meta"]
        out.print(
            f"irqio {meta['irqio']} runtime benchmarks · Python {meta['python']} · "
            f"{meta['cpus']} CPUs · loops: {', '.join(loops)} · {meta['mode']} run in "
            f"{meta['seconds']:.0f} s"
        )
        idle = meta["idle_wake"]
        if idle:
            out.print("idle CPUs: " + ", ".join(f"{k} {v}" for k, v in idle.items()))
        print_tables(out, results)
        for e in bench.errors:
            out.print(f"[red]error[/] {e}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
