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
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

pc = time.perf_counter_ns

# -- the cases ------------------------------------------------------------------------------

# name -> (what the handler does, what the consumer does, module needed)
CASES: dict[str, tuple[str, str, str]] = {
    "irqio Queue.offer": (
        "q.offer(seq) into irqio.Queue(4096); a refusal returns False (counted in overruns)",
        "await q.get()",
        "irqio",
    ),
    "irqio SignalSource → Queue.offer": (
        "no handler: irqio SignalSource(queue, signals) blocks the signals and its thread takes "
        "them with sigwaitinfo, then calls the same handler body, which offers seq into "
        "irqio.Queue(4096); signals go to the process (kill), not pthread_kill(main)",
        "await q.get()",
        "irqio",
    ),
    "irqio Flag.set": (
        "flag.set() (coalescing: many sets, one wake)",
        "await flag.wait(); received = wakes (not comparable with calls)",
        "irqio",
    ),
    "asyncio Queue.put_nowait (direct)": (
        "q.put_nowait(seq) into an unbounded asyncio.Queue, straight from the handler",
        "await q.get()",
        "asyncio",
    ),
    "asyncio Queue via call_soon_threadsafe": (
        "loop.call_soon_threadsafe(q.put_nowait, seq): the documented way in from outside",
        "await q.get()",
        "asyncio",
    ),
    "janus sync_q.put_nowait": (
        "jq.sync_q.put_nowait(seq), unbounded janus.Queue",
        "await jq.async_q.get()",
        "janus",
    ),
    "culsans sync_q.put_nowait": (
        "cq.sync_q.put_nowait(seq), unbounded culsans.Queue",
        "await cq.async_q.get()",
        "culsans",
    ),
    "culsans sync_q.put_nowait, signal safety": (
        "with aiologic.lowlevel.enable_signal_safety(): cq.sync_q.put_nowait(seq)",
        "await cq.async_q.get()",
        "culsans",
    ),
    "aiologic SimpleQueue.put": (
        "sq.put(seq), aiologic.SimpleQueue",
        "await sq.async_get()",
        "aiologic",
    ),
    "aiologic SimpleQueue.put, signal safety": (
        "with aiologic.lowlevel.enable_signal_safety(): sq.put(seq) (aiologic's switch for "
        "signal handlers: wake through call_soon_threadsafe)",
        "await sq.async_get()",
        "aiologic",
    ),
    "aiologic REvent.set": (
        "ev.set() on a reusable aiologic.REvent",
        "await ev; ev.clear(); received = wakes",
        "aiologic",
    ),
    "anyio send_nowait (direct)": (
        "send.send_nowait(seq) on an unbounded anyio memory object stream",
        "await recv.receive()",
        "anyio",
    ),
    "anyio from_thread.run_sync": (
        "anyio.from_thread.run_sync(send.send_nowait, seq, token=token): anyio's way into "
        "the loop from outside; it waits for the result",
        "await recv.receive()",
        "anyio",
    ),
    "trio run_sync_soon": (
        "token.run_sync_soon(send.send_nowait, seq) into an unbounded trio memory channel: "
        "trio's documented way in from a signal handler (under trio.run)",
        "await recv.receive()",
        "trio",
    ),
    "trio send_nowait (direct)": (
        "send.send_nowait(seq) on an unbounded trio memory channel, straight from the handler "
        "(under trio.run)",
        "await recv.receive()",
        "trio",
    ),
}
FLAG_CASES = {"irqio Flag.set", "aiologic REvent.set"}
IRQIO_CASES = ("irqio Queue.offer", "irqio SignalSource → Queue.offer", "irqio Flag.set")
# Cases with no Python signal handler: a SignalSource's thread runs the handler body per signal.
SOURCE_CASES = {"irqio SignalSource → Queue.offer"}
IRQIO_CAPACITY = 4096
DEPTH_SLOTS = 4096


