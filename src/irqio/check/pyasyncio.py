"""An asyncio loop whose own machinery is Python code the explorer can preempt.

The stock loop runs `Task` and `Future` in C (`_asyncio`), where no bytecode boundary exists.
This loop makes every task a `tasks._PyTask` and every future a `futures._PyFuture`; the
selector loop itself (`base_events`, `selector_events`, `events`) is Python already. Its clock
is virtual: a sleep with nothing to wake it moves the clock to its deadline at once.

Sleeping is modelled as CPython sleeps, in `select()`: a signal handler that runs while the
loop sleeps does not end the sleep by itself (PEP 475: CPython runs the handler and retries
`select()` with the same timeout). Only a file descriptor the selector watches ends it: the
loop's self-pipe (`call_soon_threadsafe`, asyncio's signal wakeup fd) or a reader such as
irqio's doorbell eventfd. So when the loop is about to sleep, the explorer fires the handlers
that have not fired yet, one at a time, and after each looks at the fds: one readable ends
the sleep; none leaves the loop asleep. A handler that made work for the loop without writing
an fd (`loop.call_soon` from interrupt context, `asyncio.Queue.put_nowait` on a waiting
getter) leaves that work *stranded*: the loop sleeps until its next timer, or forever. The
same holds for such a handler landing between the loop's last look at its ready queue and
its call to `select()`.
"""

from __future__ import annotations

import asyncio
import selectors
from asyncio import futures, tasks
from collections.abc import Callable, Coroutine
from typing import Any

from irqio.kernel import Deadlock


class Stranded(Exception):
    """The loop went to sleep in select() with ready work that nothing will wake it for."""


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
    idle: Callable[[float | None], bool],
    errors: list[str],
    note: Callable[[tuple[str, str], bool], None] = lambda key, write: None,
) -> asyncio.AbstractEventLoop:
    """`idle(timeout)` fires one context that has not fired yet (True if one did); `note`
    reports the loop's look at its fds to the explorer's footprints."""
    loop = _PyLoop(selectors.SelectSelector())
    loop.set_task_factory(_task_factory)  # type: ignore[arg-type]

    def on_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        errors.append("{}: {!r}".format(context.get("message"), context.get("exception")))

    loop.set_exception_handler(on_error)
    selector: Any = loop._selector  # type: ignore[attr-defined]
    real_select = selector.select
    ready_queue: Any = loop._ready  # type: ignore[attr-defined]
    fd = ("f", "")

    def select(timeout: float | None = None) -> list[Any]:
        note(fd, False)
        ready = real_select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready  # type: ignore[no-any-return]
        # The loop sleeps now. Handlers fire while it sleeps; only an fd ends the sleep.
        while idle(timeout):
            ready = real_select(0)
            if ready:
                return ready  # type: ignore[no-any-return]
        if ready_queue:
            waits = "forever" if timeout is None else f"until its next timer (+{timeout:g} s)"
            raise Stranded(
                f"the asyncio loop went to sleep in select() {waits} with "
                f"{len(ready_queue)} callback(s) ready: interrupt context scheduled work with "
                "loop.call_soon (or a future's set_result) and wrote no fd the loop watches; "
                "use loop.call_soon_threadsafe or an irqio primitive"
            )
        if timeout is None:
            raise Deadlock("the loop would sleep forever: nothing is left that could wake it")
        loop._virtual_time += timeout  # nothing can wake it sooner: jump to the deadline
        return []

    selector.select = select
    return loop
