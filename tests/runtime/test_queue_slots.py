"""Queue and Slots: every method and documented edge."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import irqio

from .conftest import Runner, until


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True, None])
def test_queue_capacity_must_be_positive_int(bad: object) -> None:
    with pytest.raises(ValueError, match="capacity"):
        irqio.Queue(bad)  # type: ignore[arg-type]


def test_queue_full_is_refused_and_counted() -> None:
    q: irqio.Queue[int] = irqio.Queue(2)
    q.put_nowait(1)
    assert q.offer(2)
    assert q.full()
    with pytest.raises(irqio.QueueFull, match="overruns"):
        q.put_nowait(3)
    assert not q.offer(4)
    assert q.overruns == 2
    assert len(q) == 2
    assert q.get_nowait() == 1
    assert q.offer(5)
    assert [q.get_nowait(), q.get_nowait()] == [2, 5]
    with pytest.raises(irqio.QueueEmpty):
        q.get_nowait()
    assert q.empty()


def test_producer_handle_puts_like_the_queue_and_counts_refusals_once() -> None:
    q: irqio.Queue[int] = irqio.Queue(2)
    p = q.producer()
    assert isinstance(p, irqio.Producer)
    assert p.offer(1)
    p.put_nowait(2)
    assert not p.offer(3)
    with pytest.raises(irqio.QueueFull, match="overruns"):
        p.put_nowait(4)
    assert q.overruns == 2  # one per refused item, not one per attempt inside put_nowait
    assert [q.get_nowait(), q.get_nowait()] == [1, 2]
    assert "Producer" in repr(p)


def test_producer_handles_from_threads_keep_every_item_in_order(run: Runner) -> None:
    async def main() -> None:
        q: irqio.Queue[tuple[int, int]] = irqio.Queue(64)
        n = 1000

        def produce(tag: int) -> None:
            offer = q.producer().offer
            for i in range(n):
                while not offer((tag, i)):
                    time.sleep(0)  # full: let the consumer run

        threads = [threading.Thread(target=produce, args=(tag,)) for tag in range(3)]
        for t in threads:
            t.start()
        got: list[list[int]] = [[], [], []]
        while sum(map(len, got)) < 3 * n:
            for tag, i in await asyncio.wait_for(q.get_batch(100), 5):
                got[tag].append(i)
        for t in threads:
            t.join(5)
        assert got == [list(range(n))] * 3

    run(main())


def test_queue_get_waits_and_keeps_order(run: Runner) -> None:
    async def main() -> None:
        q: irqio.Queue[int] = irqio.Queue(1000)
        getter = asyncio.create_task(q.get())
        await until(lambda: q.waiting == 1)

        def produce() -> None:
            for i in range(500):
                q.put_nowait(i)

        threading.Thread(target=produce).start()
        first = await asyncio.wait_for(getter, 2)
        rest = []
        while len(rest) < 499:
            rest += await asyncio.wait_for(q.get_batch(100), 2)
        assert [first, *rest] == list(range(500))
        assert q.overruns == 0

    run(main())


def test_queue_get_batch_bounds(run: Runner) -> None:
    async def main() -> None:
        q: irqio.Queue[int] = irqio.Queue(10)
        with pytest.raises(ValueError, match="max_items"):
            await q.get_batch(0)
        for i in range(7):
            q.put_nowait(i)
        assert await q.get_batch(3) == [0, 1, 2]
        assert await q.get_batch(100) == [3, 4, 5, 6]
        batch = asyncio.create_task(q.get_batch(5))
        await until(lambda: q.waiting == 1)
        q.put_nowait(9)
        assert await asyncio.wait_for(batch, 1) == [9]  # at least one, without waiting for 5
        # The free places came back: the queue holds its full capacity again.
        assert all(q.offer(i) for i in range(10))
        assert not q.offer(10)

    run(main())


def test_queue_async_for(run: Runner) -> None:
    async def main() -> None:
        q: irqio.Queue[str] = irqio.Queue(4)
        for s in "abc":
            q.put_nowait(s)
        seen = []
        async for item in q:
            seen.append(item)
            if len(seen) == 3:
                break
        assert seen == ["a", "b", "c"]

    run(main())


def test_queue_cancelled_getter_loses_nothing(run: Runner) -> None:
    async def main() -> None:
        q: irqio.Queue[int] = irqio.Queue(4)
        getter = asyncio.create_task(q.get())
        await until(lambda: q.waiting == 1)
        getter.cancel()
        await asyncio.gather(getter, return_exceptions=True)
        assert q._waiters == {}
        q.put_nowait(1)
        assert await asyncio.wait_for(q.get(), 1) == 1

    run(main())


def test_queue_several_getters_share_items(run: Runner) -> None:
    async def main() -> None:
        q: irqio.Queue[int] = irqio.Queue(16)
        getters = [asyncio.create_task(q.get()) for _ in range(4)]
        await until(lambda: q.waiting == 4)

        def produce() -> None:
            for i in range(4):
                q.put_nowait(i)

        threading.Thread(target=produce).start()
        got = await asyncio.wait_for(asyncio.gather(*getters), 2)
        assert sorted(got) == [0, 1, 2, 3]

    run(main())


# -- Slots -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -2, 2.0])
def test_slots_size_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="slots"):
        irqio.Slots(bad)  # type: ignore[arg-type]


def test_slots_callback_runs_after_each_signal_and_slots_are_reused(run: Runner) -> None:
    async def main() -> None:
        slots = irqio.Slots(2)
        calls: list[str] = []
        a = slots.register(lambda: calls.append("a"))
        b = slots.register(lambda: calls.append("b"))
        with pytest.raises(RuntimeError, match="in use"):
            slots.register(lambda: None)
        threading.Thread(target=lambda: (slots.signal(a), slots.signal(b))).start()
        await until(lambda: sorted(calls) == ["a", "b"])
        slots.signal(a)
        slots.signal(a)  # coalesced: already pending
        await until(lambda: calls.count("a") == 2)
        await asyncio.sleep(0.01)
        assert calls.count("a") == 2
        slots.unregister(a)
        c = slots.register(lambda: calls.append("c"))
        assert c == a  # the freed slot is reused
        slots.signal(c)
        await until(lambda: "c" in calls)
        with pytest.raises(ValueError, match="not one of"):
            slots.signal(2)
        with pytest.raises(ValueError, match="not one of"):
            slots.signal(-1)
        with pytest.raises(TypeError):
            slots.register("not callable")  # type: ignore[arg-type]

    run(main())


def test_slots_signal_during_callback_runs_it_again_never_concurrently(run: Runner) -> None:
    async def main() -> None:
        slots = irqio.Slots(1)
        running = False
        runs = 0

        def callback() -> None:
            nonlocal running, runs
            assert not running, "a callback must never run concurrently with itself"
            running = True
            runs += 1
            if runs == 1:
                slots.signal(slot)  # arrives while it runs: must run once more afterwards
            running = False

        slot = slots.register(callback)
        slots.signal(slot)
        await until(lambda: runs == 2)
        await asyncio.sleep(0.01)
        assert runs == 2

    run(main())


def test_slots_raising_callback_is_reported_and_others_still_run(run: Runner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        reported: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _loop, ctx: reported.append(ctx))
        slots = irqio.Slots(2)
        ok: list[int] = []

        def boom() -> None:
            raise ZeroDivisionError("boom")

        bad = slots.register(boom)
        good = slots.register(lambda: ok.append(1))
        slots.signal(bad)
        slots.signal(good)
        await until(lambda: ok == [1] and len(reported) == 1)
        assert "slot 0" in str(reported[0]["message"])
        assert isinstance(reported[0]["exception"], ZeroDivisionError)

    run(main())
