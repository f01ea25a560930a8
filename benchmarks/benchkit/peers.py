"""The libraries irqio is measured beside, one adapter each, and irqio's own side.

An adapter builds the library's primitive and hands back the library's own bound methods, with
the arguments a bench passes them, never a wrapper of the bench's own: a per-call row then times
the library's call and the bench's loop, the same loop for every library. Where the library's
documented way in takes a leading argument (asyncio's `loop.call_soon_threadsafe(ev.set)`, trio's
`token.run_sync_soon(send.send_nowait, x)`), the adapter names the method and that argument.

Three shapes cover every measurement:

* `Signal`: one side rings (`send(*args)` from a foreign thread or a signal handler), a task
  wakes (`await wait()`) and can wait again;
* `Channel`: items from outside the loop into a task (`put(*head, item)`, `await get()`);
* `Reply`: back from the task to a thread (`send(*args)`, the thread's `wait(timeout)`).

Adapters are called inside the running loop (asyncio's, or trio.run for the trio ones), and
import their library when called: a storm child loads only its own case's library. irqio's
internals (the doorbell's counters) are reached here and nowhere else in benchmarks/.
"""

from __future__ import annotations

import _thread
import asyncio
import functools
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from typing import Any

# -- the shapes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """`send(*args)` from outside the task; `await wait()` in the task, which may then wait
    again (`one_shot`: set once for good, a second wait returns at once)."""

    send: Callable[..., object]
    args: tuple[Any, ...]
    wait: Callable[[], Awaitable[object]]
    one_shot: bool = False
    release: Callable[[], Awaitable[None]] | None = None  # ends its life (closes, sets)


@dataclass(frozen=True)
class Channel:
    """`put(*head, item)` from outside the loop (a False return: refused, the queue is full);
    `await get()` in a task."""

    put: Callable[..., object]
    head: tuple[Any, ...]
    get: Callable[[], Awaitable[Any]]
    get_nowait: Callable[[], Any]  # in the loop's thread; raises the library's "empty"
    get_batch: Callable[[int], Awaitable[list[Any]]] | None = None
    refused: Callable[[], int] | None = None  # the library's own count of refused puts
    release: Callable[[], Awaitable[None]] | None = None  # ends its life (closes the queue)

    def signal(self, item: Any) -> Signal:
        """The channel as a Signal: each send puts `item`, each wait takes one."""
        return Signal(self.put, (*self.head, item), self.get, release=self.release)

    def bound_put(self) -> Callable[..., object]:
        """`put` with its head bound, by a C `functools.partial` (no Python frame of the
        bench's own): for a caller that can pass only the item, such as a signal handler."""
        return functools.partial(self.put, *self.head) if self.head else self.put


@dataclass(frozen=True)
class Reply:
    """`send(*args)` in the task; `wait(timeout) -> bool` in a foreign thread (False: none)."""

    send: Callable[..., object]
    args: tuple[Any, ...]
    wait: Callable[[float], bool]


# -- versions -------------------------------------------------------------------------------

PEERS = ("uvloop", "janus", "culsans", "aiologic", "trio", "anyio")


def version(name: str) -> str | None:
    """The installed version of library `name` (irqio or a peer), None when it is missing."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    found = getattr(module, "__version__", None)
    if found is None:
        try:
            found = dist_version(name)
        except PackageNotFoundError:
            found = "?"
    return str(found)


def missing(names: tuple[str, ...]) -> list[str]:
    """Those of `names` that are not installed."""
    return [n for n in names if version(n) is None]


# -- irqio ----------------------------------------------------------------------------------


def irqio_flag() -> Signal:
    import irqio

    flag = irqio.Flag()
    return Signal(flag.set, (), flag.wait)


def irqio_event() -> Signal:
    import irqio

    ev = irqio.Event()
    return Signal(ev.set, (), _wait_then_clear(ev))


def irqio_queue(capacity: int, *, offer: bool = True) -> Channel:
    """`offer` (refuses when full: returns False, counted in `overruns`), or `put_nowait`
    (raises `QueueFull`)."""
    import irqio

    q: irqio.Queue[Any] = irqio.Queue(capacity)
    return Channel(
        q.offer if offer else q.put_nowait,
        (),
        q.get,
        q.get_nowait,
        get_batch=q.get_batch,
        refused=lambda: int(q.overruns),
    )


def irqio_doorbell_counts() -> Callable[[], tuple[int, int]]:
    """A reader of (wake requests, service cycles) of the running loop's irqio doorbell: a
    wake request is one eventfd write; a service cycle, one run of the loop's service."""
    from irqio.runtime.ports.asyncio import running_doorbell  # internal

    db = running_doorbell()
    return lambda: (db.alerts.value, db.services)


# -- the standard library: asyncio, a plain lock, the loops ---------------------------------


def asyncio_event() -> Signal:
    """asyncio.Event set through `loop.call_soon_threadsafe(ev.set)`; the task clears it."""
    ev = asyncio.Event()
    loop = asyncio.get_running_loop()
    return Signal(loop.call_soon_threadsafe, (ev.set,), _wait_then_clear(ev))


def asyncio_queue(*, threadsafe: bool = True) -> Channel:
    """An unbounded asyncio.Queue fed through `loop.call_soon_threadsafe(q.put_nowait, x)`,
    or (`threadsafe=False`) by `q.put_nowait(x)` straight, the naive way."""
    q: asyncio.Queue[Any] = asyncio.Queue()
    if threadsafe:
        loop = asyncio.get_running_loop()
        return Channel(loop.call_soon_threadsafe, (q.put_nowait,), q.get, q.get_nowait)
    return Channel(q.put_nowait, (), q.get, q.get_nowait)


def lock_reply() -> Reply:
    """A plain `_thread` lock: the task releases it, the thread acquires it. The reply of the
    libraries that have no thread-side wait of their own (irqio, asyncio, trio)."""
    lock = _thread.allocate_lock()
    lock.acquire()

    def wait(timeout: float) -> bool:
        return lock.acquire(timeout=timeout)

    return Reply(lock.release, (), wait)


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop of `kind`: "asyncio" (the stock selector loop) or "uvloop"."""
    if kind == "asyncio":
        return asyncio.SelectorEventLoop
    import uvloop

    new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return new_loop


# -- janus and culsans (the same API: a sync and an async face of one queue) -----------------


def mixed_queue(library: str, maxsize: int = 0, *, blocking: bool = False) -> Channel:
    """A janus or culsans Queue: the thread puts with `sync_q.put` (`blocking`: waits while
    full) or `sync_q.put_nowait`, the task takes with `await async_q.get()`. Its release
    closes it (a thread blocked in `put` then raises instead of waiting for good)."""
    q = _mixed(library).Queue(maxsize)

    async def close() -> None:
        q.close()
        await asyncio.wait_for(q.wait_closed(), 5.0)

    put = q.sync_q.put if blocking else q.sync_q.put_nowait
    return Channel(put, (), q.async_q.get, q.sync_q.get_nowait, release=close)


def mixed_reply(library: str) -> Reply:
    """The task puts with `async_q.put_nowait(x)`; the thread waits in `sync_q.get(timeout)`."""
    q = _mixed(library).Queue()
    get = q.sync_q.get

    def wait(timeout: float) -> bool:
        try:
            get(timeout=timeout)
        except Exception:  # the library's Empty
            return False
        return True

    return Reply(q.async_q.put_nowait, (1,), wait)


def _mixed(library: str) -> Any:
    if library not in ("janus", "culsans"):
        raise ValueError(f"not a janus-style library: {library!r}")
    return importlib.import_module(library)


# -- aiologic -------------------------------------------------------------------------------


def aiologic_queue() -> Channel:
    """aiologic.SimpleQueue: `put(x)` from anywhere, `await async_get()` in the task."""
    import aiologic

    q: Any = aiologic.SimpleQueue()
    return Channel(q.put, (), q.async_get, functools.partial(q.green_get, blocking=False))


def aiologic_reply() -> Reply:
    """aiologic.SimpleQueue back: the task `put(x)`, the thread `green_get(timeout)`."""
    import aiologic

    q: Any = aiologic.SimpleQueue()
    get = q.green_get

    def wait(timeout: float) -> bool:
        try:
            get(timeout=timeout)
        except Exception:  # the library's Empty
            return False
        return True

    return Reply(q.put, (1,), wait)


def aiologic_event() -> Signal:
    """aiologic.Event, one-shot: after the first `set()`, a set is a no-op check."""
    import aiologic

    ev = aiologic.Event()

    async def wait() -> None:
        await ev

    async def release() -> None:
        ev.set()  # nothing stays parked on it

    return Signal(ev.set, (), wait, one_shot=True, release=release)


def aiologic_revent() -> Signal:
    """aiologic.REvent, reusable: the task awaits it, then clears it."""
    import aiologic

    ev = aiologic.REvent()

    async def wait() -> None:
        await ev
        ev.clear()

    return Signal(ev.set, (), wait)


class _OneShots:
    """Round i of a round trip on fresh one-shot aiologic Events: the thread sets req[i],
    the task awaits req[i] and sets rep[i], the thread waits on rep[i] (aiologic's green side).
    The indices are the only state; aiologic.Event cannot be reset."""

    def __init__(self, rounds: int) -> None:
        import aiologic

        self.req = [aiologic.Event() for _ in range(rounds + 2)]
        self.rep = [aiologic.Event() for _ in range(rounds + 2)]
        self.ti = self.ai = self.ri = 0

    def send(self) -> None:
        self.req[self.ti].set()
        self.ti += 1

    async def wait(self) -> None:
        await self.req[self.ai]
        self.ai += 1

    def reply(self) -> None:
        self.rep[self.ai - 1].set()

    def wait_reply(self, timeout: float) -> bool:
        ok: bool = self.rep[self.ri].wait(timeout)
        self.ri += 1
        return ok


def aiologic_one_shot_round_trip(rounds: int) -> tuple[Signal, Reply]:
    """Up to `rounds` round trips, each on its own pair of one-shot aiologic Events."""
    shots = _OneShots(rounds)
    return Signal(shots.send, (), shots.wait), Reply(shots.reply, (), shots.wait_reply)


def aiologic_signal_safe(put: Callable[[Any], object]) -> Callable[[Any], None]:
    """`put` inside `aiologic.lowlevel.enable_signal_safety()`, aiologic's documented switch
    for signal handlers (its wake then goes through `call_soon_threadsafe`). A wrapper by
    necessity: the switch is a context manager around the call."""
    from aiologic.lowlevel import enable_signal_safety

    def put_safely(item: Any) -> None:
        with enable_signal_safety():
            put(item)

    return put_safely


# -- trio (inside trio.run) ------------------------------------------------------------------


def trio_event() -> Signal:
    """`token.run_sync_soon(set_current)` from outside, where `set_current` sets the current
    trio.Event; the task awaits it and replaces it with a fresh one (trio's Events are
    one-shot)."""
    import trio

    token = trio.lowlevel.current_trio_token()
    current = [trio.Event()]

    def set_current() -> None:
        current[0].set()

    async def wait() -> None:
        await current[0].wait()
        current[0] = trio.Event()

    return Signal(token.run_sync_soon, (set_current,), wait)


def trio_channel(*, threadsafe: bool = True) -> Channel:
    """An unbounded trio memory channel fed through `token.run_sync_soon(send.send_nowait,
    x)` (trio's documented way in, from a thread or a signal handler), or (`threadsafe=False`)
    by `send.send_nowait(x)` straight."""
    import math

    import trio

    send, recv = trio.open_memory_channel[Any](math.inf)
    if threadsafe:
        token = trio.lowlevel.current_trio_token()
        return Channel(token.run_sync_soon, (send.send_nowait,), recv.receive, recv.receive_nowait)
    return Channel(send.send_nowait, (), recv.receive, recv.receive_nowait)


# -- anyio (on the running asyncio loop) ------------------------------------------------------


def anyio_stream(*, from_thread: bool = False) -> Channel:
    """An unbounded anyio memory object stream: `send.send_nowait(x)` straight, or
    (`from_thread`) `anyio.from_thread.run_sync(send.send_nowait, x, token=token)`, anyio's way
    into the loop from another thread, which waits for the result."""
    import math

    import anyio
    import anyio.from_thread
    import anyio.lowlevel

    send, recv = anyio.create_memory_object_stream[Any](max_buffer_size=math.inf)
    if from_thread:
        token = anyio.lowlevel.current_token()
        run_sync = functools.partial(anyio.from_thread.run_sync, token=token)
        return Channel(run_sync, (send.send_nowait,), recv.receive, recv.receive_nowait)
    return Channel(send.send_nowait, (), recv.receive, recv.receive_nowait)


# -- shared task-side helpers ---------------------------------------------------------------


def _wait_then_clear(ev: Any) -> Callable[[], Awaitable[None]]:
    async def wait() -> None:
        await ev.wait()
        ev.clear()

    return wait
