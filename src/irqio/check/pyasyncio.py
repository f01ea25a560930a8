"""An asyncio loop whose own machinery is Python code the explorer can preempt.

The stock loop runs `Task` and `Future` in C (`_asyncio`), where no bytecode boundary exists.
This loop makes every task a `tasks._PyTask` and every future a `futures._PyFuture`; the
selector loop itself (`base_events`, `selector_events`, `events`) is Python already. Its
selector calls the explorer's idle hook before it would block, so handlers that have not
fired yet fire "while the loop sleeps", and a loop that would sleep forever with nothing left
to fire raises `Deadlock` instead of hanging. Its clock is virtual: a sleep with nothing to
wake it moves the clock to its deadline at once.
"""

from __future__ import annotations

import asyncio
import selectors
from asyncio import futures, tasks
from collections.abc import Callable, Coroutine
from typing import Any

from irqio.kernel import Deadlock


class _PyLoop(asyncio.SelectorEventLoop):
    # Virtual time, as on the kernel: it moves only when the loop would sleep, so timeouts
    # cost nothing and runs are deterministic.
    _virtual_time = 0.0

    def time(self) -> float:
        return self._virtual_time

    def create_future(self) -> asyncio.Future[Any]:
        return futures._PyFuture(loop=self)  # type: ignore[attr-defined,no-any-return]


def _task_factory(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
) -> asyncio.Task[Any]:
    return tasks._PyTask(coro, loop=loop, **kwargs)  # type: ignore[attr-defined,no-any-return]


def traced_loop(
    idle: Callable[[float | None], bool], errors: list[str]
) -> asyncio.AbstractEventLoop:
    loop = _PyLoop(selectors.SelectSelector())
    loop.set_task_factory(_task_factory)  # type: ignore[arg-type]

    def on_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        errors.append("{}: {!r}".format(context.get("message"), context.get("exception")))

    loop.set_exception_handler(on_error)
    selector: Any = loop._selector  # type: ignore[attr-defined]
    real_select = selector.select

    def select(timeout: float | None = None) -> list[Any]:
        if timeout is not None and timeout <= 0:
            return real_select(timeout)  # type: ignore[no-any-return]
        fired = idle(timeout)
        ready = real_select(0)
        if ready or timeout == 0:
            return ready  # type: ignore[no-any-return]
        if fired:
            return []  # an interrupt ended the sleep: the loop looks again
        if timeout is None:
            raise Deadlock("the loop would sleep forever: nothing is left that could wake it")
        loop._virtual_time += timeout  # nothing can wake it sooner: jump to the deadline
        return []

    selector.select = select
    return loop
