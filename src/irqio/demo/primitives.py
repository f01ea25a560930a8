"""Demo section: producer threads and a signal source feed tasks through the primitives.

For a few seconds, live on this machine: three threads put bursts into a `Queue` (sized so
that bursts overrun it: refusals are counted, not lost), a thread sets a `Flag` and an `Event`
at random moments, and a real signal (SIGUSR1, aimed at the main thread) runs a handler that
offers to a second `Queue` and sets a `Message`. Every row must balance:
sent = received + coalesced + overruns, so lost = 0.
"""

from __future__ import annotations

import asyncio
import random
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

import irqio
from irqio.percentile import nearest_rank
from irqio.runtime.counters import Tally

now_ns = time.perf_counter_ns


@dataclass
class Row:
    name: str
    sent: int = 0
    received: int = 0
    coalesced: int = 0
    overruns: int = 0
    lost: int = 0
    latencies_ns: list[int] = field(default_factory=list)


def _percentile(values: list[int], q: float) -> float:
    """Nearest-rank percentile in µs of nanosecond samples."""
    if not values:
        return float("nan")
    return nearest_rank(sorted(values), q) / 1000


async def scenario(seconds: float) -> list[Row]:
    rng = random.Random(5795)
    stop = threading.Event()
    bulk: irqio.Queue[int] = irqio.Queue(256)
    from_signal: irqio.Queue[int] = irqio.Queue(64)
    flag, event = irqio.Flag(), irqio.Event()
    message: irqio.Message[int] = irqio.Message()
    rows = {n: Row(n) for n in ("Queue ← threads", "Queue ← signal", "Flag", "Event", "Message")}
    # per-writer counts (each written by one thread only)
    bulk_sent = [0, 0, 0]
    flag_sent = [0]
    event_sent = [0]
    signals_sent = [0]
    flag_since = [0]  # time of the first set not yet seen by the waiter
    event_at = [0]

    def bursts(p: int) -> None:
        r = random.Random(p)
        while not stop.is_set():
            for _ in range(r.randint(50, 400)):
                bulk.offer(now_ns())
                bulk_sent[p] += 1
            time.sleep(r.uniform(0.0005, 0.003))

    def setter() -> None:
        r = random.Random(7)
        while not stop.is_set():
            if not flag_since[0]:
                flag_since[0] = now_ns()
            flag.set()
            flag_sent[0] += 1
            if r.random() < 0.2 and not event.is_set():
                event_at[0] = now_ns()
                event.set()
                event_sent[0] += 1
            time.sleep(r.uniform(0.0001, 0.001))

    signal_calls = Tally()

    def on_signal(signum: int, frame: object) -> None:  # interrupt context
        signal_calls.bump()
        stamp = now_ns()
        from_signal.offer(stamp)
        message.set(stamp)

    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def signal_source() -> None:
        while not stop.is_set():
            signal.pthread_kill(main_thread, signal.SIGUSR1)
            signals_sent[0] += 1
            time.sleep(rng.uniform(0.0002, 0.002))

    async def take_bulk() -> None:
        row = rows["Queue ← threads"]
        while True:
            for stamp in await bulk.get_batch(64):
                row.latencies_ns.append(now_ns() - stamp)
                row.received += 1

    async def take_signal() -> None:
        row = rows["Queue ← signal"]
        while True:
            stamp = await from_signal.get()
            row.latencies_ns.append(now_ns() - stamp)
            row.received += 1

    async def wait_flag() -> None:
        row = rows["Flag"]
        while True:
            await flag.wait()
            row.latencies_ns.append(now_ns() - flag_since[0])
            flag_since[0] = 0
            row.received += 1

    async def wait_event(i: int) -> None:
        while True:
            await event.wait()
            if i == 0:
                rows["Event"].latencies_ns.append(now_ns() - event_at[0])
                rows["Event"].received += 1
                await asyncio.sleep(0)  # let the other waiters see it set
                event.clear()
            else:
                await asyncio.sleep(0)

    async def wait_message() -> None:
        row = rows["Message"]
        while True:
            stamp = await message.wait()
            message.clear()
            row.latencies_ns.append(now_ns() - stamp)
            row.received += 1

    previous = signal.signal(signal.SIGUSR1, on_signal)
    tasks = [asyncio.create_task(c) for c in (take_bulk(), take_signal(), wait_flag())]
    tasks += [asyncio.create_task(wait_event(i)) for i in range(4)]
    tasks.append(asyncio.create_task(wait_message()))
    await asyncio.sleep(0.01)
    threads = [threading.Thread(target=bursts, args=(p,), daemon=True) for p in range(3)]
    threads += [threading.Thread(target=f, daemon=True) for f in (setter, signal_source)]
    try:
        for t in threads:
            t.start()
        await asyncio.sleep(seconds)
        stop.set()
        for t in threads:
            await asyncio.to_thread(t.join, 2)
        # Drain what is still queued, then one last set: the waiter must wake for it too.
        deadline = time.monotonic() + 2
        while (len(bulk) or len(from_signal)) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        flag_since[0] = now_ns()
        flag.set()
        flag_sent[0] += 1
        while flag_since[0] and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
    finally:
        signal.signal(signal.SIGUSR1, previous)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # Queues: every offer was taken or refused (counted), nothing else.
    bulk_row = rows["Queue ← threads"]
    bulk_row.sent = sum(bulk_sent)
    bulk_row.overruns = bulk.overruns
    bulk_row.lost = bulk_row.sent - bulk_row.received - bulk_row.overruns
    signal_row = rows["Queue ← signal"]
    signal_row.sent = signal_calls.value  # handler runs, each offered once
    signal_row.overruns = from_signal.overruns
    signal_row.lost = signal_row.sent - signal_row.received - signal_row.overruns
    # Flag and Event merge sets that arrive before the waiter runs (by design, counted here);
    # nothing is lost if the waiter woke for the very last set.
    flag_row = rows["Flag"]
    flag_row.sent = flag_sent[0]
    flag_row.coalesced = flag_row.sent - flag_row.received
    flag_row.lost = 1 if flag_since[0] else 0
    event_row = rows["Event"]
    event_row.sent = event_sent[0]
    event_row.coalesced = event_row.sent - event_row.received
    # Message: every value set was read, overwritten unread (counted), or is the current one.
    message_row = rows["Message"]
    message_row.sent = signal_calls.value
    message_row.coalesced = message.overwrites
    current_unread = 1 if message._sets.value != message._last_read else 0
    message_row.lost = message_row.sent - message_row.received - message_row.coalesced
    message_row.lost -= current_unread
    # Signals the kernel or CPython merged before any handler ran are not events we were sent.
    rows["signals sent"] = Row("signals sent (merged by the OS: not handled)", sent=signals_sent[0])
    return list(rows.values())


