"""The asyncio port: main thread and other threads, several loops at once, wrong-loop errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

import irqio

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


def loop_factories() -> list[object]:
    factories: list[object] = [asyncio.new_event_loop]
    if uvloop is not None:
        factories.append(uvloop.new_event_loop)
    return factories


def test_loops_in_several_threads_at_once_each_woken_by_its_own_primitives() -> None:
    # Four loops (stock and uvloop, two each) in four threads; the main thread sets each
    # loop's Flag and puts into its Queue.
    n_loops = 4
    flags = [irqio.Flag() for _ in range(n_loops)]
    queues = [irqio.Queue[int](1000) for _ in range(n_loops)]
    ready = [threading.Event() for _ in range(n_loops)]
    results: list[object] = [None] * n_loops
    factories = loop_factories()

    def loop_thread(i: int) -> None:
        async def main() -> tuple[int, list[int]]:
            waiter = asyncio.create_task(flags[i].wait())
            getter = asyncio.create_task(queues[i].get_batch(1000))
            while flags[i].waiting != 1 or queues[i].waiting != 1:
                await asyncio.sleep(0.001)
            ready[i].set()
            await asyncio.wait_for(waiter, 5)
            items = await asyncio.wait_for(getter, 5)
            while len(items) < 100:
                items += await asyncio.wait_for(queues[i].get_batch(1000), 5)
            return i, items

        factory = factories[i % len(factories)]
        with asyncio.Runner(loop_factory=factory) as runner:  # type: ignore[arg-type]
            results[i] = runner.run(main())

    threads = [threading.Thread(target=loop_thread, args=(i,)) for i in range(n_loops)]
    for t in threads:
        t.start()
    for i in range(n_loops):
        assert ready[i].wait(5)
    for i in range(n_loops):
        flags[i].set()
        for k in range(100):
            queues[i].put_nowait(i * 1000 + k)
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    for i in range(n_loops):
        assert results[i] == (i, [i * 1000 + k for k in range(100)])


def test_primitive_awaited_from_a_second_loop_gets_a_clear_error() -> None:
    flag = irqio.Flag()

    async def bind() -> None:
        waiter = asyncio.create_task(flag.wait())  # parking binds the flag to this loop
        while flag.waiting != 1:
            await asyncio.sleep(0.001)
        flag.set()
        await asyncio.wait_for(waiter, 2)

    asyncio.run(bind())

    async def other() -> None:
        await asyncio.wait_for(flag.wait(), 2)

    with pytest.raises(irqio.WrongScheduler, match="create one Flag per loop"):
        asyncio.run(other())


def test_task_side_without_a_loop_says_what_to_do() -> None:
    flag = irqio.Flag()
    coro = flag.wait()
    with pytest.raises(irqio.NoScheduler, match=r"asyncio\.run"):
        coro.send(None)
    coro.close()


def test_set_before_any_loop_is_kept_for_the_first_waiter() -> None:
    flag, event = irqio.Flag(), irqio.Event()
    msg: irqio.Message[int] = irqio.Message()
    flag.set()
    event.set()
    msg.set(5)

    async def main() -> tuple[bool, int]:
        await asyncio.wait_for(flag.wait(), 1)
        return await asyncio.wait_for(event.wait(), 1), await asyncio.wait_for(msg.wait(), 1)

    assert asyncio.run(main()) == (True, 5)
