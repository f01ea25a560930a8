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

What a library's side of each row is comes from `benchkit.peers` (its own bound methods); this
file holds the measurements, the rows that pair them with the peers, and the verdicts.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import select
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rich.markup import escape

from benchkit import harness, peers, report
from benchkit.harness import CHUNK, CaseError, Worker, pc, percentile, trim
from benchkit.peers import Channel, Reply, Signal

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
SIZES = {"full": FULL, "quick": QUICK, "smoke": SMOKE}

QUEUE_CAPACITY = 65_536  # bounded queues (irqio, janus, culsans) in the throughput rows
REPLY_LOCK = "reply: task releases a _thread lock the thread waits on"
PEERS_NEEDED = ("janus", "culsans", "aiologic", "trio")


@dataclass(frozen=True)
class Row:
    """One library's row of a table: its name as shown, what it measures, and its case.

    `loop` None: `case(sizes)` is a coroutine, run in a fresh loop of each kind the run asks
    for (stock asyncio, uvloop). Otherwise the row has one loop of its own ("trio": the case
    runs trio.run; "none": no loop at all) and `case(sizes)` is called as is.
    """

    library: str
    measures: str
    case: Callable[[Sizes], Any]
    loop: str | None = None


# -- round trip (and wake latency, which shares the machinery) ------------------------------


def rt_client(
    send: Callable[..., object],
    args: tuple[Any, ...],
    wait_reply: Callable[[float], bool],
    rounds: int,
    seconds: float,
    stamps: list[int] | None,
    stop: list[bool],
) -> list[int]:
    """Thread side of a round trip: signal, wait for the reply; the round-trip samples (ns).

    With `stamps`, the task stamped its resume time there: the last stamp becomes that
    round's thread → task half (resume − the thread's stamp before the signal).
    """
    samples: list[int] = []
    end = pc() + int(seconds * 1e9)
    try:
        for _ in range(rounds):
            t0 = pc()
            send(*args)
            if not wait_reply(2.0):
                raise CaseError("no reply within 2 s")
            t1 = pc()
            samples.append(t1 - t0)
            if stamps is not None:
                stamps[-1] -= t0
            if t1 > end:
                break
    finally:
        stop[0] = True
        send(*args)
    return samples


async def rt_server(
    forward: Signal, reply: Reply, stamps: list[int] | None, stop: list[bool]
) -> None:
    wait, send, args = forward.wait, reply.send, reply.args
    while True:
        await wait()
        if stop[0]:
            return
        if stamps is not None:
            stamps.append(pc())
        send(*args)


async def round_trip(
    forward: Signal, reply: Reply, rounds: int, seconds: float
) -> tuple[list[int], list[int]]:
    """A round trip in the running loop: (round-trip samples, thread → task samples), ns."""
    stamps: list[int] = []
    stop = [False]
    server = asyncio.ensure_future(rt_server(forward, reply, stamps, stop))
    await asyncio.sleep(0)  # the server parks (binds its primitive) first
    worker = Worker(
        lambda: rt_client(forward.send, forward.args, reply.wait, rounds, seconds, stamps, stop),
        "rt",
    )
    worker.start()
    try:
        samples = await worker.ajoin(seconds + 10.0)
        await asyncio.wait_for(server, 5.0)
    finally:
        server.cancel()
    return samples, stamps


def trio_round_trip(sz: Sizes) -> tuple[list[int], list[int]]:
    """trio: thread token.run_sync_soon(ev.set); task await ev.wait(), new Event; lock reply."""
    import trio

    async def main() -> tuple[list[int], list[int]]:
        forward, reply = peers.trio_event(), peers.lock_reply()
        stamps: list[int] = []
        stop = [False]
        with trio.fail_after(sz.rt_seconds + 15.0):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(rt_server, forward, reply, stamps, stop)
                await trio.sleep(0)
                worker = Worker(
                    lambda: rt_client(
                        forward.send,
                        forward.args,
                        reply.wait,
                        sz.rt_rounds,
                        sz.rt_seconds,
                        stamps,
                        stop,
                    ),
                    "trio-rt",
                )
                worker.start()
                while worker.is_alive():
                    await trio.sleep(0.001)
                samples = worker.join_checked()
        return samples, stamps

    return trio.run(main)


