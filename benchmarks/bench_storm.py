#!/usr/bin/env python3
"""A signal storm: irqio and its peers called from a real Python signal handler, flooded.

    python benchmarks/bench_storm.py [--json] [--quick] [--sender {thread,process,both}]

Each case (one library, one interrupt-side operation) runs in its own subprocess with a hard
timeout: a peer that deadlocks inside a signal handler takes only its own process down, and the
parent reports it as a hang. In the child, an asyncio loop (the stock one; for the trio cases,
trio.run) runs in the main thread with a consumer task; `signal.signal` handlers for SIGUSR1
and a real-time signal put a sequence number into the library's queue; a sender (a thread of
the child, or a separate process) signals the main thread as fast as it can for a fixed time.
Then the consumer drains, and one final signal checks that the consumer still wakes for a
single put while the loop is asleep (nothing else will wake it). Counted per case: handler
calls, items received, refused, lost, the deepest nesting of the handler inside itself,
delivery latency, whether the final put was stranded, hang, and exceptions raised inside the
handler. See benchmarks/README.md.

A case is named by its key (`--case`, the child's `--child`, the JSON's "key"); what the
handler and the consumer call comes from the case's adapter in `benchkit.peers`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape

from benchkit import harness, peers, report
from benchkit.harness import pc, percentile

# -- the cases ------------------------------------------------------------------------------

IRQIO_CAPACITY = 4096
DEPTH_SLOTS = 4096


@dataclass(frozen=True)
class Case:
    """One library, one interrupt-side operation."""

    key: str  # names the case: --case, the child's --child, the JSON's "key"
    label: str  # as the table shows it (the JSON's "case")
    library: str  # the module it needs: without it the case is skipped
    handler_does: str
    consumer_does: str
    make: Callable[[], peers.Signal | peers.Channel]  # built in the child, in its loop
    runner: str = "asyncio"  # or "trio": the child runs trio.run instead
    coalesces: bool = False  # a flag: many sets, one wake (received = wakes, lost n/a)
    signal_safety: bool = False  # the put runs inside aiologic's enable_signal_safety()
    # No Python signal handler: an irqio SignalSource blocks the signals and its thread runs
    # the handler body once per signal sigwaitinfo returns; senders aim at the process.
    signal_source: bool = False


CASES: dict[str, Case] = {
    c.key: c
    for c in (
        Case(
            "irqio-queue-offer",
            "irqio Queue.offer",
            "irqio",
            "q.offer(seq) into irqio.Queue(4096); a refusal returns False (counted in overruns)",
            "await q.get()",
            lambda: peers.irqio_queue(IRQIO_CAPACITY),
        ),
        Case(
            "irqio-signalsource",
            "irqio SignalSource → Queue.offer",
            "irqio",
            "no handler: irqio SignalSource blocks the signals and its thread takes them with "
            "sigwaitinfo, then runs the same handler body, q.offer(seq) into irqio.Queue(4096); "
            "the senders use kill(pid), not pthread_kill(main)",
            "await q.get()",
            lambda: peers.irqio_queue(IRQIO_CAPACITY),
            signal_source=True,
        ),
        Case(
            "irqio-flag-set",
            "irqio Flag.set",
            "irqio",
            "flag.set() (coalescing: many sets, one wake)",
            "await flag.wait(); received = wakes (not comparable with calls)",
            peers.irqio_flag,
            coalesces=True,
        ),
        Case(
            "asyncio-put-nowait",
            "asyncio Queue.put_nowait (direct)",
            "asyncio",
            "q.put_nowait(seq) into an unbounded asyncio.Queue, straight from the handler",
            "await q.get()",
            lambda: peers.asyncio_queue(threadsafe=False),
        ),
        Case(
            "asyncio-call-soon-threadsafe",
            "asyncio Queue via call_soon_threadsafe",
            "asyncio",
            "loop.call_soon_threadsafe(q.put_nowait, seq): the documented way in from outside",
            "await q.get()",
            peers.asyncio_queue,
        ),
        Case(
            "janus",
            "janus sync_q.put_nowait",
            "janus",
            "jq.sync_q.put_nowait(seq), unbounded janus.Queue",
            "await jq.async_q.get()",
            lambda: peers.mixed_queue("janus"),
        ),
        Case(
            "culsans",
            "culsans sync_q.put_nowait",
            "culsans",
            "cq.sync_q.put_nowait(seq), unbounded culsans.Queue",
            "await cq.async_q.get()",
            lambda: peers.mixed_queue("culsans"),
        ),
        Case(
            "culsans-signal-safety",
            "culsans sync_q.put_nowait, signal safety",
            "culsans",
            "with aiologic.lowlevel.enable_signal_safety(): cq.sync_q.put_nowait(seq)",
            "await cq.async_q.get()",
            lambda: peers.mixed_queue("culsans"),
            signal_safety=True,
        ),
        Case(
            "aiologic-simplequeue",
            "aiologic SimpleQueue.put",
            "aiologic",
            "sq.put(seq), aiologic.SimpleQueue",
            "await sq.async_get()",
            peers.aiologic_queue,
        ),
        Case(
            "aiologic-simplequeue-signal-safety",
            "aiologic SimpleQueue.put, signal safety",
            "aiologic",
            "with aiologic.lowlevel.enable_signal_safety(): sq.put(seq) (aiologic's switch for "
            "signal handlers: wake through call_soon_threadsafe)",
            "await sq.async_get()",
            peers.aiologic_queue,
            signal_safety=True,
        ),
        Case(
            "aiologic-revent",
            "aiologic REvent.set",
            "aiologic",
            "ev.set() on a reusable aiologic.REvent",
            "await ev; ev.clear(); received = wakes",
            peers.aiologic_revent,
            coalesces=True,
        ),
        Case(
            "anyio-send-nowait",
            "anyio send_nowait (direct)",
            "anyio",
            "send.send_nowait(seq) on an unbounded anyio memory object stream",
            "await recv.receive()",
            peers.anyio_stream,
        ),
        Case(
            "anyio-run-sync",
            "anyio from_thread.run_sync",
            "anyio",
            "anyio.from_thread.run_sync(send.send_nowait, seq, token=token): anyio's way into "
            "the loop from outside; it waits for the result",
            "await recv.receive()",
            lambda: peers.anyio_stream(from_thread=True),
        ),
        Case(
            "trio-run-sync-soon",
            "trio run_sync_soon",
            "trio",
            "token.run_sync_soon(send.send_nowait, seq) into an unbounded trio memory channel: "
            "trio's documented way in from a signal handler (under trio.run)",
            "await recv.receive()",
            peers.trio_channel,
            runner="trio",
        ),
        Case(
            "trio-send-nowait",
            "trio send_nowait (direct)",
            "trio",
            "send.send_nowait(seq) on an unbounded trio memory channel, straight from the "
            "handler (under trio.run)",
            "await recv.receive()",
            lambda: peers.trio_channel(threadsafe=False),
            runner="trio",
        ),
    )
}
LIBRARIES = ("irqio", "janus", "culsans", "aiologic", "anyio", "trio")


def selected(filters: list[str] | None) -> list[Case]:
    """The cases whose key contains one of `filters` (all without any); `_`, `.` and spaces
    in a filter stand for `-`, so `call_soon_threadsafe` finds its case too."""
    if not filters:
        return list(CASES.values())
    wanted = [f.lower().replace("_", "-").replace(".", "-").replace(" ", "-") for f in filters]
    return [c for c in CASES.values() if any(w in c.key for w in wanted)]


def versions() -> dict[str, str | None]:
    """Library -> version, or None when it is not installed (its cases are skipped)."""
    return {"asyncio": platform.python_version(), **{n: peers.version(n) for n in LIBRARIES}}


# -- sizes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    storm: float  # seconds of signals per case
    drain: float  # bound on the consumer catching up after the storm
    final: float  # bound on the consumer waking for the one final put
    slack: float  # child watchdog: beyond storm + drain + final, the case is a hang
    senders: tuple[str, ...]


FULL = Sizes(1.5, 3.0, 2.0, 4.0, ("thread", "process"))
QUICK = Sizes(0.4, 1.5, 1.0, 2.5, ("thread", "process"))
SMOKE = Sizes(0.15, 1.0, 1.0, 1.5, ("thread",))
SIZES = {"full": FULL, "quick": QUICK, "smoke": SMOKE}  # by mode: the parent passes it to children


# -- the child: one case, one sender --------------------------------------------------------

RT = signal.SIGRTMIN + 1 if hasattr(signal, "SIGRTMIN") else None
SIGNALS = tuple(s for s in (signal.SIGUSR1, RT) if s is not None)

# A separate process, signalling its parent: no GIL shared with the handlers.
PROCESS_SENDER = """
import os, signal, sys, time
pid, seconds = int(sys.argv[1]), float(sys.argv[2])
sigs = [int(s) for s in sys.argv[3:]]
end = time.monotonic() + seconds
n = 0
while True:
    for s in sigs:
        os.kill(pid, s)
        os.sched_yield()  # let the receiver run: unpaced, the flood starves it in the kernel
    n += 1
    if n & 255 == 0 and (os.getppid() != pid or time.monotonic() > end):
        break
