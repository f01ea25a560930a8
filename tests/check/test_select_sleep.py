"""The asyncio port sleeps as CPython does: work a handler left without writing an fd strands."""

import asyncio_call_soon_from_handler as ex

from irqio.check import explore


def test_call_soon_from_a_handler_strands_the_callback() -> None:
    result = explore(ex.call_soon)
    assert not result.ok
    assert "went to sleep in select()" in (result.invariant or "")
    assert "call_soon_threadsafe" in (result.invariant or "")


def test_asyncio_queue_put_nowait_from_a_handler_strands_the_getter() -> None:
    result = explore(ex.asyncio_queue)
    assert not result.ok
    assert "callback(s) ready" in (result.invariant or "")


def test_the_self_pipe_and_the_doorbell_wake_the_loop() -> None:
    assert explore(ex.call_soon_threadsafe).ok
    assert explore(ex.irqio_queue).ok