def bare_round_trip(sz: Sizes) -> tuple[list[int], list[int]]:
    """The same two cross-thread wakes with no event loop at all: what any loop pays.

    A loop asleep in epoll is woken by a write to an fd, and the reply wakes a thread blocked
    on a lock: both are a kernel wake of a sleeping thread, which on an idle VM includes
    waking the idle vCPU. Only spinning avoids that cost, and spinning costs idle CPU.
    """
    efd = os.eventfd(0, os.EFD_NONBLOCK)
    reply = peers.lock_reply()
    ep = select.epoll()
    ep.register(efd, select.EPOLLIN)
    stamps: list[int] = []
    stop = [False]

    def server() -> None:
        while True:
            if not ep.poll(5.0):
                raise CaseError("bare threads: no signal within 5 s")
            os.eventfd_read(efd)
            if stop[0]:
                return
            stamps.append(pc())
            reply.send(*reply.args)

    srv = Worker(server, "bare-server")
    srv.start()
    try:
        samples = rt_client(
            os.eventfd_write, (efd, 1), reply.wait, sz.rt_rounds, sz.rt_seconds, stamps, stop
        )
        srv.join_checked(sz.rt_seconds + 10.0)
    finally:
        ep.close()
        os.close(efd)
    return samples, stamps


# -- throughput -----------------------------------------------------------------------------


@dataclass
class TPResult:
    items: int
    seconds: float
    overruns: int = 0


def produce(put: Callable[..., object], head: tuple[Any, ...], items: int, seconds: float) -> int:
    """Put 0, 1, 2, ... with `put(*head, i)` as fast as the library takes them, until `items`
    or `seconds`; then the sentinel None. A put that returns False was refused (a full irqio
    Queue): the producer yields the GIL (`sleep(0)`) and retries, so nothing is lost. The loop
    is written out for a head of none and of one, so no call of the bench's own sits between
    the library's puts."""
    end = pc() + int(seconds * 1e9)
    sent = 0
    sleep = time.sleep
    r = range(CHUNK)
    if len(head) > 1:
        raise ValueError("produce takes a put with at most one leading argument")
    h = head[0] if head else None
    try:
        while sent < items:
            if head:
                for i in r:
                    while put(h, i) is False:
                        sleep(0)
            else:
                for i in r:
                    while put(i) is False:
                        sleep(0)
            sent += CHUNK
            if pc() > end:
                break
    finally:
        while put(*head, None) is False:
            sleep(0)
    return sent


async def throughput(
    channel: Channel, items: int, seconds: float, *, batch: bool = False
) -> TPResult:
    """A producer thread puts into `channel`, a task takes (with `get_batch` if `batch`)."""

    async def consume() -> int:
        got = 0
        if batch:
            get_batch = channel.get_batch
            if get_batch is None:
                raise CaseError("this channel has no get_batch")
            while True:
                chunk = await get_batch(QUEUE_CAPACITY)
                if chunk[-1] is None:
                    return got + len(chunk) - 1
                got += len(chunk)
        get = channel.get
        while True:
            if await get() is None:
                return got
            got += 1

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    t0 = pc()
    worker = Worker(lambda: produce(channel.put, channel.head, items, seconds), "producer")
    worker.start()
    try:
        got = await asyncio.wait_for(asyncio.shield(consumer), seconds + 20.0)
        t1 = pc()
        sent = await worker.ajoin(5.0)
    finally:
        consumer.cancel()
        if channel.release is not None:
            await channel.release()
    if got != sent:
        raise CaseError(f"throughput: sent {sent} items, got {got}")
    overruns = channel.refused() if channel.refused is not None else 0
    return TPResult(got, (t1 - t0) / 1e9, overruns)


def trio_throughput(sz: Sizes) -> TPResult:
    import trio

    async def main() -> TPResult:
        channel = peers.trio_channel()
        get = channel.get
        got = 0
        with trio.fail_after(sz.tp_seconds + 20.0):
            t0 = pc()
            worker = Worker(
                lambda: produce(channel.put, channel.head, sz.tp_items, sz.tp_seconds),
                "trio-tp",
            )
            worker.start()
            while await get() is not None:
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