print(n * len(sigs))
"""


class Storm:
    """State of one child run. The handler touches only atomic steps (next(), append, add)."""

    def __init__(self, case: Case, sizes: Sizes, sender: str) -> None:
        self.case = case
        self.sizes = sizes
        self.sender = sender
        self.calls = itertools.count()  # next() is one C call: exact under nesting
        # Nesting: `level` is only loaded and stored (no call, so no RecursionError can
        # strike there); a nested handler restores what it read, so the count stays exact.
        self.level = 0
        self.seen = [False] * DEPTH_SLOTS  # seen[d]: the handler ran d deep
        self.refused: deque[int] = deque()
        self.errors: deque[BaseException] = deque()  # raised inside the handler
        self.escaped = 0  # errors whose bookkeeping itself failed (they left the handler)
        self.crash: str | None = None
        self.stamps: dict[int, int] = {}  # seq -> perf_counter_ns at the put
        self.latencies: list[int] = []
        self.received = 0
        self.received_in_storm = 0
        self.distinct: set[int] = set()
        self.final_from = 1 << 62
        self.final_got = threading.Event()
        self.sent = 0
        self.phase = "setup"
        self.stranded: bool | None = None
        self.final_arrived_after_wake: bool | None = None
        self.main_ident = threading.get_ident()
        self.t0 = time.perf_counter()
        # The library's interrupt-side call: put(seq) for a queue, set() for a flag (arm()).
        self.op: Callable[..., object] = lambda *_: None
        self.handler: Callable[[int, Any], None] = self.on_item
        self.overruns: Callable[[], int] | None = None
        # At the end, the consumer cancelled: take what is still in the library's queue.
        self.take_rest: Callable[[], Any] | None = None
        self.left: int | None = None  # items found there (the consumer slept on them)
        self.gone: int | None = None  # calls neither received, refused nor left: vanished
        self.gone_seqs: list[int] = []
        self.consumer_where = ""
        self.consumer_died: str | None = None  # the consumer task ended with this exception
        self.source: Any = None  # signal_source cases: the irqio SignalSource, closed at "done"

    def kill_target(self) -> tuple[Callable[[int, int], None], int]:
        """How this case's senders signal the main thread: pthread_kill(main) for a handler;
        kill(pid) for a SignalSource (the signals are blocked everywhere: one aimed at the main
        thread would stay pending there, a process signal waits for the source's thread)."""
        if self.case.signal_source:
            return os.kill, os.getpid()
        return signal.pthread_kill, self.main_ident

    # -- interrupt context. Two handlers, alike but for the call: each case uses one. They are
    # kept small and the same for every case of a kind, since their cost sets how deep a flood
    # nests them; the library's method is called straight (no frame of the bench's between).

    def on_item(self, signum: int, frame: Any) -> None:
        """A queue case: put the call's sequence number; a False return is a refusal."""
        lvl = self.level + 1
        self.level = lvl
        try:
            if lvl < DEPTH_SLOTS:
                self.seen[lvl] = True
            seq = next(self.calls)
            self.stamps[seq] = pc()
            if self.op(seq) is False:
                self.refused.append(seq)
        except BaseException as exc:
            # RecursionError can also hit these calls: at CPython's recursion limit even a
            # call to a builtin raises. Then the error leaves the handler (counted).
            try:
                self.errors.append(exc)
            except BaseException:
                self.escaped += 1
                raise
        finally:
            self.level = lvl - 1

    def on_flag(self, signum: int, frame: Any) -> None:
        """A flag case: set it (the sequence number is only counted)."""
        lvl = self.level + 1
        self.level = lvl
        try:
            if lvl < DEPTH_SLOTS:
                self.seen[lvl] = True
            seq = next(self.calls)
            self.stamps[seq] = pc()
            self.op()
        except BaseException as exc:  # as in on_item
            try:
                self.errors.append(exc)
            except BaseException:
                self.escaped += 1
                raise
        finally:
            self.level = lvl - 1

    # -- task context
    def took(self, item: int) -> None:
        self.received += 1
        self.distinct.add(item)
        t = self.stamps.get(item)
        if t is not None:
            self.latencies.append(pc() - t)
        if item >= self.final_from:
            self.final_got.set()

    def woke(self) -> None:  # flag cases: one wake
        self.received += 1
        if self.n_calls() > self.final_from:
            self.final_got.set()

    def n_calls(self) -> int:
        # repr(count) is "count(N)": N is the next value, i.e. the handler calls so far.
        return int(repr(self.calls)[6:-1])

    def report(self, hang: bool, where: str = "", hang_depth: int = 0) -> dict[str, Any]:
        calls = self.n_calls()
        refused = self.overruns() if self.overruns is not None else len(self.refused)
        flag = self.case.coalesces
        lat = self.latencies
        return {
            "case": self.case.label,
            "key": self.case.key,
            "sender": self.sender,
            "sent": self.sent,
            "calls": calls,
            "received": self.received,
            "received_in_storm": self.received_in_storm,
            "refused": refused,
            "lost": None if flag else calls - self.received - refused,
            "left_queued": self.left,
            "gone": self.gone,
            "gone_seqs": self.gone_seqs,
            "consumer_parked_at": self.consumer_where or None,
            "consumer_died": self.consumer_died,
            "duplicates": None if flag else self.received - len(self.distinct),
            "max_depth": max(
                max((d for d, hit in enumerate(self.seen) if hit), default=0), hang_depth
            ),
            "latency_p50_ms": percentile(lat, 0.5) / 1e6 if lat else None,
            "latency_max_ms": max(lat) / 1e6 if lat else None,
            "stranded": self.stranded,
            "final_after_wake": self.final_arrived_after_wake,
            "hang": hang,
            "hang_phase": self.phase if hang else None,
            "hang_where": where or None,
            "errors": dict(sorted(Counter(type(e).__name__ for e in list(self.errors)).items())),
            "errors_escaped": self.escaped,
            "error_examples": _examples(self.errors),
            "crash": self.crash,
            "wall_s": time.perf_counter() - self.t0,
        }


HANDLERS = ("on_item", "on_flag")  # how a hang report finds the handlers on the stack


def arm(st: Storm, made: peers.Signal | peers.Channel) -> Callable[[], Awaitable[None]]:
    """Point the handler at the case's library (its own bound method); return the consumer,
    a coroutine function that runs under asyncio or trio alike."""
    if isinstance(made, peers.Signal):
        if made.args:
            raise ValueError(f"{st.case.key}: a flag's set takes no argument here")
        st.op = made.send
        st.handler = st.on_flag
        wait = made.wait

        async def consume_wakes() -> None:
            while True:
                await wait()
                st.woke()

        return consume_wakes
    put = made.bound_put()  # a C partial when the library's call has a leading argument
    st.op = peers.aiologic_signal_safe(put) if st.case.signal_safety else put
    st.handler = st.on_item
    st.overruns = made.refused
    st.take_rest = made.get_nowait
    get = made.get

    async def consume_items() -> None:
        while True:
            st.took(await get())

    return consume_items


def _signal_source(st: Storm) -> Any:
    """A signal_source case: no handler. An irqio SignalSource (main thread) blocks SIGNALS and
    its thread calls the same handler body, `st.handler`, once per signal it takes."""
    from irqio.controller.signal_source import SignalSource

    class HandlerBody:  # the source's target: offer(siginfo) runs the handler body
        def offer(self, info: Any) -> bool:
            st.handler(info.si_signo, None)
            return True  # refusals are counted by the body, as in the other rows

    return SignalSource(HandlerBody(), SIGNALS)


def _examples(errors: Any, n: int = 3) -> list[str]:
    """A few distinct 'error at file:line function' (innermost frame), without linecache."""
    out: list[str] = []
    for exc in list(errors):
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = ""
        if tb is not None:
            code = tb.tb_frame.f_code
            where = f" at {_short(code.co_filename)}:{tb.tb_lineno} {code.co_name}"
        text = f"{type(exc).__name__}: {str(exc)[:80]}{where}"
        if text not in out:
            out.append(text)
        if len(out) >= n:
            break
    return out


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python", "benchmarks/", "src/"):
        i = path.find(marker)
        if i >= 0:
            return path[i + len(marker) :] if marker != "/lib/python" else path[i + 1 :]
    return path


def _signame(s: int) -> str:
    try:
        return signal.Signals(s).name
    except ValueError:
        return f"SIGRTMIN+{s - signal.SIGRTMIN}"


def _block_signals() -> None:
    """In helper threads: leave every storm signal to the main thread, where Python runs
    handlers (a signal the kernel hands to a sleeping helper would wait for the loop)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))


def _thread(fn: Callable[[], None], name: str) -> threading.Thread:
    def run() -> None:
        _block_signals()
        fn()

    t = threading.Thread(target=run, name=name, daemon=True)
    t.start()
    return t


def _main_stack(st: Storm) -> tuple[str, int]:
    """Where the main thread is stuck: its innermost frames, what the first two handlers
    interrupted (the frame under each on the stack), and how many handlers are nested."""
    frame = sys._current_frames().get(st.main_ident)
    if frame is None:
        return "main thread gone", 0
    summary = traceback.extract_stack(frame)

    def loc(f: traceback.FrameSummary) -> str:
        return f"{_short(f.filename)}:{f.lineno} {f.name}"

    under = [
        loc(summary[i - 1])
        for i, f in enumerate(summary)
        if i and f.name in HANDLERS and f.filename == __file__
    ]
    inner = " ← ".join(loc(f) for f in reversed(summary[-3:]))
    text = f"innermost {inner}"
    if under:
        text += f"; handler 1 interrupted {under[0]}"
    if len(under) > 1:
        text += f"; handler 2 interrupted {under[1]}"
    return text, len(under)


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _start_sender(st: Storm, sizes: Sizes, sender: str, over: Callable[[], None]) -> None:
    """Start the storm from `sender`; `over()` runs (in a helper thread) once it has ended."""
    if sender == "thread":

        def send() -> None:
            time.sleep(0.02)  # the loop is asleep in select() when the storm starts
            kill, main = st.kill_target()
            end = time.monotonic() + sizes.storm
            n = 0
            while True:
                for s in SIGNALS:
                    kill(main, s)
                n += 1
                # Hand the GIL over so handlers run between sends (without it CPython
                # merges nearly every arrival and runs a handler a few hundred times a s).
                time.sleep(0)
                if n & 63 == 0 and time.monotonic() > end:
                    break
            st.sent = n * len(SIGNALS)
            st.received_in_storm = st.received
            over()

        _thread(send, "sender")
        return
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PROCESS_SENDER,
            str(os.getpid()),
            str(sizes.storm),
            str(int(signal.SIGUSR1)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )

    def reap() -> None:
        text, _ = proc.communicate()
        try:
            st.sent = int(text.strip() or 0)
        except ValueError:
            st.sent = -1
        st.received_in_storm = st.received
        over()

    _thread(reap, "reaper")


def _drained(st: Storm, still: int) -> bool:
    """The drain is over: every call accounted for (flags: no new wake for a while)."""
    if st.case.coalesces:
        return still > 5
    refused = st.overruns() if st.overruns else len(st.refused)
    return st.received + refused >= st.n_calls()


def _start_final(st: Storm, sizes: Sizes, wake: Callable[[bool], None]) -> None:
    """The final put: one signal while the loop sleeps; then `wake(stranded)` from outside,
    to tell a stranded item from a lost one."""
    st.final_from = st.n_calls()

    def final() -> None:
        time.sleep(0.05)  # the loop is in select() by now, its consumer parked
        kill, main = st.kill_target()
        kill(main, signal.SIGUSR1)
        woke = st.final_got.wait(sizes.final)
        st.stranded = not woke
        wake(not woke)

    _thread(final, "final")


def _where(frames: list[Any]) -> str:
    """Where a parked consumer is (code frames, outermost first): its innermost three."""
    return " → ".join(
        f"{_short(f.f_code.co_filename)}:{f.f_lineno} {f.f_code.co_name}" for f in frames[-3:]
    )


def _take_rest(st: Storm) -> None:
    """With the consumer stopped: take what is still in the library's queue, and account for
    every sequence number (received, refused, still queued, or gone)."""
    if st.take_rest is None:
        return
    rest: set[int] = set()
    for _ in range(1 << 22):
        try:
            rest.add(st.take_rest())
        except Exception:  # the library's "empty"
            break
    st.left = len(rest)
    seen = st.distinct | rest | set(st.refused)
    gone = [i for i in range(st.n_calls()) if i not in seen]
    st.gone = len(gone)
    st.gone_seqs = gone[:5]


def child(key: str, sender: str, sizes: Sizes) -> None:
    case = CASES[key]
    st = Storm(case, sizes, sender)
    out = harness.ChildReport()

    def hang() -> dict[str, Any]:
        return st.report(True, *_main_stack(st))

    _thread(out.watchdog(sizes.storm + sizes.drain + sizes.final + sizes.slack, hang), "watchdog")

    def finish() -> None:
        out.finish(lambda: st.report(False))  # daemon threads, grandchildren: not waited for

    if case.runner == "trio":
        child_trio(st, finish)
        return

    async def main() -> None:
        loop = asyncio.get_running_loop()
        consumer = asyncio.ensure_future(arm(st, case.make())())
        if case.signal_source:
            st.source = _signal_source(st)
        else:
            for s in SIGNALS:
                signal.signal(s, st.handler)
        for _ in range(5):
            await asyncio.sleep(0)  # the consumer parks first
        storm_over: asyncio.Future[None] = loop.create_future()

        def over() -> None:
            # The one loop wake the storm gets from the bench itself: its end.
            loop.call_soon_threadsafe(_resolve, storm_over, None)

        st.phase = "storm"
        _start_sender(st, sizes, sender, over)
        await storm_over
        st.phase = "drain"
        end = time.monotonic() + sizes.drain
        last, still = -1, 0
        while time.monotonic() < end:
            await asyncio.sleep(0.01)
            if _drained(st, still):
                break
            still = still + 1 if st.received == last else 0
            last = st.received
        # Final put: the loop is asleep, no timer is armed; only the library can wake it.
        st.phase = "final put"
        for _ in range(5):
            await asyncio.sleep(0)
        final_done: asyncio.Future[bool] = loop.create_future()
        # Now wake the loop from outside, to tell a stranded item from a lost one.
        _start_final(st, sizes, lambda s: loop.call_soon_threadsafe(_resolve, final_done, s))
        stranded = await final_done
        if stranded:
            for _ in range(20):
                await asyncio.sleep(0.005)
            st.final_arrived_after_wake = st.final_got.is_set()
        st.phase = "done"
        if st.source is not None:
            st.source.close()  # hands the signals back (their disposition), ignored below
        for s in SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        if consumer.done() and not consumer.cancelled() and consumer.exception() is not None:
            exc = consumer.exception()
            st.consumer_died = _examples([exc], 1)[0] if exc is not None else None
        st.consumer_where = _where(consumer.get_stack())  # where the consumer is parked now
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        _take_rest(st)

    try:
        asyncio.run(main())
    except BaseException as exc:  # an error that left the handler and ended the loop
        st.crash = f"the loop ended with {type(exc).__name__}: {str(exc)[:100]}"
    finish()


def child_trio(st: Storm, finish: Callable[[], None]) -> None:
    """The same phases as the asyncio child, under trio.run in the main thread. trio.run
    installs its own wake-up fd (signal.set_wakeup_fd, its entry queue's socketpair) before
    the bench installs its handlers, which leave it in place: every arrival of a signal with a
    Python handler, the bench's included, writes a byte there from C and wakes trio's I/O
    wait, whatever the handler does. So no trio row can strand for want of a wake (with the
    fd removed, the direct row strands like asyncio's; run_sync_soon writes its own byte)."""
    import trio

    sizes, sender = st.sizes, st.sender

    async def main() -> None:
        token = trio.lowlevel.current_trio_token()
        consume = arm(st, st.case.make())
        consumer_scope = trio.CancelScope()

        async def run_consumer(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            with consumer_scope:
                task_status.started(trio.lowlevel.current_task())
                try:
                    await consume()
                except Exception as exc:  # the consumer died (Cancelled is not an Exception)
                    st.consumer_died = _examples([exc], 1)[0]

        async with trio.open_nursery() as nursery:
            consumer = await nursery.start(run_consumer)
            for s in SIGNALS:
                signal.signal(s, st.handler)
            for _ in range(5):
                await trio.lowlevel.checkpoint()  # the consumer parks first
            storm_over = trio.Event()
            st.phase = "storm"
            # The one wake the storm gets from the bench itself: its end.
            _start_sender(st, sizes, sender, lambda: token.run_sync_soon(storm_over.set))
            await storm_over.wait()
            st.phase = "drain"
            end = time.monotonic() + sizes.drain
            last, still = -1, 0
            while time.monotonic() < end:
                await trio.sleep(0.01)
                if _drained(st, still):
                    break
                still = still + 1 if st.received == last else 0
                last = st.received
            st.phase = "final put"
            for _ in range(5):
                await trio.lowlevel.checkpoint()
            final_done = trio.Event()
            _start_final(st, sizes, lambda s: token.run_sync_soon(final_done.set))
            await final_done.wait()
            if st.stranded:
                for _ in range(20):
                    await trio.sleep(0.005)
                st.final_arrived_after_wake = st.final_got.is_set()
            st.phase = "done"
            for s in SIGNALS:
                signal.signal(s, signal.SIG_IGN)
            await trio.sleep(0.02)  # entry-queue jobs still pending run now, and the consumer
            for _ in range(5):
                await trio.lowlevel.checkpoint()
            st.consumer_where = _where([f for f, _ in consumer.iter_await_frames()])
            # Account now, with no checkpoint in between (the consumer cannot run), and report
            # before trio's own shutdown: the direct row's handler runs inside trio's
            # internals, and the report must not depend on trio then cancelling and reaping
            # the consumer (a hang there would be the watchdog's, in phase "done").
            _take_rest(st)
            finish()
            nursery.cancel_scope.cancel()  # not reached

    try:
        trio.run(main)
    except BaseException as exc:  # an error that left the handler and ended trio.run
        st.crash = f"trio.run ended with {type(exc).__name__}: {str(exc)[:100]}"
    finish()


# -- the parent -----------------------------------------------------------------------------


def run_case(
    key: str, sender: str, mode: str, sizes: Sizes, hard: float | None = None
) -> dict[str, Any]:
    """Run case `key` in a subprocess; kill it after a hard timeout (a hang). The child's own
    watchdog reports a hang earlier, with where the main thread is stuck; the hard bound is
    for a child that cannot even do that (say, the GIL held for good)."""
    case = CASES[key]
    if hard is None:
        hard = sizes.storm + sizes.drain + sizes.final + sizes.slack + 10.0
    args = ("--child", key, "--sender", sender, "--mode", mode)
    run = harness.run_child(harness.this_python(Path(__file__).resolve(), *args), hard)
    if run.killed:
        rec = run.record or _blank(case, sender)
        rec.update(hang=True, killed=True, wall_s=run.wall_s)
        rec["hang_where"] = rec.get("hang_where") or f"killed after {hard:.0f} s, no report"
        return rec
    if run.record is None:
        rec = _blank(case, sender)
        rec["crash"] = f"exit {run.returncode}: {run.stderr.strip()[-400:]}"
    else:
        rec = run.record
    rec["killed"] = False
    rec["wall_s"] = run.wall_s
    return rec


def _blank(case: Case, sender: str) -> dict[str, Any]:
    return {
        "case": case.label,
        "key": case.key,
        "sender": sender,
        "sent": None,
        "calls": None,
        "received": None,
        "received_in_storm": None,
        "refused": None,
        "lost": None,
        "left_queued": None,
        "gone": None,
        "gone_seqs": [],
        "consumer_parked_at": None,
        "consumer_died": None,
        "duplicates": None,
        "max_depth": None,
        "latency_p50_ms": None,
        "latency_max_ms": None,
        "stranded": None,
        "final_after_wake": None,
        "hang": False,
        "hang_phase": None,
        "hang_where": None,
        "errors": {},
        "errors_escaped": 0,
        "error_examples": [],
        "crash": None,
    }


def verdict(r: dict[str, Any]) -> str:
    if r.get("crash"):
        return "crash"
    if r["hang"]:
        return "hang"
    bad = []
    if r.get("consumer_died"):
        bad.append("died")  # the consumer task ended with an exception
    left = r.get("left_queued") or 0
    if left:
        bad.append("lost wake")  # items sit in the queue, the consumer sleeps
    if r["lost"] and r["lost"] > left:
        bad.append("lost")
    if r["duplicates"]:
        bad.append("duplicates")
    if r["stranded"] and not left:
        bad.append("stranded")
    if r["errors"]:
        bad.append("errors")
    return ", ".join(bad) or "ok"


def _n(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.1f}" if x >= 0.1 else f"{x:.2f}"
    return f"{x:,}"


LEGEND = (
    "calls: handler runs (CPython merges arrivals of one signal between its checks, so calls ≤ "
    "signals sent); lost = calls − received − refused (a put that raised counts as lost); "
    "queued: of those, still in the library's queue at the end while its consumer sleeps (a "
    "lost wake-up); depth: deepest nesting of the handler inside itself; lat: handler's put → "
    "consumer took it; stranded: the final put, made while the loop slept, did not wake the "
    "consumer within the bound (', queued': the item was there once the loop was woken from "
    "outside); hang: the child stopped making progress and was ended; errors: raised inside "
    "the handler, by type; verdict 'died': the consumer task ended with an exception. Flag rows: "
    "received = wakes (coalesced), so lost does not apply."
)


SENDER_TITLES = {
    "thread": "a thread of the process: pthread_kill(main, SIGUSR1 / SIGRTMIN+1), sleep(0) between",
    "process": "another process: kill(pid, SIGUSR1), sched_yield() between",
}


def print_table(console: Any, results: dict[str, Any]) -> None:
    cols = [
        "library / operation",
        "calls",
        "received",
        "refused",
        "lost",
        "queued",
        "depth",
        "p50 ms",
        "max ms",
        "stranded",
        "hang",
        "handler errors",
        "wall s",
        "verdict",
    ]
    senders = list(dict.fromkeys(r["sender"] for r in results["cases"]))
    for sender in senders:
        t = report.table(
            f"Signal storm from {SENDER_TITLES.get(sender, sender)}",
            cols,
            right=lambda i: 1 <= i <= 8 or i == 12,
        )
        for r in results["cases"]:
            if r["sender"] != sender:
                continue
            v = r.get("verdict") or verdict(r)
            colour = "green" if v == "ok" else "red"
            errors = (
                ", ".join(f"{k.removesuffix('Error')} ×{n:,}" for k, n in r["errors"].items())
                or "-"
            )
            stranded = _n(r["stranded"]) + (", queued" if r.get("final_after_wake") else "")
            t.add_row(
                escape(r["case"]),
                _n(r["calls"]),
                _n(r["received"]),
                _n(r["refused"]),
                _n(r["lost"]),
                _n(r.get("left_queued")),
                _n(r["max_depth"]),
                _n(r["latency_p50_ms"]),
                _n(r["latency_max_ms"]),
                stranded,
                _n(r["hang"]),
                errors,
                f"{r['wall_s']:.1f}",
                f"[{colour}]{v}[/]",
            )
        console.print(t)
    console.print(f"  [dim]{LEGEND}[/]")
    for r in results["cases"]:
        notes = []
        if r["hang"]:
            notes.append(f"hung in {r.get('hang_phase')}: {r.get('hang_where')}")
        notes += r.get("error_examples") or []
        if r.get("consumer_died"):
            notes.append(f"the consumer task died: {r['consumer_died']}")
        if r.get("gone"):
            notes.append(
                f"{r['gone']} item(s) vanished (neither received nor queued), e.g. "
                f"seq {r['gone_seqs']}"
            )
        if r.get("errors_escaped"):
            notes.append(f"{r['errors_escaped']} errors left the handler itself")
        if r.get("crash"):
            notes.append(r["crash"])
        for note in notes:
            console.print(
                f"  [dim][bold]{escape(r['case'])}[/bold] ({r['sender']}): {escape(note)}[/]"
            )
    console.print()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench_storm",
        description="a signal storm: irqio beside asyncio, janus, culsans, aiologic, anyio, trio",
    )
    harness.add_mode_arguments(p, "short storms (~1 min)")
    p.add_argument(
        "--sender",
        choices=("thread", "process", "both"),
        default=None,
        help="who sends the signals: a thread of the process, another process, or both "
        "(default both; --smoke: thread)",
    )
    p.add_argument(
        "--case",
        action="append",
        default=None,
        metavar="KEY",
        help="run only the cases whose key contains this text (repeatable): " + ", ".join(CASES),
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="full", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, args.sender, SIZES[args.mode])
        return 0  # not reached: child() ends the process
    if RT is None or not hasattr(signal, "pthread_kill"):
        print("bench_storm: needs POSIX signals (pthread_kill, real-time signals)", file=sys.stderr)
        return 2
    mode = harness.mode_of(args)
    sizes = SIZES[mode]
    # Default: the mode's senders (--smoke: thread only); "both" asks for both even in smoke.
    senders = {None: sizes.senders, "both": ("thread", "process")}.get(args.sender, (args.sender,))
    cases = selected(args.case)
    if not cases:
        print(
            f"bench_storm: no case matches --case {' / '.join(args.case)}; the cases: "
            + ", ".join(CASES),
            file=sys.stderr,
        )
        return 2
    modules = versions()
    skipped = [c for c in cases if modules.get(c.library) is None]
    cases = [c for c in cases if c not in skipped]
    err = report.stderr_console()
    if skipped:
        report.print_verbatim(err, f"not installed, skipped: {', '.join(c.label for c in skipped)}")
        missing = list(dict.fromkeys(c.library for c in skipped))
        report.print_verbatim(err, report.install_hint(missing, "storm"))
    results: dict[str, Any] = {"cases": []}
    steps = harness.Steps()
    for sender in senders:
        for case in cases:

            def go(case: Case = case, sender: str = sender) -> None:
                results["cases"].append(run_case(case.key, sender, mode, sizes))

            steps.add(f"storm: {case.label} ({sender} sender)", go)
    t0 = time.perf_counter()
    progress = report.progress(err)
    with progress:
        steps.run(progress)
    for r in results["cases"]:
        r["verdict"] = verdict(r)
        case = CASES[r["key"]]
        r["handler_does"], r["consumer_does"] = case.handler_does, case.consumer_does
    irqio_bad = [
        f"{r['case']} ({r['sender']}): {r['verdict']}"
        for r in results["cases"]
        if CASES[r["key"]].library == "irqio" and r["verdict"] != "ok"
    ]
    results["meta"] = {
        **harness.machine(),
        "loop": "asyncio (stock, main thread); trio cases: trio.run (main thread)",
        "mode": mode,
        "storm_s": sizes.storm,
        "final_bound_s": sizes.final,
        "senders": list(senders),
        "signals": [_signame(s) for s in SIGNALS],
        "versions": {k: v for k, v in modules.items() if v is not None},
        "skipped": [c.label for c in skipped],
        "seconds": time.perf_counter() - t0,
        "errors": irqio_bad + steps.errors,
    }
    if args.json:
        report.dump_json(results)
    else:
        out = report.stdout_console()
        meta = results["meta"]
        vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if k != "asyncio")
        out.print(
            f"irqio signal storm · Python {meta['python']} · {meta['cpus']} CPUs · stock asyncio "
            f"loop (trio rows: trio.run) · {sizes.storm:g} s storm per case · {mode} run in "
            f"{meta['seconds']:.0f} s · {vers}"
        )
        print_table(out, results)
        for e in irqio_bad:
            out.print(f"[red]irqio failed[/] {escape(e)}")
        for e in steps.errors:
            out.print(f"[red]error[/] {escape(e)}")
    return 1 if results["meta"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