def available_modules() -> dict[str, str | None]:
    """Module name -> version, or None when it is not installed (its cases are skipped)."""
    out: dict[str, str | None] = {"asyncio": platform.python_version()}
    for name in ("irqio", "janus", "culsans", "aiologic", "anyio", "trio"):
        try:
            mod = __import__(name)
        except ImportError:
            out[name] = None
            continue
        version = getattr(mod, "__version__", None)
        if version is None:
            try:
                from importlib.metadata import version as dist_version

                version = dist_version(name)
            except Exception:
                version = "?"
        out[name] = str(version)
    return out


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

    def __init__(self, case: str, sizes: Sizes, sender: str) -> None:
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
        self.op: Callable[[int], bool | None] = lambda seq: None
        self.overruns: Callable[[], int] | None = None
        # At the end, the consumer cancelled: take what is still in the library's queue.
        self.take_rest: Callable[[], Any] | None = None
        self.left: int | None = None  # items found there (the consumer slept on them)
        self.gone: int | None = None  # calls neither received, refused nor left: vanished
        self.gone_seqs: list[int] = []
        self.consumer_where = ""
        self.consumer_died: str | None = None  # the consumer task ended with this exception
        self.source: Any = None  # SOURCE_CASES: the irqio SignalSource, closed at the end

    def kill_target(self) -> tuple[Callable[[int, int], None], int]:
        """How this case's senders signal the main thread: pthread_kill(main) for a handler;
        kill(pid) for a SignalSource (blocked everywhere, its thread takes process signals)."""
        if self.case in SOURCE_CASES:
            return os.kill, os.getpid()
        return signal.pthread_kill, self.main_ident

    # -- interrupt context
    def handler(self, signum: int, frame: Any) -> None:
        # Kept small and the same for every case: its cost sets how deep a flood nests it.
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
        flag = self.case in FLAG_CASES
        lat = sorted(self.latencies)
        return {
            "case": self.case,
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
            "latency_p50_ms": lat[len(lat) // 2] / 1e6 if lat else None,
            "latency_max_ms": lat[-1] / 1e6 if lat else None,
            "stranded": self.stranded,
            "final_after_wake": self.final_arrived_after_wake,
            "hang": hang,
            "hang_phase": self.phase if hang else None,
            "hang_where": where or None,
            "errors": dict(sorted(_tally(type(e).__name__ for e in self.errors).items())),
            "errors_escaped": self.escaped,
            "error_examples": _examples(self.errors),
            "crash": self.crash,
            "wall_s": time.perf_counter() - self.t0,
        }


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


def _tally(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in list(items):
        out[x] = out.get(x, 0) + 1
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


def setup_case(st: Storm, loop: asyncio.AbstractEventLoop) -> Callable[[], Any]:
    """Build the case's queue: set st.op (interrupt side); return the consumer coroutine."""
    case = st.case
    if case == "irqio Queue.offer":
        import irqio

        iq: Any = irqio.Queue(IRQIO_CAPACITY)
        st.op = iq.offer
        st.overruns = lambda: int(iq.overruns)
        st.take_rest = iq.get_nowait

        async def consume_irqio() -> None:
            while True:
                st.took(await iq.get())

        return consume_irqio
    if case in SOURCE_CASES:
        import irqio
        from irqio.controller.signal_source import SignalSource

        sq: Any = irqio.Queue(IRQIO_CAPACITY)
        st.op = sq.offer
        st.overruns = lambda: int(sq.overruns)
        st.take_rest = sq.get_nowait

        class HandlerBody:  # the source's target: the same handler body, from its thread
            def offer(self, info: Any) -> bool:
                st.handler(info.si_signo, None)
                return True  # refusals are counted by the handler body, as in the other rows

        st.source = SignalSource(HandlerBody(), SIGNALS)

        async def consume_source() -> None:
            while True:
                st.took(await sq.get())

        return consume_source
    if case == "irqio Flag.set":
        import irqio

        flag = irqio.Flag()

        def set_flag(seq: int) -> None:
            flag.set()

        st.op = set_flag

        async def wait_flag() -> None:
            while True:
                await flag.wait()
                st.woke()

        return wait_flag
    if case.startswith("asyncio"):
        aq: asyncio.Queue[int] = asyncio.Queue()
        if "direct" in case:
            st.op = aq.put_nowait
        else:  # a C partial: no Python frame of the bench's own between handler and library
            cst: Any = loop.call_soon_threadsafe
            st.op = functools.partial(cst, aq.put_nowait)
        st.take_rest = aq.get_nowait

        async def consume_asyncio() -> None:
            while True:
                st.took(await aq.get())

        return consume_asyncio
    if case.startswith(("janus", "culsans")):
        mod = __import__(case.split()[0])
        mq: Any = mod.Queue()
        put = mq.sync_q.put_nowait
        if "signal safety" in case:
            from aiologic.lowlevel import enable_signal_safety

            def put_safe(seq: int) -> None:
                with enable_signal_safety():
                    put(seq)

            st.op = put_safe
        else:
            st.op = put
        st.take_rest = mq.sync_q.get_nowait

        async def consume_mixed() -> None:
            while True:
                st.took(await mq.async_q.get())

        return consume_mixed
    if case.startswith("aiologic SimpleQueue"):
        import aiologic
        from aiologic.lowlevel import enable_signal_safety

        sq: Any = aiologic.SimpleQueue()
        if "signal safety" in case:

            def put_sq(seq: int) -> None:
                with enable_signal_safety():
                    sq.put(seq)

            st.op = put_sq
        else:
            st.op = sq.put
        st.take_rest = lambda: sq.green_get(blocking=False)

        async def consume_sq() -> None:
            while True:
                st.took(await sq.async_get())

        return consume_sq
    if case == "aiologic REvent.set":
        import aiologic

        ev = aiologic.REvent()

        def set_ev(seq: int) -> None:
            ev.set()

        st.op = set_ev

        async def wait_ev() -> None:
            while True:
                await ev
                ev.clear()
                st.woke()

        return wait_ev
    if case.startswith("anyio"):
        import math

        import anyio
        import anyio.from_thread
        import anyio.lowlevel

        send, recv = anyio.create_memory_object_stream[int](max_buffer_size=math.inf)
        if "direct" in case:
            st.op = send.send_nowait
        else:
            token = anyio.lowlevel.current_token()
            run_sync: Any = anyio.from_thread.run_sync
            st.op = functools.partial(run_sync, send.send_nowait, token=token)
        st.take_rest = recv.receive_nowait

        async def consume_anyio() -> None:
            while True:
                st.took(await recv.receive())

        return consume_anyio
    raise SystemExit(f"unknown case {case!r}")


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
        if i and f.name == "handler" and f.filename == __file__
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
    if st.case in FLAG_CASES:
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


def child(case: str, sender: str, sizes: Sizes) -> None:
    st = Storm(case, sizes, sender)
    out = sys.stdout
    reported = threading.Lock()

    def emit(rec: dict[str, Any]) -> None:
        if reported.acquire(blocking=False):  # once: the watchdog or the normal end
            out.write(json.dumps(rec) + "\n")
            out.flush()

    def watchdog() -> None:
        bound = sizes.storm + sizes.drain + sizes.final + sizes.slack
        if finished.wait(bound):
            return
        where, depth = _main_stack(st)
        emit(st.report(True, where, depth))
        os._exit(0)

    def finish() -> None:
        finished.set()
        emit(st.report(False))
        out.flush()
        os._exit(0)  # daemon threads, grandchildren: nothing to wait for

    finished = threading.Event()
    _thread(watchdog, "watchdog")
    if CASES[case][2] == "trio":
        child_trio(st, finish)
        return

    async def main() -> None:
        loop = asyncio.get_running_loop()
        consumer = asyncio.ensure_future(setup_case(st, loop)())
        for s in SIGNALS if st.source is None else ():
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
            st.source.close()  # hands the signals back (SIG_DFL), then ignored below
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


def setup_trio_case(st: Storm) -> Callable[[], Any]:
    """The trio cases (inside trio.run): set st.op; return the consumer coroutine function."""
    import math

    import trio

    send, recv = trio.open_memory_channel[int](math.inf)
    if "direct" in st.case:
        st.op = send.send_nowait
    else:  # a C partial, as for call_soon_threadsafe: no frame of the bench's own in between
        token = trio.lowlevel.current_trio_token()
        st.op = functools.partial(token.run_sync_soon, send.send_nowait)
    st.take_rest = recv.receive_nowait  # trio.WouldBlock when empty

    async def consume_trio() -> None:
        while True:
            st.took(await recv.receive())

    return consume_trio


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
        consume = setup_trio_case(st)
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
    case: str, sender: str, mode: str, sizes: Sizes, hard: float | None = None
) -> dict[str, Any]:
    """Run one case in a subprocess; kill it after a hard timeout (a hang). The child's own
    watchdog reports a hang earlier, with where the main thread is stuck; the hard bound is
    for a child that cannot even do that (say, the GIL held for good)."""
    if hard is None:
        hard = sizes.storm + sizes.drain + sizes.final + sizes.slack + 10.0
    t0 = time.perf_counter()
    cmd = [sys.executable, os.path.abspath(__file__), "--child", case, "--sender", sender]
    cmd += ["--mode", mode]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=hard)
    except subprocess.TimeoutExpired as exc:  # run() killed it
        text = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        rec = _parse(text) or _blank(case, sender)
        rec.update(hang=True, killed=True, wall_s=time.perf_counter() - t0)
        rec["hang_where"] = rec.get("hang_where") or f"killed after {hard:.0f} s, no report"
        return rec
    parsed = _parse(proc.stdout)
    if parsed is None:
        rec = _blank(case, sender)
        rec["crash"] = f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"
    else:
        rec = parsed
    rec["killed"] = False
    rec["wall_s"] = time.perf_counter() - t0
    return rec