def run(console: Console, seconds: float = 3.0) -> bool:
    console.rule("[bold]Interrupt → task primitives, live")
    console.print(
        f"{seconds:g} s: 3 producer threads → Queue(256); a thread → Flag and Event; "
        "SIGUSR1 handler (interrupt context) → Queue(64) and Message. Tasks consume."
    )
    rows = asyncio.run(scenario(seconds))
    table = Table(show_lines=False)
    for col in ("source → task", "sent", "received", "coalesced", "overruns", "lost"):
        table.add_column(col, justify="right" if col != "source → task" else "left")
    for col in ("p50 µs", "p99 µs", "max µs"):
        table.add_column(col, justify="right")
    ok = True
    for row in rows[:-1]:
        lat = row.latencies_ns
        ok &= row.lost == 0 and row.received > 0
        table.add_row(
            row.name,
            f"{row.sent:,}",
            f"{row.received:,}",
            f"{row.coalesced:,}",
            f"{row.overruns:,}",
            f"[{'green' if row.lost == 0 else 'red'}]{row.lost}",
            f"{_percentile(lat, 0.5):.0f}",
            f"{_percentile(lat, 0.99):.0f}",
            f"{max(lat) / 1000 if lat else float('nan'):.0f}",
        )
    console.print(table)
    signals = rows[-1].sent
    handled = rows[1].sent
    console.print(
        f"signals sent: {signals:,}; handled: {handled:,} (the OS and CPython merge a signal "
        "that arrives while the same one is pending). Coalesced sets and overwrites are merged "
        "by design and counted; overruns are refusals, counted. "
        + ("[green]Nothing lost.[/]" if ok else "[red]Something was lost![/]")
    )
    if rows[0].latencies_ns:
        console.print(
            f"median Queue latency {statistics.median(rows[0].latencies_ns) / 1000:.0f} µs "
            "(includes waiting behind the rest of a burst)."
        )
    return ok
