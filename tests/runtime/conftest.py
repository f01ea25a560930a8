"""Run each runtime test on the stock asyncio loop and on uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is in the dev extra
    uvloop = None

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner:
    """run(coro): run it to completion on a fresh loop of the parametrized kind."""
    if request.param == "uvloop":
        if uvloop is None:
            pytest.skip("uvloop not installed")
        return lambda coro: _run_with(uvloop.new_event_loop, coro)
    return asyncio.run


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Yield to the loop until `predicate()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.001)


def _run_with(factory: Callable[[], asyncio.AbstractEventLoop], coro: Any) -> Any:
    # asyncio.run(loop_factory=) is 3.12+; a Runner does the same on 3.11.
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
