"""The real-time kernel on CPython: what ends the idle step (another thread, a signal handler,
stop()), the loop that does not exit while its main task waits (MicroPython #5843), the power
modes, and the idle step's cost with many parked tasks. Every wait is bounded by its own
timeout (a thread timer), never by a sleep that hopes."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

import irqio
import irqio.kernel as asyncio
from irqio.kernel import Kernel, LightsleepIdle, PollIdle, RealClock, VirtualClock, WfeIdle


@pytest.fixture(autouse=True)
def fresh_default_loop() -> None:
    asyncio.new_event_loop()


def test_main_waiting_alone_on_a_flag_sleeps_until_a_thread_sets_it() -> None:
    # MicroPython #5843: nothing is ready and nothing is due, but the loop must not exit.
    flag = asyncio.ThreadSafeFlag()

    async def main() -> float:
        t0 = time.monotonic()
        threading.Timer(0.05, flag.set).start()
        await flag.wait()
        return time.monotonic() - t0

    assert asyncio.run(main()) >= 0.04


def test_a_signal_handler_ends_the_idle_step() -> None:
    event = irqio.Event()
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: event.set())
    try:

        async def main() -> bool:
            main_thread = threading.main_thread().ident
            assert main_thread is not None
            threading.Timer(0.03, signal.pthread_kill, (main_thread, signal.SIGUSR1)).start()
            return await event.wait()

        assert asyncio.run(main()) is True
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_stop_from_another_thread_ends_run_forever() -> None:
    loop = asyncio.get_event_loop()
    threading.Timer(0.03, loop.stop).start()
    t0 = time.monotonic()
    loop.run_forever()  # nothing to run: it sleeps until stop()
    assert time.monotonic() - t0 >= 0.02


def test_run_inside_a_running_kernel_is_refused() -> None:
    async def inner() -> None:
        pass

    async def main() -> None:
        coro = inner()
        with pytest.raises(RuntimeError, match="inside a running kernel"):
            asyncio.run(coro)
        coro.close()

    asyncio.run(main())


def test_tasks_left_pending_stay_for_the_next_run_as_in_micropython() -> None:
    ran: list[str] = []

    async def later() -> None:
        await asyncio.sleep_ms(20)
        ran.append("later")

    async def first() -> None:
        asyncio.create_task(later())

    async def second() -> None:
        await asyncio.sleep_ms(40)

    asyncio.run(first())
    assert ran == []
    asyncio.run(second())
    assert ran == ["later"]


def test_a_kernel_per_thread() -> None:
    results: list[Any] = []

    async def work(n: int) -> int:
        await asyncio.sleep_ms(10)
        return n * 2

    def in_thread() -> None:
        results.append(Kernel(RealClock()).run(work(21)))

    t = threading.Thread(target=in_thread)
    t.start()
    assert asyncio.run(work(1)) == 2
    t.join(10)
    assert results == [42]


# -- the idle step ----------------------------------------------------------------------------


class CountingIdle(PollIdle):
    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, dt: int | None, kernel: Kernel) -> None:
        self.waits += 1
        super().wait(dt, kernel)


@pytest.mark.parametrize("parked", [1, 1000])
def test_one_idle_wait_per_sleep_whatever_is_parked(parked: int) -> None:
    idle = CountingIdle()
    flags = [irqio.Flag() for _ in range(parked)]

    async def wait(f: irqio.Flag) -> None:
        await f.wait()

    async def main() -> int:
        tasks = [asyncio.create_task(wait(f)) for f in flags]
        await asyncio.sleep_ms(5)
        before = idle.waits
        await asyncio.sleep_ms(50)
        waits = idle.waits - before
        for f in flags:
            f.set()
        for t in tasks:
            await t
        return waits

    assert asyncio.run(main(), idle=idle) <= 3


def test_poll_idle_with_max_ms_wakes_at_least_that_often() -> None:
    class Counting(PollIdle):
        waits = 0

        def wait(self, dt: int | None, kernel: Kernel) -> None:
            self.waits += 1
            super().wait(dt, kernel)

    idle = Counting(max_ms=10)
    flag = irqio.Flag()

    async def main() -> None:
        threading.Timer(0.1, flag.set).start()
        await flag.wait()

    asyncio.run(main(), idle=idle)
    assert idle.waits >= 5  # 100 ms of waiting in polls of at most 10 ms


def test_power_mode_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="poll, wfe, lightsleep"):
        RealClock("sleepy")
    with pytest.raises(ValueError, match=r"machine\.lightsleep"):
        RealClock("lightsleep")  # CPython has no machine module
    with pytest.raises(ValueError, match="max_ms"):
        PollIdle(max_ms=0)
    with pytest.raises(ValueError, match="max_ms"):
        LightsleepIdle(lightsleep=lambda ms: None, max_ms=-1)
    coro = _nothing()
    with pytest.raises(ValueError, match="not both"):
        asyncio.run(coro, idle="poll", clock=VirtualClock())
    coro.close()


async def _nothing() -> None:
    pass


def test_wfe_mode_waits_in_machine_idle_until_alerted() -> None:
    calls = [0]
    gate = threading.Event()

    def machine_idle() -> None:  # stands for WFE: returns on the next "interrupt"
        calls[0] += 1
        gate.wait(0.002)

    flag = asyncio.ThreadSafeFlag()

    async def main() -> None:
        threading.Timer(0.03, flag.set).start()
        await flag.wait()
        await asyncio.sleep_ms(10)

    asyncio.run(main(), idle=WfeIdle(idle=machine_idle))
    assert calls[0] >= 2


def test_lightsleep_mode_asks_for_the_time_to_the_deadline_at_most_max_ms() -> None:
    asked: list[int] = []
    interrupt = threading.Event()

    def lightsleep(ms: int) -> None:
        asked.append(ms)
        interrupt.wait(ms / 1000)  # the sleep ends at the deadline or on an "interrupt"
        interrupt.clear()

    flag = asyncio.ThreadSafeFlag()

    def irq() -> None:
        flag.set()
        interrupt.set()

    async def main() -> None:
        await asyncio.sleep_ms(30)
        threading.Timer(0.05, irq).start()
        await flag.wait()  # no deadline: sleeps of max_ms until the interrupt

    asyncio.run(main(), idle=LightsleepIdle(lightsleep=lightsleep, max_ms=20))
    assert asked[0] == 20  # 30 ms to the deadline, cut to max_ms
    assert 0 < asked[1] <= 10  # the rest of it
    assert len(asked) >= 4 and all(0 < ms <= 20 for ms in asked)


def test_an_alert_already_in_means_no_sleep_at_all() -> None:
    asked: list[int] = []
    idle = LightsleepIdle(lightsleep=asked.append, max_ms=50)
    clock = RealClock(idle)
    k = Kernel(clock)
    k.alerted = True
    clock.wait(None, k)
    assert asked == []


# -- streams on CPython ------------------------------------------------------------------------


def test_pipe_streams() -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)

    async def main() -> tuple[bytes, bytes, bytes]:
        reader, writer = asyncio.Stream(r), asyncio.Stream(w)

        async def produce() -> None:
            writer.write(b"line one\nline")
            await writer.drain()
            await asyncio.sleep_ms(10)
            writer.write(b" two\ntail")
            await writer.drain()
            writer.close()

        asyncio.create_task(produce())
        first = await reader.readline()
        second = await reader.readline()
        rest = await reader.read()
        reader.close()
        return first, second, rest

    assert asyncio.run(main()) == (b"line one\n", b"line two\n", b"tail")


def test_cancel_a_task_waiting_on_a_stream() -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)

    async def main() -> bool:
        reader = asyncio.Stream(r)
        task = asyncio.create_task(reader.read(10))
        await asyncio.sleep_ms(5)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        k = asyncio.get_event_loop().kernel
        io = k.clock.io
        assert io is not None
        active = io.active
        reader.close()
        os.close(w)
        return active

    assert asyncio.run(main()) is False  # the poller forgot the cancelled reader


def test_open_connection_refused_and_tls_refused() -> None:
    async def main() -> None:
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", 1)  # nothing listens on port 1
        with pytest.raises(ValueError, match="TLS"):
            await asyncio.open_connection("127.0.0.1", 1, ssl=True)

    asyncio.run(main())


def test_streams_need_a_real_time_kernel() -> None:
    r, w = os.pipe()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="real-time kernel"):
            await asyncio.Stream(r).read(1)

    Kernel(VirtualClock()).run(main())
    os.close(r)
    os.close(w)


# -- the explorer runs the kernel users run ------------------------------------------------


def test_the_explorers_5795_scenario_runs_on_the_users_kernel() -> None:
    from irqio.check import Setup

    setup = Setup("kernel", lambda dt: False)
    explored = setup.kernel()
    assert type(explored) is type(asyncio.get_event_loop().kernel) is Kernel
    assert isinstance(explored.clock, VirtualClock)