async def set_in_loop_thread(sz: Sizes, n_flags: int) -> SetResult:
    """In the loop thread, between two services: `_due` (and the flag's `_queued`) stay True."""
    signals = [peers.irqio_flag() for _ in range(n_flags)]
    counts = peers.irqio_doorbell_counts()
    stop = [False]

    async def waiter(wait: Callable[[], Awaitable[object]]) -> None:
        while not stop[0]:
            await wait()

    tasks = [asyncio.ensure_future(waiter(s.wait)) for s in signals]
    await asyncio.sleep(0)
    chunks: list[int] = []
    wakes = services = done = 0
    end = pc() + int(sz.set_seconds * 1e9)
    sets = [s.send for s in signals]  # Flag.set, bound
    r = range(CHUNK // n_flags or 1)
    while done < sz.set_calls and pc() < end:
        sets[0]()  # rings the doorbell: from here on a wake is due until the next service
        w0, s0 = counts()
        t0 = pc()
        for _ in r:
            for s in sets:
                s()
        t1 = pc()
        w1, s1 = counts()
        wakes += w1 - w0
        services += s1 - s0
        chunks.append(t1 - t0)
        done += len(r) * n_flags
        await asyncio.sleep(0)  # let the service run (it wakes the waiters)
        await asyncio.sleep(0)
    stop[0] = True
    for s in sets:
        s()
    await asyncio.wait_for(asyncio.gather(*tasks), 5.0)
    per = len(r) * n_flags
    return SetResult(done, statistics.median(chunks) / per, sum(chunks) / done, wakes, services)


async def set_from_thread(
    sz: Sizes,
    signal: Signal,
    doorbell: Callable[[], Callable[[], tuple[int, int]]] | None = None,
) -> SetResult:
    """A foreign thread calls the library's `send(*args)` in a tight loop while a task waits
    (and re-waits; a one-shot signal is waited once). `doorbell`: count irqio's wakes."""
    stop = [False]
    wait = signal.wait

    async def waiter() -> None:
        if signal.one_shot:
            await wait()
            return
        while not stop[0]:
            await wait()

    task = asyncio.ensure_future(waiter())
    await asyncio.sleep(0.001)
    counts = doorbell() if doorbell is not None else None
    w0, s0 = counts() if counts is not None else (0, 0)
    worker = Worker(
        lambda: harness.timed_calls(signal.send, signal.args, sz.set_calls, sz.set_seconds),
        "setter",
    )
    worker.start()
    per: harness.PerCall = await worker.ajoin(sz.set_seconds + 20.0)
    result = SetResult(per.calls, per.ns_median, per.ns_mean)
    if counts is not None:
        w1, s1 = counts()
        result.wakes, result.services = w1 - w0, s1 - s0
    await asyncio.sleep(0.01)
    stop[0] = True
    signal.send(*signal.args)
    try:
        await asyncio.wait_for(task, 10.0)
    finally:
        task.cancel()
        if signal.release is not None:
            await signal.release()
    return result


def trio_set_cost(sz: Sizes) -> SetResult:
    import trio

    async def main() -> SetResult:
        signal = peers.trio_event()
        stop = [False]

        async def waiter() -> None:
            while not stop[0]:
                await signal.wait()

        with trio.fail_after(sz.set_seconds + 20.0):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                await trio.sleep(0.001)
                worker = Worker(
                    lambda: harness.timed_calls(
                        signal.send, signal.args, sz.set_calls, sz.set_seconds
                    ),
                    "s",
                )
                worker.start()
                while worker.is_alive():
                    await trio.sleep(0.001)
                per: harness.PerCall = worker.join_checked()
                await trio.sleep(0.01)
                stop[0] = True
                signal.send(*signal.args)
        return SetResult(per.calls, per.ns_median, per.ns_mean)

    return trio.run(main)


# -- idle CPU -------------------------------------------------------------------------------


@dataclass
class IdleResult:
    wall: float
    cpu: float  # seconds of process CPU time during the window

    @property
    def pct(self) -> float:
        return 100.0 * self.cpu / self.wall if self.wall else float("nan")


IDLE_TASKS = 10


async def idle_window(seconds: float) -> IdleResult:
    await asyncio.sleep(0.05)  # let the waiters park
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return IdleResult(time.perf_counter() - w0, time.process_time() - c0)


async def idle(
    sz: Sizes, signal: Callable[[], Signal] | None, channel: Callable[[], Channel]
) -> IdleResult:
    """IDLE_TASKS tasks parked, half on signals and half on channels where the library has
    both (else all on channels), nothing arriving: the process's CPU time meanwhile."""
    n_signals = IDLE_TASKS // 2 if signal is not None else 0
    signals = [signal() for _ in range(n_signals)] if signal is not None else []
    channels = [channel() for _ in range(IDLE_TASKS - n_signals)]
    waits: list[Callable[[], Awaitable[Any]]] = [s.wait for s in signals]
    waits += [c.get for c in channels]
    tasks = [asyncio.ensure_future(w()) for w in waits]
    try:
        return await idle_window(sz.idle_seconds)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for end in [s.release for s in signals] + [c.release for c in channels]:
            if end is not None:
                await end()


def trio_idle(sz: Sizes) -> IdleResult:
    import trio

    async def main() -> IdleResult:
        signals = [peers.trio_event() for _ in range(IDLE_TASKS)]
        with trio.fail_after(sz.idle_seconds + 10.0):
            async with trio.open_nursery() as nursery:
                for s in signals:
                    nursery.start_soon(s.wait)
                await trio.sleep(0.05)
                gc.collect()
                c0, w0 = time.process_time(), time.perf_counter()
                await trio.sleep(sz.idle_seconds)
                result = IdleResult(time.perf_counter() - w0, time.process_time() - c0)
                nursery.cancel_scope.cancel()
        return result

    return trio.run(main)


# -- wake latency with many primitives alive ------------------------------------------------


def block_paired_ratio(blocks: list[list[int]], base: list[list[int]]) -> float | None:
    """Median over blocks of p50(block) ÷ p50(base's block of the same index), or None.

    The sizes of one block run back to back, so a spell of the host (here latencies shift
    between ~30 and ~45 µs for seconds at a time) hits both sides of each ratio alike, where
    comparing the overall p50s would read it as an effect of the size.
    """
    ratios = [
        percentile(b, 0.5) / percentile(f, 0.5)
        for b, f in zip(blocks, base, strict=True)
        if b and f
    ]
    return statistics.median(ratios) if ratios else None


async def wake_latency(
    make: Callable[[], Signal], alive: int, rounds: int, seconds: float
) -> list[int]:
    """Wake latency of one primitive while `alive - 1` others exist, each with a parked task."""
    others = [make() for _ in range(alive - 1)]
    parked = [asyncio.ensure_future(s.wait()) for s in others]
    forward, reply = make(), peers.lock_reply()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    try:
        _samples, wakes = await round_trip(forward, reply, rounds, seconds)
    finally:
        for t in parked:
            t.cancel()
        await asyncio.gather(*parked, return_exceptions=True)
    return wakes


# -- the rows: each library's side of each measurement --------------------------------------


# janus and culsans share one API (peers.mixed_queue): one case each, for either library.
def _mixed_round_trip(lib: str, sz: Sizes) -> Awaitable[tuple[list[int], list[int]]]:
    forward = peers.mixed_queue(lib, blocking=True).signal(1)
    return round_trip(forward, peers.mixed_reply(lib), sz.rt_rounds, sz.rt_seconds)


def _mixed_throughput(lib: str, sz: Sizes) -> Awaitable[TPResult]:
    channel = peers.mixed_queue(lib, QUEUE_CAPACITY, blocking=True)
    return throughput(channel, sz.tp_items, sz.tp_seconds)


def _mixed_set_cost(lib: str, sz: Sizes) -> Awaitable[SetResult]:
    return set_from_thread(sz, peers.mixed_queue(lib).signal(1))


def _mixed_idle(lib: str, sz: Sizes) -> Awaitable[IdleResult]:
    return idle(sz, None, functools.partial(peers.mixed_queue, lib))


ROUND_TRIP = (
    Row(
        "irqio Flag",
        "thread: Flag.set(); task: await Flag.wait(); " + REPLY_LOCK,
        lambda sz: round_trip(peers.irqio_flag(), peers.lock_reply(), sz.rt_rounds, sz.rt_seconds),
    ),
    Row(
        "irqio Event",
        "thread: Event.set(); task: await Event.wait(); Event.clear(); " + REPLY_LOCK,
        lambda sz: round_trip(peers.irqio_event(), peers.lock_reply(), sz.rt_rounds, sz.rt_seconds),
    ),
    Row(
        "irqio Queue",
        "thread: Queue.put_nowait(x); task: await Queue.get(); " + REPLY_LOCK,
        lambda sz: round_trip(
            peers.irqio_queue(16, offer=False).signal(1),
            peers.lock_reply(),
            sz.rt_rounds,
            sz.rt_seconds,
        ),
    ),
    Row(
        "asyncio Event+cst",
        "thread: loop.call_soon_threadsafe(ev.set); task: await ev.wait(); ev.clear(); "
        + REPLY_LOCK,
        lambda sz: round_trip(
            peers.asyncio_event(), peers.lock_reply(), sz.rt_rounds, sz.rt_seconds
        ),
    ),
    *(
        Row(
            lib,
            "thread: req.sync_q.put(x); task: await req.async_q.get(); "
            "reply: rep.async_q.put_nowait(x), thread: rep.sync_q.get(timeout)",
            functools.partial(_mixed_round_trip, lib),
        )
        for lib in ("janus", "culsans")
    ),
    Row(
        "aiologic Event",
        "one-shot Events per round; thread: req[i].set(); task: await req[i]; "
        "reply: rep[i].set(), thread: rep[i].wait(timeout) (aiologic's green side)",
        lambda sz: round_trip(
            *peers.aiologic_one_shot_round_trip(sz.rt_rounds), sz.rt_rounds, sz.rt_seconds
        ),
    ),
    Row(
        "aiologic SimpleQueue",
        "thread: req.put(x); task: await req.async_get(); "
        "reply: rep.put(x), thread: rep.green_get(timeout)",
        lambda sz: round_trip(
            peers.aiologic_queue().signal(1), peers.aiologic_reply(), sz.rt_rounds, sz.rt_seconds
        ),
    ),
    Row(
        "trio",
        "thread: token.run_sync_soon(ev.set); task: await ev.wait(), fresh Event; " + REPLY_LOCK,
        trio_round_trip,
        loop="trio",
    ),
    Row(
        "bare threads (no loop)",
        "no event loop: thread: eventfd write; a second thread blocked in epoll.poll() "
        "wakes, reads it; " + REPLY_LOCK,
        bare_round_trip,
        loop="none",
    ),
)

THROUGHPUT = (
    Row(
        "irqio Queue get_batch",
        f"thread: Queue.offer(x) (capacity {QUEUE_CAPACITY}; when refused: count, sleep(0), "
        "retry); task: await Queue.get_batch(capacity)",
        lambda sz: throughput(
            peers.irqio_queue(QUEUE_CAPACITY), sz.tp_items, sz.tp_seconds, batch=True
        ),
    ),
    Row(
        "irqio Queue get",
        f"thread: Queue.offer(x) (capacity {QUEUE_CAPACITY}, retry as above); "
        "task: await Queue.get()",
        lambda sz: throughput(peers.irqio_queue(QUEUE_CAPACITY), sz.tp_items, sz.tp_seconds),
    ),
    Row(
        "asyncio Queue+cst",
        "thread: loop.call_soon_threadsafe(q.put_nowait, x) (unbounded); task: await q.get()",
        lambda sz: throughput(peers.asyncio_queue(), sz.tp_items, sz.tp_seconds),
    ),
    *(
        Row(
            lib,
            f"thread: sync_q.put(x) (maxsize {QUEUE_CAPACITY}); task: await async_q.get()",
            functools.partial(_mixed_throughput, lib),
        )
        for lib in ("janus", "culsans")
    ),
    Row(
        "aiologic SimpleQueue",
        "thread: q.put(x) (unbounded); task: await q.async_get()",
        lambda sz: throughput(peers.aiologic_queue(), sz.tp_items, sz.tp_seconds),
    ),
    Row(
        "trio",
        "thread: token.run_sync_soon(send.send_nowait, x) into an unbounded memory channel; "
        "task: await recv.receive()",
        trio_throughput,
        loop="trio",
    ),
)

SET_COST = (
    Row(
        "irqio Flag.set, wake due",
        "loop thread, between two services (a task waits on the Flag): the first set() rang "
        "the doorbell, the timed ones find it due",
        lambda sz: set_in_loop_thread(sz, 1),
    ),
    Row(
        "irqio Flag.set ×1000 flags, wake due",
        "loop thread: set() on 1000 distinct Flags (each with a waiting task) after the first "
        "rang: each goes through Doorbell.schedule and finds the wake due",
        lambda sz: set_in_loop_thread(sz, 1000),
    ),
    Row(
        "irqio Flag.set, thread",
        "foreign thread, tight loop, a task waits and re-waits: the loop services meanwhile",
        lambda sz: set_from_thread(sz, peers.irqio_flag(), peers.irqio_doorbell_counts),
    ),
    Row(
        "asyncio cst(ev.set)",
        "foreign thread: loop.call_soon_threadsafe(ev.set), a task waits and re-waits",
        lambda sz: set_from_thread(sz, peers.asyncio_event()),
    ),
    *(
        Row(
            f"{lib} sync_q.put_nowait",
            "foreign thread, a task awaits async_q.get() in a loop",
            functools.partial(_mixed_set_cost, lib),
        )
        for lib in ("janus", "culsans")
    ),
    Row(
        "aiologic SimpleQueue.put",
        "foreign thread, a task awaits async_get() in a loop",
        lambda sz: set_from_thread(sz, peers.aiologic_queue().signal(1)),
    ),
    Row(
        "aiologic Event.set",
        "foreign thread; one-shot Event, set after the first: a no-op check",
        lambda sz: set_from_thread(sz, peers.aiologic_event()),
    ),
    Row(
        "trio run_sync_soon(ev.set)",
        "foreign thread: token.run_sync_soon(set current Event), a task waits and re-waits",
        trio_set_cost,
        loop="trio",
    ),
)

IDLE_MEASURES = (
    f"process CPU time (time.process_time) while {IDLE_TASKS} tasks wait on the library's "
    "primitives (half events, half queues where it has both) with nothing arriving"
)
IDLE = (
    Row(
        "irqio", IDLE_MEASURES, lambda sz: idle(sz, peers.irqio_flag, lambda: peers.irqio_queue(8))
    ),
    Row("asyncio", IDLE_MEASURES, lambda sz: idle(sz, peers.asyncio_event, peers.asyncio_queue)),
    *(Row(lib, IDLE_MEASURES, functools.partial(_mixed_idle, lib)) for lib in ("janus", "culsans")),
    Row("aiologic", IDLE_MEASURES, lambda sz: idle(sz, peers.aiologic_event, peers.aiologic_queue)),
    Row("trio", IDLE_MEASURES, trio_idle, loop="trio"),
)

WL_MEASURES = (
    "thread: stamp, set one primitive; task: stamp on resume (its reply paces the thread); "
    "N-1 other primitives alive, each with a parked task; p50 = median of the per-block p50s"
)
# The primitive of each kind whose wake is timed, and that its N - 1 idle companions are.
WAKE_LATENCY: tuple[tuple[str, Callable[[], Signal]], ...] = (
    ("irqio Flag", peers.irqio_flag),
    ("asyncio Event+cst", peers.asyncio_event),
)


# -- the run --------------------------------------------------------------------------------


class Bench:
    def __init__(self, sizes: Sizes, loops: list[str]) -> None:
        self.sizes = sizes
        self.loops = loops
        self.results: dict[str, list[dict[str, Any]]] = {
            "round_trip": [],
            "throughput": [],
            "set_cost": [],
            "idle_cpu": [],
            "wake_latency": [],
        }
        self.rt_samples: dict[tuple[str, str], tuple[str, list[list[int]], list[list[int]]]] = {}
        self.steps = harness.Steps()

    @property
    def errors(self) -> list[str]:
        return self.steps.errors

    def plan(self) -> harness.Steps:
        sz = self.sizes
        # Round trips in interleaved blocks: a noisy spell on the machine hits every row alike.
        for block in range(sz.rt_blocks):
            tag = f" · block {block + 1}/{sz.rt_blocks}"
            self._family("round trip", ROUND_TRIP, self._rt_block, sz.case_timeout, tag)
        self.steps.add("round trip · summary", self._rt_rows)
        self._family("throughput", THROUGHPUT, self._tp_row, sz.case_timeout)
        self._family("set cost", SET_COST, self._set_row, sz.case_timeout)
        self._family("idle CPU", IDLE, self._idle_row, sz.idle_seconds + sz.case_timeout)
        for loop in self.loops:
            for lib, make in WAKE_LATENCY:
                self.steps.add(f"wake latency · {lib} · {loop}", self._wl(loop, lib, make))
        return self.steps

    def _family(
        self,
        name: str,
        rows: tuple[Row, ...],
        record: Callable[[Row, str, Any], None],
        timeout: float,
        tag: str = "",
    ) -> None:
        """Every row of a family on every loop of the run, then the rows with a loop of their
        own (trio, none), in the order given."""
        sz = self.sizes
        for loop in self.loops:
            for row in rows:
                if row.loop is None:

                    def go(row: Row = row, loop: str = loop) -> None:
                        factory = peers.loop_factory(loop)
                        record(
                            row, loop, harness.run_in_loop(factory, lambda: row.case(sz), timeout)
                        )

                    self.steps.add(f"{name} · {row.library} · {loop}{tag}", go)
        for row in rows:
            if row.loop is not None:

                def own(row: Row = row) -> None:
                    assert row.loop is not None
                    record(row, row.loop, row.case(sz))

                self.steps.add(f"{name} · {row.library}{tag}", own)

    def run(self, progress: Any) -> None:
        self.plan().run(progress)

    # -- what a step records --

    def _rt_block(self, row: Row, loop: str, result: tuple[list[int], list[int]]) -> None:
        samples, wakes = result
        s, w = trim(samples), trim(wakes)
        if not s:
            raise CaseError("no samples")
        key = (row.library, loop)
        if key not in self.rt_samples:
            self.rt_samples[key] = (row.measures, [], [])
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
                    "p50_us": percentile(pooled, 0.5) / 1e3,
                    "p99_us": percentile(pooled, 0.99) / 1e3,
                    "to_task_p50_us": percentile(wpooled, 0.5) / 1e3,
                    "block_p50s_us": [percentile(b, 0.5) / 1e3 for b in blocks],
                }
            )

    def _tp_row(self, row: Row, loop: str, r: TPResult) -> None:
        if r.items <= 0 or r.seconds <= 0:
            raise CaseError("no items")
        self.results["throughput"].append(
            {
                "library": row.library,
                "loop": loop,
                "measures": row.measures,
                "items": r.items,
                "seconds": r.seconds,
                "items_per_s": r.items / r.seconds,
                "overruns": r.overruns,
            }
        )

    def _set_row(self, row: Row, loop: str, r: SetResult) -> None:
        self.results["set_cost"].append(
            {
                "library": row.library,
                "loop": loop,
                "measures": row.measures,
                "calls": r.calls,
                "ns_per_call_median": r.ns_median,
                "ns_per_call_mean": r.ns_mean,
                "wakes": r.wakes,
                "services": r.services,
            }
        )

    def _idle_row(self, row: Row, loop: str, r: IdleResult) -> None:
        self.results["idle_cpu"].append(
            {
                "library": row.library,
                "loop": loop,
                "measures": row.measures,
                "wall_s": r.wall,
                "cpu_ms": r.cpu * 1e3,
                "cpu_pct": r.pct,
            }
        )

    def _wl(self, loop: str, lib: str, make: Callable[[], Signal]) -> Callable[[], None]:
        sz = self.sizes

        def go() -> None:
            factory = peers.loop_factory(loop)
            blocks: dict[int, list[list[int]]] = {n: [] for n in sz.wl_counts}
            for _ in range(sz.wl_blocks):
                for n in sz.wl_counts:
                    case = functools.partial(wake_latency, make, n, sz.wl_rounds, sz.rt_seconds)
                    wakes = harness.run_in_loop(factory, case, sz.case_timeout)
                    blocks[n].append(trim(wakes))
                    gc.collect()
            fewest = sz.wl_counts[0]
            for n in sz.wl_counts:
                p50s = [percentile(b, 0.5) for b in blocks[n] if b]
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
                        "p99_us": percentile(every, 0.99) / 1e3,
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
    """irqio against its targets (benchmarks/README.md, "Targets"), per loop."""
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


