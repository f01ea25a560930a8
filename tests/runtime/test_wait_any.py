"""wait_any: one wait on many sources."""

from __future__ import annotations

import asyncio
import threading

import pytest

import irqio
from irqio.runtime.ports.asyncio import running_doorbell

from .conftest import Runner, until


def test_wait_any_returns_ready_sources_in_argument_order(run: Runner) -> None:
    async def main() -> None:
        f, e, q = irqio.Flag(), irqio.Event(), irqio.Queue[int](4)
        m: irqio.Message[int] = irqio.Message()
        e.set()
        q.put_nowait(1)
        assert await irqio.wait_any(f, e, m, q) == [e, q]
        f.set()
        assert await irqio.wait_any(q, f) == [q, f]
        assert not f.is_set()  # a ready Flag is consumed, as Flag.wait() would

    run(main())


def test_wait_any_wakes_on_any_source_from_a_thread(run: Runner) -> None:
    async def main() -> None:
        for i in range(4):
            # fresh sources each round: an Event or Message set in one round stays set
            sources = [irqio.Flag(), irqio.Event(), irqio.Message[int](), irqio.Queue[int](2)]
            source = sources[i]
            task = asyncio.create_task(irqio.wait_any(*sources, timeout=5))
            await until(lambda sources=sources: all(s.waiting == 1 for s in sources))
            setter = {
                0: lambda s=source: s.set(),
                1: lambda s=source: s.set(),
                2: lambda s=source: s.set(7),
                3: lambda s=source: s.put_nowait(3),
            }[i]
            threading.Thread(target=setter).start()
            ready = await asyncio.wait_for(task, 2)
            assert source in ready
            assert all(s.waiting == 0 for s in sources), "unhooked from every source"

    run(main())


def test_wait_any_timeout_returns_empty(run: Runner) -> None:
    async def main() -> None:
        f = irqio.Flag()
        assert await irqio.wait_any(f, timeout=0.02) == []
        assert await irqio.wait_any(f, timeout=0) == []
        assert f.waiting == 0
        with pytest.raises(ValueError, match="timeout"):
            await irqio.wait_any(f, timeout=-1)
        with pytest.raises(ValueError, match="at least one"):
            await irqio.wait_any()
        with pytest.raises(TypeError, match="takes Flag"):
            await irqio.wait_any(irqio.Slots(1))  # type: ignore[arg-type]

    run(main())


def test_wait_any_cancel_unhooks(run: Runner) -> None:
    async def main() -> None:
        f, e = irqio.Flag(), irqio.Event()
        task = asyncio.create_task(irqio.wait_any(f, e))
        await until(lambda: f.waiting == 1 and e.waiting == 1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert f._waiters == {} and e._waiters == {}
        f.set()
        await asyncio.sleep(0.01)
        assert f.is_set()  # nobody consumed it

    run(main())


def test_wake_work_does_not_grow_with_primitives_alive(run: Runner) -> None:
    # 10,000 flags, each with a waiting task; setting one queues exactly one item for service
    # and wakes exactly one task: nothing scans the others.
    async def main() -> None:
        flags = [irqio.Flag() for _ in range(10_000)]
        woken: list[int] = []

        async def waiter(i: int) -> None:
            await flags[i].wait()
            woken.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(len(flags))]
        await until(lambda: flags[-1].waiting == 1)
        doorbell = running_doorbell()
        calls = 0
        original = irqio.Flag._service

        def counting(self: irqio.Flag) -> None:
            nonlocal calls
            calls += 1
            original(self)

        irqio.Flag._service = counting  # type: ignore[method-assign]
        try:
            flags[1234].set()
            assert len(doorbell.pending) == 1
            await until(lambda: woken == [1234])
            assert calls == 1
        finally:
            irqio.Flag._service = original  # type: ignore[method-assign]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    run(main())
