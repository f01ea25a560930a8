"""Flag, Event and Message: every method and documented edge, from tasks and from threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

import irqio
from irqio.runtime.ports.asyncio import running_doorbell

from .conftest import Runner, until


def in_thread(fn, *args) -> None:  # type: ignore[no-untyped-def]
    t = threading.Thread(target=fn, args=args)
    t.start()
    t.join(5)
    assert not t.is_alive()


# -- Flag ------------------------------------------------------------------------------------


def test_flag_set_before_wait_returns_at_once_and_clears(run: Runner) -> None:
    async def main() -> None:
        flag = irqio.Flag()
        flag.set()
        assert flag.is_set()
        await asyncio.wait_for(flag.wait(), 1)
        assert not flag.is_set()

    run(main())


def test_flag_wakes_every_waiter_not_just_the_last(run: Runner) -> None:
    # MicroPython's ThreadSafeFlag keeps one waiter; irqio's Flag wakes all of them.
    async def main() -> None:
        flag = irqio.Flag()
        woken: list[int] = []

        async def waiter(i: int) -> None:
            await flag.wait()
            woken.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(50)]
        await until(lambda: flag.waiting == 50)
        in_thread(flag.set)
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        assert sorted(woken) == list(range(50))
        assert not flag.is_set()  # the waiters consumed it

    run(main())


def test_flag_set_with_nobody_waiting_stays_set(run: Runner) -> None:
    async def main() -> None:
        flag = irqio.Flag()
        keeper = asyncio.create_task(flag.wait())  # bind to the loop
        await until(lambda: flag.waiting == 1)
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        in_thread(flag.set)
        await asyncio.sleep(0.01)
        assert flag.is_set()
        await asyncio.wait_for(flag.wait(), 1)
        assert not flag.is_set()

    run(main())


def test_flag_clear_while_waiting_keeps_waiter_parked(run: Runner) -> None:
    async def main() -> None:
        flag = irqio.Flag()
        task = asyncio.create_task(flag.wait())
        await until(lambda: flag.waiting == 1)
        flag.clear()
        await asyncio.sleep(0.01)
        assert not task.done()
        flag.set()
        await asyncio.wait_for(task, 1)

    run(main())


def test_flag_cancelled_waiter_is_forgotten_and_does_not_consume(run: Runner) -> None:
    async def main() -> None:
        flag = irqio.Flag()
        task = asyncio.create_task(flag.wait())
        await until(lambda: flag.waiting == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert flag._waiters == {}
        flag.set()
        await asyncio.sleep(0.01)
        assert flag.is_set(), "a cancelled waiter must not swallow the set"

    run(main())


def test_flag_coalesces_a_burst_into_one_wake(run: Runner) -> None:
    async def main() -> None:
        flag = irqio.Flag()
        wakes = 0

        async def waiter() -> None:
            nonlocal wakes
            while True:
                await flag.wait()
                wakes += 1

        task = asyncio.create_task(waiter())
        await until(lambda: flag.waiting == 1)
        doorbell = running_doorbell()
        before = doorbell.alerts.value
        in_thread(lambda: [flag.set() for _ in range(10_000)])  # the loop is not running meanwhile
        await until(lambda: wakes >= 1)
        await asyncio.sleep(0.01)
        assert wakes == 1
        assert doorbell.alerts.value - before == 1, "a burst while an alert is due alerts once"
        task.cancel()

    run(main())


def test_flag_set_while_wake_due_makes_no_syscall(run: Runner) -> None:
    async def main() -> None:
        flag = irqio.Flag()
        task = asyncio.create_task(flag.wait())
        await until(lambda: flag.waiting == 1)
        doorbell = running_doorbell()
        before = doorbell.alerts.value
        for _ in range(1000):  # task context: no service can run until we yield
            flag.set()
        assert doorbell.alerts.value - before == 1
        await asyncio.wait_for(task, 1)

    run(main())


# -- Event -----------------------------------------------------------------------------------


def test_event_is_latched_and_broadcast(run: Runner) -> None:
    async def main() -> None:
        event = irqio.Event()
        tasks = [asyncio.create_task(event.wait()) for _ in range(20)]
        await until(lambda: event.waiting == 20)
        in_thread(event.set)
        assert await asyncio.wait_for(asyncio.gather(*tasks), 2) == [True] * 20
        assert event.is_set()
        assert await asyncio.wait_for(event.wait(), 1)  # still set: returns at once
        event.clear()
        assert not event.is_set()
        late = asyncio.create_task(event.wait())
        await asyncio.sleep(0.01)
        assert not late.done()
        event.set()
        await asyncio.wait_for(late, 1)

    run(main())


def test_event_set_then_clear_before_service_still_wakes_those_waiting(run: Runner) -> None:
    async def main() -> None:
        event = irqio.Event()
        task = asyncio.create_task(event.wait())
        await until(lambda: event.waiting == 1)
        in_thread(lambda: (event.set(), event.clear()))
        assert await asyncio.wait_for(task, 1)
        assert not event.is_set()

    run(main())


def test_event_waiter_cancel(run: Runner) -> None:
    async def main() -> None:
        event = irqio.Event()
        a = asyncio.create_task(event.wait())
        b = asyncio.create_task(event.wait())
        await until(lambda: event.waiting == 2)
        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
        assert event.waiting == 1
        event.set()
        assert await asyncio.wait_for(b, 1)

    run(main())


# -- Message ---------------------------------------------------------------------------------


def test_message_carries_latest_value_and_counts_overwrites(run: Runner) -> None:
    async def main() -> None:
        msg: irqio.Message[int] = irqio.Message()
        with pytest.raises(LookupError):
            msg.value()
        task = asyncio.create_task(msg.wait())
        await until(lambda: msg.waiting == 1)
        in_thread(lambda: [msg.set(i) for i in range(5)])
        assert await asyncio.wait_for(task, 1) == 4  # the latest
        assert msg.overwrites == 4  # 0..3 were replaced unread
        assert await msg.wait() == 4  # latched
        assert msg.overwrites == 4
        msg.set(10)
        msg.set(11)
        assert msg.overwrites == 5
        assert msg.value() == 11
        msg.clear()
        assert not msg.is_set()
        assert msg.overwrites == 5

    run(main())


def test_message_broadcasts_to_all_waiters(run: Runner) -> None:
    async def main() -> None:
        msg: irqio.Message[str] = irqio.Message()
        tasks = [asyncio.create_task(msg.wait()) for _ in range(5)]
        await until(lambda: msg.waiting == 5)
        in_thread(msg.set, "x")
        assert await asyncio.wait_for(asyncio.gather(*tasks), 1) == ["x"] * 5
        assert msg.overwrites == 0

    run(main())
