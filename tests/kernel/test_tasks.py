"""Task.cancel, gather, wait_for, Lock and unretrieved failures, step by step on the virtual
clock (deterministic: each test knows exactly when each task runs)."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

import irqio.kernel as kernel_api
from irqio.kernel import (
    CancelledError,
    Kernel,
    Lock,
    Task,
    TimeoutError,
    VirtualClock,
    gather,
    sleep,
    sleep_ms,
    wait_for,
    wait_for_ms,
)
from irqio.kernel.core import MAX_ERRORS


def _run(coro: Any) -> Any:
    return Kernel(VirtualClock()).run(coro)


# -- Task.cancel ------------------------------------------------------------------------------


def test_cancel_goes_down_the_chain_of_awaited_tasks() -> None:
    log: list[str] = []

    async def leaf() -> str:
        try:
            await sleep(10)
        except CancelledError:
            log.append("leaf")
            raise
        return "never"

    async def middle(t: Task) -> None:
        try:
            await t
        except CancelledError:
            log.append("middle")
            raise

    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        a = k.create_task(leaf())
        b = k.create_task(middle(a))
        c = k.create_task(middle(b))
        await sleep(1)
        assert c.cancel()
        with pytest.raises(CancelledError):
            await c
        assert a.done() and b.done() and c.done()
        assert k.clock.now() == 1.0  # the sleeping leaf was woken at once, not at 10 s

    _run(main())
    assert log == ["leaf", "middle", "middle"]


def test_a_leaf_that_swallows_the_cancel_returns_to_its_awaiter() -> None:
    async def leaf() -> str:
        try:
            await sleep(10)
        except CancelledError:
            return "kept going"
        return "slept"

    async def main() -> str:
        k = kernel_api.current()
        assert k is not None
        a = k.create_task(leaf())
        outer = k.create_task(_await(a))
        await sleep(1)
        outer.cancel()  # reaches `a`, which does not re-raise: `outer` gets its value
        return str(await outer)

    assert _run(main()) == "kept going"


async def _await(t: Task) -> Any:
    return await t


def test_a_due_task_cancelled_again_and_again_keeps_its_place() -> None:
    order: list[str] = []

    async def victim() -> None:
        for _ in range(3):
            try:
                order.append("v")
                await sleep(0)
            except CancelledError:
                order.append("v!")

    async def other() -> None:
        for _ in range(3):
            order.append("o")
            await sleep(0)

    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        v = k.create_task(victim())
        o = k.create_task(other())
        await sleep(0)  # both ran once and are due again, v before o
        for _ in range(5):
            v.cancel()  # v is due: it stays behind o's position, it is not pushed ahead
        await v
        await o

    _run(main())
    # v's first cancel lands when its turn comes; the next cancels only re-mark it.
    assert order[:4] == ["v", "o", "v!", "v"]
    assert order.count("o") == 3


def test_cancel_a_finished_task_and_cancel_self() -> None:
    async def quick() -> int:
        return 1

    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        t = k.create_task(quick())
        assert await t == 1
        assert not t.cancel()
        me = kernel_api.current_task()
        with pytest.raises(RuntimeError, match="cannot cancel itself"):
            me.cancel()

    _run(main())


def test_cancel_before_the_first_step_ends_the_task_unstarted() -> None:
    started: list[bool] = []

    async def body() -> None:
        started.append(True)

    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        t = k.create_task(body())
        t.cancel()
        with pytest.raises(CancelledError):
            await t

    _run(main())
    assert started == []


# -- gather ---------------------------------------------------------------------------------


async def _value_after(v: Any, seconds: float) -> Any:
    await sleep(seconds)
    return v


async def _fail_after(seconds: float, error: BaseException) -> None:
    await sleep(seconds)
    raise error


def test_gather_results_in_order_whatever_the_finish_order() -> None:
    async def main() -> list[Any]:
        return await gather(_value_after("a", 3), _value_after("b", 1), _value_after("c", 2))

    k = Kernel(VirtualClock())
    assert k.run(main()) == ["a", "b", "c"]
    assert k.clock.now() == 3.0


def test_gather_raises_the_failure_that_woke_it_and_leaves_the_rest_running() -> None:
    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        slow = k.create_task(_value_after("slow", 5))
        with pytest.raises(KeyError):
            await gather(_fail_after(2, ValueError()), _fail_after(1, KeyError()), slow)
        assert k.clock.now() == 1.0
        assert not slow.done()
        assert await slow == "slow"

    _run(main())


def test_gather_with_return_exceptions_keeps_cancellations_too() -> None:
    async def main() -> list[Any]:
        k = kernel_api.current()
        assert k is not None
        doomed = k.create_task(_value_after("x", 5))

        async def canceller() -> str:
            await sleep(1)
            doomed.cancel()
            return "done"

        return await gather(
            doomed, canceller(), _fail_after(2, ValueError("v")), return_exceptions=True
        )

    first, second, third = _run(main())
    assert isinstance(first, CancelledError)
    assert second == "done"
    assert isinstance(third, ValueError)


def test_gather_of_tasks_that_already_ended() -> None:
    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        ok = k.create_task(_value_after(1, 0))
        bad = k.create_task(_fail_after(0, ValueError()))
        await sleep(1)
        assert await gather(ok, bad, return_exceptions=True) == [1, bad.error]
        with pytest.raises(ValueError):
            await gather(ok, bad)

    _run(main())


def test_cancelling_a_gather_cancels_what_is_left() -> None:
    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        tasks = [k.create_task(_value_after(i, 10)) for i in range(3)]
        g = k.create_task(gather(*tasks))
        await sleep(1)
        g.cancel()
        with pytest.raises(CancelledError):
            await g
        await sleep(0)
        assert all(t.done() and isinstance(t.error, CancelledError) for t in tasks)

    _run(main())


def test_a_task_cannot_be_in_two_gathers() -> None:
    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        t = k.create_task(_value_after(1, 5))
        k.create_task(gather(t))
        await sleep(0)
        with pytest.raises(RuntimeError, match="already gathered"):
            await gather(t)
        assert await t == 1  # awaiting it directly still works

    _run(main())


def test_gather_of_one_task_given_twice() -> None:
    async def main() -> list[Any]:
        k = kernel_api.current()
        assert k is not None
        t = k.create_task(_value_after("t", 1))
        return await gather(t, t)

    assert _run(main()) == ["t", "t"]


def test_awaiting_something_the_kernel_does_not_run_says_so() -> None:
    import asyncio as cpython_asyncio

    async def main() -> None:
        await cpython_asyncio.sleep(0)  # yields to a loop that is not there

    with pytest.raises(RuntimeError, match="does not run"):
        _run(main())


def test_gather_takes_a_sleep_without_sharing_the_sleep_awaitable() -> None:
    async def main() -> list[Any]:
        return await gather(sleep(2), sleep_ms(500), _value_after("v", 1))

    k = Kernel(VirtualClock())
    assert k.run(main()) == [None, None, "v"]
    assert k.clock.now() == 2.0


def test_a_sleep_awaited_after_the_step_that_made_it_raises() -> None:
    async def main() -> None:
        stale = sleep(1)
        await sleep(0)  # a second sleep while `stale` is armed: one of its own; the step ends
        with pytest.raises(RuntimeError, match="await each sleep"):
            await stale

    _run(main())


def test_create_task_of_a_sleep() -> None:
    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        t = k.create_task(sleep(2))  # type: ignore[arg-type]
        await sleep(1)
        assert not t.done()
        await t
        assert k.clock.now() == 2.0

    _run(main())


# -- wait_for -------------------------------------------------------------------------------


def test_wait_for_in_time_and_late() -> None:
    cleaned: list[float] = []

    async def stubborn() -> None:
        try:
            await sleep(10)
        finally:
            k = kernel_api.current()
            assert k is not None
            cleaned.append(k.clock.now())

    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        assert await wait_for(_value_after(5, 1), 2) == 5
        assert k.clock.now() == 1.0  # woken by the awaitable's end, not at the deadline
        with pytest.raises(TimeoutError):
            await wait_for_ms(stubborn(), 500)
        assert k.clock.now() == 1.5
        assert await wait_for(_value_after(6, 3), None) == 6

    _run(main())
    assert cleaned == [1.5]


def test_wait_for_waits_for_a_task_that_ignores_the_cancel_then_times_out() -> None:
    async def ignores() -> str:
        try:
            await sleep(10)
        except CancelledError:
            await sleep(1)  # cleans up for a while
        return "late"

    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        with pytest.raises(TimeoutError):
            await wait_for(ignores(), 1)
        assert k.clock.now() == 2.0

    _run(main())


def test_timeout_error_is_caught_as_the_builtin_one_on_cpython() -> None:
    assert issubclass(TimeoutError, builtins.TimeoutError)


def test_cancelling_wait_for_cancels_the_awaitable() -> None:
    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        inner = k.create_task(_value_after(1, 10))
        waiter = k.create_task(wait_for(inner, 5))
        await sleep(1)
        waiter.cancel()
        with pytest.raises(CancelledError):
            await waiter
        await sleep(0)
        assert inner.done() and isinstance(inner.error, CancelledError)
        assert k.clock.now() == 1.0

    _run(main())


# -- Lock -----------------------------------------------------------------------------------


def test_lock_is_handed_over_in_order_and_a_cancelled_heir_passes_it_on() -> None:
    lock = Lock()
    got: list[int] = []

    async def user(i: int) -> None:
        async with lock:
            got.append(i)
            await sleep(1)

    async def main() -> None:
        k = kernel_api.current()
        assert k is not None
        await lock.acquire()
        users = [k.create_task(user(i)) for i in range(3)]
        await sleep(0)  # all three wait, in order
        lock.release()  # handed to user 0, which has not run yet
        users[0].cancel()  # ... and never will hold it: it passes it to user 1
        for t in users:
            try:
                await t
            except CancelledError:
                pass
        assert not lock.locked()

    _run(main())
    assert got == [1, 2]


# -- failures nobody retrieved --------------------------------------------------------------


def test_an_unretrieved_failure_reaches_the_handler_once_and_a_retrieved_one_never() -> None:
    k = Kernel(VirtualClock())
    loop = kernel_api.Loop(k)
    seen: list[tuple[str, str]] = []
    loop.set_exception_handler(
        lambda lp, ctx: seen.append((ctx["message"], type(ctx["exception"]).__name__))
    )

    async def main() -> None:
        lost = k.create_task(_fail_after(0, ValueError()))
        kept = k.create_task(_fail_after(0, KeyError()))
        await sleep(0)  # both fail now; `kept` is awaited before its report comes round
        with pytest.raises(KeyError):
            await kept
        await sleep(1)
        assert lost.done()

    k.run(main())
    assert seen == [("Task exception wasn't retrieved", "ValueError")]
    assert [type(e).__name__ for _, e in k.errors] == ["ValueError", "KeyError"]


def test_errors_are_capped() -> None:
    k = Kernel(VirtualClock())

    async def main() -> None:
        for _ in range(MAX_ERRORS + 5):
            k.create_task(_fail_after(0, ValueError()))
        await sleep(1)

    k.run(main())
    assert len(k.errors) == MAX_ERRORS and k.errors_dropped == 5


def test_create_task_needs_a_coroutine() -> None:
    with pytest.raises(TypeError, match="coroutine"):
        Kernel(VirtualClock()).create_task(42)  # type: ignore[arg-type]
