"""NVIC rules: preemption only by strictly higher priority, tail-chaining in priority order,
FIFO within a priority, merged pends counted; pends from task code, handlers, other threads,
real signals from another process; CPU-bound coroutines preempted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

from irqio.controller import Controller, Line

from ._helpers import spin_until, wait_until


def test_pend_from_task_runs_at_once(ctl: Controller) -> None:
    seen: list[int] = []
    line = ctl.line("a", 1, lambda: seen.append(ctl.running_priority))
    line.pend()
    assert seen == [1]
    assert ctl.running_priority == 0
    assert (line.runs, line.merged, line.pends) == (1, 0, 1)


def test_decorator_form(ctl: Controller) -> None:
    seen: list[str] = []

    @ctl.on("tick", 2)
    def tick() -> None:
        seen.append("tick")

    assert isinstance(tick, Line)
    assert tick.priority == 2
    tick.pend()
    assert seen == ["tick"]


def test_only_strictly_higher_preempts_and_tail_chain_order(ctl: Controller) -> None:
    log: list[str] = []
    lines: dict[str, Line] = {}

    def mid_handler() -> None:
        log.append("mid:start")
        lines["low"].pend()  # lower: stays pending
        lines["mid2"].pend()  # equal: stays pending
        lines["high"].pend()  # strictly higher: preempts right here
        log.append("mid:end")

    lines["low"] = ctl.line("low", 1, lambda: log.append("low"))
    lines["mid"] = ctl.line("mid", 2, mid_handler)
    lines["mid2"] = ctl.line("mid2", 2, lambda: log.append("mid2"))
    lines["high"] = ctl.line("high", 3, lambda: log.append("high"))
    lines["mid"].pend()
    # high ran nested inside mid; mid2 and low were tail-chained after mid, by priority.
    assert log == ["mid:start", "high", "mid:end", "mid2", "low"]


def test_tail_chaining_never_returns_to_task_context(ctl: Controller) -> None:
    priorities: list[int] = []
    a = ctl.line("a", 1, lambda: priorities.append(ctl.running_priority))
    b = ctl.line("b", 2, lambda: priorities.append(ctl.running_priority))

    def top() -> None:
        a.pend()
        b.pend()
        priorities.append(ctl.running_priority)

    ctl.line("top", 3, top).pend()
    assert priorities == [3, 2, 1]  # every step ran in interrupt context, none at 0
    assert ctl.running_priority == 0


def test_fifo_within_a_priority(ctl: Controller) -> None:
    log: list[str] = []
    same = [ctl.line(f"s{i}", 1, lambda i=i: log.append(f"s{i}")) for i in range(5)]

    def top() -> None:
        for i in (3, 0, 4, 1, 2):
            same[i].pend()

    ctl.line("top", 2, top).pend()
    assert log == ["s3", "s0", "s4", "s1", "s2"]


def test_merged_pends_run_once_and_are_counted(ctl: Controller) -> None:
    runs: list[int] = []
    low = ctl.line("low", 1, lambda: runs.append(1))

    def top() -> None:
        for _ in range(5):
            low.pend()

    ctl.line("top", 2, top).pend()
    assert runs == [1]
    assert (low.runs, low.merged, low.pends) == (1, 4, 5)


def test_pend_during_own_handler_runs_again(ctl: Controller) -> None:
    count = [0]
    line: list[Line] = []

    def again() -> None:
        count[0] += 1
        if count[0] == 1:
            line[0].pend()  # equal priority (itself): pending, runs after this run

    line.append(ctl.line("again", 1, again))
    line[0].pend()
    assert count[0] == 2
    assert line[0].merged == 0


def test_pend_from_another_thread_preempts_busy_main(ctl: Controller) -> None:
    ran_in: list[int] = []
    line = ctl.line("x", 2, lambda: ran_in.append(threading.get_ident()))
    t = threading.Thread(target=line.pend)
    t.start()
    spin_until(lambda: bool(ran_in), what="handler to preempt the spinning main thread")
    t.join()
    assert ran_in == [threading.main_thread().ident]
    assert line.latency.count == 1


def test_cpu_bound_coroutine_that_never_yields_is_preempted(ctl: Controller) -> None:
    at: list[int] = []
    progress = [0]
    line = ctl.line("urgent", 3, lambda: at.append(progress[0]))

    async def hog() -> tuple[int, int]:
        threading.Thread(target=lambda: (time.sleep(0.02), line.pend())).start()
        deadline = time.perf_counter() + 5.0
        while not at and time.perf_counter() < deadline:
            progress[0] += 1  # pure bytecode, no await, no syscall
        return progress[0], len(at)

    before_end, runs = asyncio.run(hog())
    assert runs == 1, "the handler never ran while the coroutine spun"
    assert 0 < at[0] <= before_end  # it ran in the middle of the coroutine's loop


def test_sleeping_selector_wakes_for_foreign_pend(ctl: Controller) -> None:
    ran = threading.Event()
    line = ctl.line("x", 1, ran.set)

    async def sleeper() -> float:
        t = threading.Thread(target=lambda: (time.sleep(0.02), line.pend()))
        t.start()
        start = time.perf_counter()
        while not ran.is_set() and time.perf_counter() - start < 5:
            await asyncio.sleep(1.0)  # the loop sleeps in select(); the signal interrupts it
        t.join()
        return time.perf_counter() - start

    elapsed = asyncio.run(sleeper())
    assert ran.is_set()
    assert line.latency.max < 0.5e9  # ran while the selector slept, not after its 1 s timeout
    assert elapsed >= 0.0


def test_interrupt_main_kick_with_wakeup_fd() -> None:
    async def main() -> int:
        ran = threading.Event()
        with Controller(kick="interrupt_main") as ctl:
            line = ctl.line("x", 1, ran.set)
            t = threading.Thread(target=lambda: (time.sleep(0.02), line.pend()))
            t.start()
            loop = asyncio.get_running_loop()
            start = loop.time()
            while not ran.is_set() and loop.time() - start < 5:
                await asyncio.sleep(1.0)
            t.join()
            assert line.latency.max < 0.5e9  # woken through the wakeup fd, not the 1 s timeout
            return line.runs

    assert asyncio.run(main()) == 1


def test_many_foreign_pends_none_lost(ctl: Controller) -> None:
    runs = [0]
    line = ctl.line("x", 1, lambda: runs.__setitem__(0, runs[0] + 1))
    n_threads, per = 4, 500

    def hammer() -> None:
        for _ in range(per):
            line.pend()

    threads = [threading.Thread(target=hammer) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: line.pends == line.runs + line.merged, what="all pends taken")
    assert line.pends == n_threads * per
    assert line.runs == runs[0] >= 1


def test_real_signal_from_another_process_pends_its_line(ctl: Controller) -> None:
    sig = signal.SIGRTMIN + 3
    got: list[int] = []
    line = ctl.line("ext", 2, lambda: got.append(ctl.running_priority), signal=sig)
    code = f"import os; os.kill({os.getpid()}, {int(sig)})"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    spin_until(lambda: bool(got), what="the signal-bound line to run")
    assert got == [2]
    assert line.runs == 1


def test_handler_that_raises_is_reported_and_dispatch_continues(ctl: Controller) -> None:
    reports: list[tuple[str, str]] = []
    ctl.on_failure = lambda line, failure: reports.append((line.name, failure.kind))
    log: list[str] = []
    after = ctl.line("after", 1, lambda: log.append("after"))

    def bad() -> None:
        after.pend()
        raise ValueError("boom")

    ctl.line("bad", 2, bad).pend()
    assert reports == [("bad", "raised")]
    assert log == ["after"]  # the tail-chained line still ran
    assert ctl.failures[-1].line == "bad"
    assert isinstance(ctl.failures[-1].error, ValueError)
    assert ctl.running_priority == 0


def test_handler_that_awaits_is_reported(ctl: Controller) -> None:
    reports: list[tuple[str, str]] = []
    ctl.on_failure = lambda line, failure: reports.append((line.name, failure.kind))

    async def awaiting() -> None:
        await asyncio.sleep(0)

    line = ctl.line("awaits", 1, awaiting)
    line.pend()
    line.pend()
    assert reports == [("awaits", "awaited"), ("awaits", "awaited")]
    assert line.failures == 2


def test_default_failure_report_names_the_line(ctl: Controller) -> None:
    r, w = os.pipe()
    saved = os.dup(2)
    os.dup2(w, 2)
    try:
        ctl.line("loud", 1, lambda: 1 / 0).pend()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(w)
    text = os.read(r, 4096).decode()
    os.close(r)
    assert "line 'loud'" in text and "ZeroDivisionError" in text


def test_failing_handler_in_signal_path_keeps_loop_running(ctl: Controller) -> None:
    ctl.on_failure = lambda line, failure: None
    line = ctl.line("bad", 1, lambda: 1 / 0)

    async def main() -> int:
        t = threading.Thread(target=line.pend)
        t.start()
        for _ in range(1000):
            await asyncio.sleep(0.001)
            if line.failures:
                break
        t.join()
        await asyncio.sleep(0)
        return line.failures

    assert asyncio.run(main()) == 1


def test_loop_turn_dispatch_in_another_thread() -> None:
    """A controller created in a non-main thread runs handlers at loop turns of that thread."""
    result: dict[str, object] = {}
    ready = threading.Event()
    box: list[Line] = []

    async def main() -> None:
        ctl = Controller()
        try:
            assert not ctl.preemptive
            ran: list[int] = []
            box.append(ctl.line("x", 1, lambda: ran.append(threading.get_ident())))
            ready.set()
            # Spin (no await) until the foreign pend has happened: the handler must not run
            # in the middle of this coroutine, only at the next loop turn.
            spin_until(lambda: box[0].pends == 1, what="foreign pend")
            time.sleep(0.01)
            result["during"] = list(ran)
            deadline = time.monotonic() + 5
            while not ran and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            result["after"] = list(ran)
        finally:
            ctl.close()

    t = threading.Thread(target=lambda: asyncio.run(main()))
    t.start()
    assert ready.wait(5)
    box[0].pend()
    t.join(10)
    assert result["during"] == []
    assert result["after"] == [t.ident]


def test_handler_wakes_task_through_a_primitive(ctl: Controller) -> None:
    from irqio import Flag, Queue

    async def main() -> tuple[list[int], int]:
        flag = Flag()
        q: Queue[int] = Queue(64)
        n = [0]

        def handler() -> None:
            n[0] += 1
            q.offer(n[0])
            flag.set()

        line = ctl.line("rx", 2, handler)
        t = threading.Thread(target=lambda: [line.pend() for _ in range(3)])
        t.start()
        await asyncio.wait_for(flag.wait(), 5)
        t.join()
        got = [await asyncio.wait_for(q.get(), 5)]
        while line.pends != line.runs + line.merged:
            await asyncio.sleep(0.001)
        while True:
            try:
                got.append(q.get_nowait())
            except Exception:
                break
        return got, line.runs

    got, runs = asyncio.run(main())
    assert got == list(range(1, runs + 1))  # every run delivered, in order


def test_interrupt_main_coexists_with_asyncio_signal_handlers() -> None:
    """asyncio's add_signal_handler owns the wakeup fd (its self-pipe): the controller keeps
    it, is woken through it, and leaves it in place on close."""

    async def main() -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        try:
            asyncio_fd = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(asyncio_fd)
            ran = threading.Event()
            with Controller(kick="interrupt_main") as ctl:
                line = ctl.line("x", 1, ran.set)
                t = threading.Thread(target=lambda: (time.sleep(0.02), line.pend()))
                t.start()
                start = loop.time()
                while not ran.is_set() and loop.time() - start < 5:
                    await asyncio.sleep(1.0)
                t.join()
                runs = line.runs
                assert line.latency.max < 0.5e9  # asyncio's self-pipe woke the loop
            now = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(now)
            return runs, now == asyncio_fd
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    runs, kept = asyncio.run(main())
    assert runs == 1
    assert kept