def _parse(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            return rec
    return None


def _blank(case: str, sender: str) -> dict[str, Any]:
    return {
        "case": case,
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
    from rich.table import Table

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
        t = Table(
            title=f"Signal storm from {SENDER_TITLES.get(sender, sender)}",
            title_justify="left",
        )
        for i, c in enumerate(cols):
            right = 1 <= i <= 8 or i == 12
            t.add_column(c, justify="right" if right else "left", no_wrap=True)
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
                r["case"],
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
            console.print(f"  [dim][bold]{r['case']}[/bold] ({r['sender']}): {note}[/]")
    console.print()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench_storm",
        description="a signal storm: irqio beside asyncio, janus, culsans, aiologic, anyio, trio",
    )
    p.add_argument("--json", action="store_true", help="results as JSON on stdout")
    p.add_argument("--quick", action="store_true", help="short storms (~1 min)")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests: tiny runs
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
        help="run only cases whose name contains this text (repeatable)",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="full", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        sizes = SIZES[args.mode]
        child(args.child, args.sender, sizes)
        return 0  # not reached: child() ends the process
    if RT is None or not hasattr(signal, "pthread_kill"):
        print("bench_storm: needs POSIX signals (pthread_kill, real-time signals)", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = SIZES[mode]
    # Default: the mode's senders (--smoke: thread only); "both" asks for both even in smoke.
    senders = {None: sizes.senders, "both": ("thread", "process")}.get(args.sender, (args.sender,))
    modules = available_modules()
    cases = [c for c in CASES if not args.case or any(s in c for s in args.case)]
    skipped = [c for c in cases if modules.get(CASES[c][2]) is None]
    cases = [c for c in cases if c not in skipped]
    err = Console(stderr=True)
    if skipped:
        err.print(f"not installed, skipped: {', '.join(skipped)} (pip install 'irqio[bench]')")
    plan = [(c, s) for s in senders for c in cases]
    results: dict[str, Any] = {"cases": []}
    t0 = time.perf_counter()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with progress:
        task = progress.add_task("storm", total=len(plan))
        for case, sender in plan:
            progress.update(task, description=f"storm: {case} ({sender} sender)")
            results["cases"].append(run_case(case, sender, mode, sizes))
            progress.advance(task)
    for r in results["cases"]:
        r["verdict"] = verdict(r)
        r["handler_does"], r["consumer_does"] = CASES[r["case"]][:2]
    irqio_bad = [
        f"{r['case']} ({r['sender']}): {r['verdict']}"
        for r in results["cases"]
        if r["case"] in IRQIO_CASES and r["verdict"] != "ok"
    ]
    results["meta"] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loop": "asyncio (stock, main thread); trio cases: trio.run (main thread)",
        "mode": mode,
        "storm_s": sizes.storm,
        "final_bound_s": sizes.final,
        "senders": list(senders),
        "signals": [_signame(s) for s in SIGNALS],
        "versions": {k: v for k, v in modules.items() if v is not None},
        "skipped": skipped,
        "seconds": time.perf_counter() - t0,
        "errors": irqio_bad,
    }
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        out = Console(width=None if sys.stdout.isatty() else 220)
        meta = results["meta"]
        vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if k != "asyncio")
        out.print(
            f"irqio signal storm · Python {meta['python']} · {meta['cpus']} CPUs · stock asyncio "
            f"loop (trio rows: trio.run) · {sizes.storm:g} s storm per case · {mode} run in "
            f"{meta['seconds']:.0f} s · {vers}"
        )
        print_table(out, results)
        for e in irqio_bad:
            out.print(f"[red]irqio failed[/] {e}")
    return 1 if irqio_bad else 0


if __name__ == "__main__":
    sys.exit(main())