def _table(title: str, cols: list[str], target: str) -> Any:
    return report.table(title, cols, right=lambda i: i >= 2, target=target)


def print_tables(console: Any, results: dict[str, Any]) -> None:
    rows = results["round_trip"]
    t = _table(
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
            report.mark(r),
        )
    console.print(t)
    report.legend(
        console,
        rows,
        "p50/p99 over all rounds of the interleaved blocks (first 5 % of each block dropped); "
        "p50 ÷ aio: ratio to asyncio Event+cst (aio) on the same loop; →task p50: the "
        "thread → task half of the same rounds (thread stamp before the signal to the task's "
        "stamp on resume), and →task ÷ aio its ratio to asyncio's",
    )

    rows = results["throughput"]
    t = _table(
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
            report.mark(r),
        )
    console.print(t)
    report.legend(
        console,
        rows,
        "items counted by the consumer, from the producer's start to the last item taken; "
        "overruns = offers refused because the queue was full (retried, never lost)",
    )

    rows = results["set_cost"]
    t = _table(
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
            report.mark(r),
        )
    console.print(t)
    report.legend(
        console,
        rows,
        f"ns median: median over chunks of {CHUNK} calls; ns mean: all time / all calls "
        "(includes every syscall the path made); wakes: irqio doorbell wake requests = "
        "eventfd writes during the timed calls; services: doorbell service cycles meanwhile",
    )

    rows = results["idle_cpu"]
    t = _table(
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
            report.mark(r),
        )
    console.print(t)
    report.legend(console, rows)

    rows = results["wake_latency"]
    t = _table(
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
            report.mark(r),
        )
    console.print(t)
    report.legend(console, rows)

    cols = ["target", "loop", "wanted", "value", "verdict", "detail"]
    t = report.table("irqio against its targets", cols, right=lambda i: False, no_wrap=False)
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
        t.add_row(
            v["target"], v["loop"], v["wanted"], shown, report.verdict_markup(v["pass"]), v["note"]
        )
    console.print(t)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench_runtime",
        description="irqio runtime benchmarks beside asyncio, janus, culsans, aiologic, trio",
    )
    harness.add_mode_arguments(p, "short runs (a smoke test, ~15 s)")
    p.add_argument(
        "--loop",
        choices=("asyncio", "uvloop", "both"),
        default="both",
        help="asyncio loop(s) to run on (default both); trio always runs its own",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = harness.mode_of(args)
    sizes = SIZES[mode]
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    err = report.stderr_console()
    if "uvloop" in loops and peers.version("uvloop") is None:
        err.print("uvloop is not installed: running on the stock loop only")
        loops = ["asyncio"]
    missing = peers.missing(PEERS_NEEDED)
    if missing:
        report.print_verbatim(err, report.install_hint(missing, "runtime"))
        return 2
    # auto_refresh off: a refresh thread would add CPU time to the idle measurement.
    progress = report.progress(err, auto_refresh=False)
    bench = Bench(sizes, loops)
    t0 = time.perf_counter()
    with progress:
        bench.run(progress)
    results: dict[str, Any] = dict(bench.results)
    results["targets"] = verdicts(bench.results, loops)
    results["meta"] = {
        **harness.machine(),
        "idle_wake": harness.idle_wake_config(),
        "loops": loops,
        "mode": mode,
        "irqio": peers.version("irqio"),
        "peers": {
            name: found
            for name in ("uvloop", *PEERS_NEEDED)
            if (found := peers.version(name)) is not None
        },
        "seconds": time.perf_counter() - t0,
        "errors": bench.errors,
    }
    if args.json:
        report.dump_json(results)
    else:
        out = report.stdout_console()
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
            out.print(f"[red]error[/] {escape(e)}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
