"""The software interrupt controller: an NVIC in software for CPython and MicroPython.

A `Controller` owns **lines**. A line has a name, a priority (1 = least urgent, higher = more
urgent, task context is 0) and a handler that runs in **interrupt context**. `line.pend()` may
be called from any context: task code, a handler, another thread, a Python signal handler.

Where handlers run
------------------
* Controller created in the **main thread** (preemptive mode): a pend from another thread sends
  the controller's real-time signal to the main thread (`signal.pthread_kill`, or
  `_thread.interrupt_main(signum)` with ``kick="interrupt_main"``). CPython runs the Python-level
  signal handler at the next bytecode boundary of the main thread, whatever it is doing: a
  CPU-bound coroutine that never yields is preempted there; a sleeping selector gets EINTR and
  the handler runs before the selector sleeps again. The handler is our `_dispatch`.
* Controller created in **another thread** (loop-turn mode): signals cannot reach that thread's
  Python code, so a foreign pend rings the thread's scheduler doorbell and `_dispatch` runs at
  the next turn of its loop. Handlers still never interleave with task code there: they run
  between callbacks.
* A pend from the controller's own thread (task code or a handler) dispatches synchronously, like
  a write to the NVIC's software-trigger register.
* Under **MicroPython** (no signals, no `threading`): a pend from a foreign context (a hard IRQ,
  recognised by its locked heap, or another `_thread`) schedules `_dispatch` with
  `micropython.schedule`, which runs it at a bytecode boundary as CPython runs a signal
  handler; a pend from task code, a handler or a soft IRQ dispatches synchronously. MicroPython
  does not nest scheduled callbacks, so a hard IRQ's pend cannot preempt a handler running in
  one: it tail-chains. See the guarded imports below and docs/controller.md.

The dispatch core (lines, priorities, pend, merged counts, preemption, tail-chaining, the
ceiling, resources) is the same code on both; only the delivery above differs. The CPython
delivery (signals, `pthread_kill`, `interrupt_main`, the wakeup fd, `pthread_sigmask`, threads,
loop-turn mode) is imported guarded and used only where `MICROPYTHON` is False.

NVIC rules (see `_dispatch`)
----------------------------
* Only a strictly higher priority preempts a running handler; equal and lower lines stay pending.
* When a handler ends, the highest pending line above what it preempted runs next (FIFO within a
  priority), without returning to the preempted code in between: tail-chaining.
* A line pended again before its handler starts runs once; the extra pends are counted
  (`merged`).
* The running **ceiling** (raised by `with resource:` / `controller.critical()`) masks every line
  at or below it; such a line stays pending and runs the moment the ceiling drops.

Rules for the interrupt side (DESIGN.md): every step a pend or a nested dispatch takes is O(1)
in the load, takes no lock, and only stores, appends to deques and reads. CPython re-enters
signal handlers inside themselves under a flood, so `_dispatch` must be correct when a second
`_dispatch` starts at any bytecode boundary of the first; the comments marked "why" say how.
"""

from __future__ import annotations

import time
from array import array
from collections import deque

from irqio.doorbell import fifo

try:
    from typing import TYPE_CHECKING, Any
except ImportError:  # MicroPython has no typing module; annotations are never evaluated there
    TYPE_CHECKING = False  # type: ignore[misc]

try:  # CPython on POSIX: the delivery side (signals, threads, the wakeup fd)
    import _thread
    import itertools
    import os
    import signal as _signal
    import sys
    import threading

    MICROPYTHON = False
    _get_ident = _thread.get_ident
    _now = time.perf_counter_ns
    #: Nanoseconds per unit of `_now()`: every duration the controller records is in these units.
    CLOCK_UNIT_NS = 1
    #: Default ring size of `Samples` (the last samples kept for percentiles).
    RING_SIZE = 4096
    # A handler's awaitable (an `async def` handler's coroutine) has `__await__`.
    _AWAITABLE = "__await__"

    _bit_length = int.bit_length
    # The built-in base each error adds to ControllerError (InvalidPriority is a ValueError...).
    _ValueError = ValueError
    _RuntimeError = RuntimeError

    def _write_stderr(msg: str) -> None:
        os.write(2, msg.encode())  # no lock: sys.stderr's buffer lock is not re-entrant

except ImportError:  # MicroPython: no signals, no threading (the WebAssembly build: no _thread)
    import sys

    import micropython  # type: ignore[import-not-found]

    MICROPYTHON = True
    # µs ticks: a small int, so a pend from a hard IRQ (heap locked) allocates nothing. Durations
    # are differences of two ticks; one that spans the wrap (every 2**30 µs) reads as 0.
    _now = time.ticks_us  # type: ignore[attr-defined]
    CLOCK_UNIT_NS = 1000
    RING_SIZE = 64  # 2 rings per line on a microcontroller's heap: keep them small
    _AWAITABLE = "send"  # MicroPython's coroutines are generators, without __await__

    try:
        from _thread import get_ident as _thread_ident
    except ImportError:  # a port without threads

        def _thread_ident() -> int:
            return 0

    def _get_ident() -> int:
        """The thread's identity, or -1 in a hard IRQ: a foreign context, like another thread.

        why: a hard IRQ runs with the heap locked (MicroPython locks it around hard callbacks),
        and may interrupt the VM in the middle of anything, `_dispatch` included: its pend must
        only publish and kick (`micropython.schedule`), never run handlers there. Two C calls,
        no allocation: heap_unlock() returns the depth left, > 0 if it was locked before."""
        micropython.heap_lock()
        if micropython.heap_unlock():
            return -1
        return _thread_ident()

    def _bit_length(n: int) -> int:  # type: ignore[misc]  # MicroPython's int has none
        k = 0
        while n:
            n >>= 1
            k += 1
        return k

    def _write_stderr(msg: str) -> None:
        sys.stderr.write(msg)  # MicroPython's stderr takes no lock

    # MicroPython cannot derive a class from two exception types ("multiple bases have instance
    # lay-out conflict"): there the errors are ControllerErrors only; `except ValueError` or
    # `except RuntimeError` does not catch them, `except ControllerError` (or the error) does.
    _ValueError = _RuntimeError = object  # type: ignore[assignment]


if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from irqio.doorbell import Doorbell
    from irqio.profiler import Stats
    from irqio.resource import Resource

    Handler = Callable[[], object]

#: Highest priority a line may have. Task context is 0.
MAX_PRIORITY = 255
#: The ceiling of `Controller.critical()`: above every line.
CRITICAL = MAX_PRIORITY + 1


# -- errors: each message says what was wrong and what to do -----------------------------------


class ControllerError(Exception):
    """Base class of the controller's and resources' errors."""


class InvalidPriority(ControllerError, _ValueError):
    """A line's priority is not an integer in 1..MAX_PRIORITY."""


class LineExists(ControllerError, _ValueError):
    """A line with this name is already registered on this controller."""


class ControllerClosed(ControllerError, _RuntimeError):
    """The controller was closed; its lines can no longer be pended."""


class WrongThread(ControllerError, _RuntimeError):
    """Something that belongs to the controller's thread was used from another thread."""


class CeilingViolation(ControllerError, _RuntimeError):
    """A handler (or task) entered a resource it did not declare, so its ceiling is wrong."""


class UnusedResource(ControllerError, _RuntimeError):
    """A resource no line and no task declared was entered: it has no ceiling."""


class SignalInUse(ControllerError, _ValueError):
    """A signal is already bound to this controller (its kick signal or another line)."""


class HeldAcrossAwait(ControllerError, _RuntimeError):
    """Task code held a resource across an `await` (seen in debug mode): other tasks ran while
    its ceiling kept lines masked."""


class HandlerFailure:
    """A handler that raised or returned an awaitable; kept in `Controller.failures`."""

    __slots__ = ("error", "kind", "line")

    def __init__(self, line: str, kind: str, error: BaseException | None) -> None:
        self.line = line  # the line's name
        self.kind = kind  # "raised" or "awaited"
        self.error = error

    def __repr__(self) -> str:
        return f"HandlerFailure(line={self.line!r}, kind={self.kind!r}, error={self.error!r})"


# -- interrupt-side recording (the profiler summarises it in task context) -------------------


class Samples:
    """Bounded recording of nanosecond durations: exact count/min/max/total and a log2
    histogram of every sample, plus a ring of the last `size` samples for percentiles.

    One writer at a time (a line's samples are written only by the dispatch running that line,
    which never preempts itself), so plain read-modify-write is safe. `add` is O(1) and never
    allocates once constructed.

    The unit is that of the controller's clock, `CLOCK_UNIT_NS` ns: 1 on CPython
    (`perf_counter_ns`), 1000 on MicroPython (`time.ticks_us`), where the ring is also smaller
    (`RING_SIZE`)."""

    __slots__ = ("count", "hist", "max", "min", "ring", "size", "total")

    def __init__(self, size: int = RING_SIZE) -> None:
        self.size = size
        self.ring = array("q", bytes(8 * size))
        self.count = 0
        self.total = 0
        self.min = -1
        self.max = -1
        self.hist = array("q", bytes(8 * 64))  # bucket k: samples with bit_length() == k

    def add(self, ns: int) -> None:
        if ns < 0:
            ns = 0
        self.ring[self.count % self.size] = ns
        self.count += 1
        self.total += ns
        if ns > self.max:
            self.max = ns
        if self.min < 0 or ns < self.min:
            self.min = ns
        self.hist[_bit_length(ns) if ns < (1 << 63) else 63] += 1

    def recent(self) -> list[int]:
        """The last min(count, size) samples (task context)."""
        n = self.count if self.count < self.size else self.size
        return list(self.ring[:n])


# -- lines ----------------------------------------------------------------------------------


class Line:
    """An interrupt source with a name, a priority and a handler. Create with `Controller.line`."""

    __slots__ = (
        "_ctl",
        "_hits",
        "_queue",
        "_queued",
        "after",
        "blame",
        "failures",
        "handler",
        "latency",
        "merged",
        "name",
        "priority",
        "runs",
        "runtime",
        "signum",
        "uses",
    )

    def __init__(
        self,
        controller: Controller,
        name: str,
        priority: int,
        handler: Handler,
        uses: frozenset[Resource],
        signum: int | None,
    ) -> None:
        self._ctl = controller
        self.name = name
        self.priority = priority
        self.handler = handler
        self.uses = uses
        self.signum = signum
        # Optional hook run in interrupt context after each handler run (a source re-arms here).
        self.after: Callable[[], None] | None = None
        # Pend timestamps not yet taken by a dispatch. Appended from any context (deque.append
        # cannot be torn); drained only by the dispatch that runs this line. MicroPython's
        # deque needs a bound: past HITS_KEPT_MICROPYTHON waiting pends the oldest is dropped
        # (no allocation, so a hard IRQ may pend): the line still runs, `merged` undercounts.
        if MICROPYTHON:  # positional maxlen: MicroPython's deque takes no keywords
            self._hits: deque[int] = deque((), HITS_KEPT_MICROPYTHON)  # noqa: RUF037
        else:
            self._hits = deque()
        self._queue: deque[Line] = controller._queue_for(priority)
        # True from the pend that queued the line until a dispatch takes it. Same protocol as
        # the doorbell's `_due`: pend appends its hit, *then* reads `_queued`; dispatch stores
        # `_queued = False`, *then* counts the hits. A pend that sees True is counted by the
        # dispatch that will clear it; one that sees False queues again. Racing pends may
        # queue twice: the spare entry finds no hits and is skipped. No pend is ever lost.
        self._queued = False
        # Dispatch-side statistics. Single writer: only the dispatch running this line writes
        # them, and a line never preempts itself (equal priority does not preempt).
        self.runs = 0
        self.merged = 0
        self.failures = 0
        self.latency = Samples()  # pend (first of the merged pends) -> handler start, ns
        self.runtime = Samples()  # handler start -> end, ns (includes nested preemptions)
        # holder name -> [times, worst ns, total ns]: who held the ceiling while this waited.
        self.blame: dict[str, list[int]] = {}

    @property
    def pends(self) -> int:
        """Pends so far: those taken by a run (runs + merged) and those still waiting."""
        return self.runs + self.merged + len(self._hits)

    def pend(self) -> None:
        """Mark the line pending. Any context; O(1); never blocks.

        From the controller's thread the handler runs before this returns if its priority is
        above the running priority and the ceiling; otherwise it runs when they drop. From
        another thread the controller is kicked (a signal, or its loop's doorbell)."""
        ctl = self._ctl
        if ctl._closed:
            raise ControllerClosed(
                f"pend() on line {self.name!r}: its controller is closed; create a new "
                "Controller and register the line there (or pend before closing)"
            )
        self._hits.append(_now())  # publish first ...
        if not self._queued:  # ... then queue, at most once per dispatch (see `_queued`)
            self._queued = True
            self._queue.append(self)
        if _get_ident() == ctl._ident:
            p = self.priority
            if p > ctl._active and p > ctl._ceiling:
                ctl._dispatch(None, 0)
        elif not ctl._kick_due:  # coalesce: one kick per dispatch cycle, as the doorbell does
            ctl._kick_due = True
            ctl._kick()

    def __repr__(self) -> str:
        return f"Line({self.name!r}, priority={self.priority})"


# -- the controller ---------------------------------------------------------------------------


# kick signal -> the open main-thread controller that owns it
_kick_signals: dict[int, Controller] = {}

#: MicroPython: pends of one line kept while it waits (see `Line._hits`).
HITS_KEPT_MICROPYTHON = 64


def _asyncio_debug() -> bool:
    """asyncio's own default for debug mode, or the running loop's flag."""
    if sys.flags.dev_mode or (
        not sys.flags.ignore_environment and os.environ.get("PYTHONASYNCIODEBUG")
    ):
        return True
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        return bool(asyncio.get_running_loop().get_debug())
    except RuntimeError:
        return False


def _count_of(counter: itertools.count[int]) -> int:
    # repr is "count(N)": N is the number of next() calls so far (counts start at 0).
    return int(repr(counter)[6:-1])


def default_signum() -> int:
    """The real-time signal a main-thread controller uses for kicks: SIGRTMIN+1."""
    return int(_signal.SIGRTMIN) + 1


class Controller:
    """The software interrupt controller. See the module docstring for the model.

    `kick`: how a pend from another thread reaches the main thread: ``"signal"`` (default,
    `signal.pthread_kill`: interrupts any blocking system call, so a sleeping selector wakes
    too) or ``"interrupt_main"`` (`_thread.interrupt_main(signum)`: no real signal, so a sleeping
    selector wakes only through the wakeup fd; see `attach_loop`).
    `doorbell`: for a controller in a non-main thread, the scheduler doorbell to ring (default:
    the doorbell of the loop running in the creating thread).
    `on_failure(line, failure)`: called in interrupt context when a handler raises or awaits;
    the default writes one line to stderr with `os.write` (no lock, safe in a signal handler).
    """

    def __init__(
        self,
        *,
        signum: int | None = None,
        kick: str = "signal",
        doorbell: Doorbell | None = None,
        on_failure: Callable[[Line, HandlerFailure], None] | None = None,
        failures_kept: int = 100,
        debug: bool | None = None,
    ) -> None:
        if kick not in ("signal", "interrupt_main"):
            raise ValueError(f"kick={kick!r}: use 'signal' or 'interrupt_main'")
        self._ident = _get_ident()
        #: Debug mode: resources entered by task code are checked for being held across an
        #: `await` (`HeldAcrossAwait`). Default: on when asyncio's debug mode is (the running
        #: loop's flag, `python -X dev`, or PYTHONASYNCIODEBUG). Off on MicroPython.
        self.debug = (not MICROPYTHON and _asyncio_debug()) if debug is None else bool(debug)
        # MicroPython: scheduled callbacks preempt task code at bytecode boundaries.
        self.preemptive = MICROPYTHON or threading.current_thread() is threading.main_thread()
        self._lines: dict[str, Line] = {}
        self._queues: dict[int, deque[Line]] = {}
        # (priority, queue) pairs, most urgent first. Replaced (never mutated) on registration,
        # so a dispatch iterating an old list is unaffected.
        self._levels: list[tuple[int, deque[Line]]] = []
        # The running priority: of the handler now running, 0 in task context. Stored only by
        # `_dispatch`, which restores it before returning (handlers nest strictly LIFO).
        self._active = 0
        self._current: Line | None = None  # the line whose handler is running, None = task
        # The running ceiling (optimistic masking: a number; lines at or under it stay pending)
        # and the resource that set it (for blame). Stored by Resource enter/exit, LIFO.
        self._ceiling = 0
        self._holder: Resource | None = None
        self._kick_due = False
        self._closed = False
        self._resources: list[Resource] = []
        self._task_resources: set[Resource] = set()
        self._sources: list[Any] = []
        self._critical: Resource | None = None
        # positional maxlen: MicroPython's deque takes no keywords
        self.failures: deque[HandlerFailure] = deque((), failures_kept)  # noqa: RUF037
        self.on_failure = on_failure
        self._kick_mode = kick
        self._saved_handlers: dict[int, Any] = {}
        self._wakeup: tuple[Any, Any, int, Any] | None = None  # (rsock, wsock, prev fd, loop)
        self._doorbell: Doorbell | None = None
        if MICROPYTHON:
            # No signals: a foreign pend is kicked with micropython.schedule (see `_kick`).
            self._kick_mode = "schedule"
            self._signum = 0
            # Bound once here: a hard IRQ may not allocate, and `self._on_schedule` would.
            self._scheduled = self._on_schedule
            return
        self._kicks_begun = itertools.count()
        self._kicks_ended = itertools.count()
        self._signum = default_signum() if signum is None else signum
        if self.preemptive:
            self._install_signal(self._signum, self._on_signal)
            if kick == "interrupt_main":
                self._maybe_attach_running_loop()
        else:
            if doorbell is None:
                from irqio import doorbell as _doorbell_mod

                try:
                    doorbell = _doorbell_mod.current()
                except Exception as exc:
                    raise WrongThread(
                        "a Controller created outside the main thread dispatches at the turns of "
                        "that thread's event loop: create it inside a running loop, or pass "
                        "doorbell=<the loop's doorbell>"
                    ) from exc
            self._doorbell = doorbell

    # -- registration (task context, controller's thread) ---------------------------------

    def line(
        self,
        name: str,
        priority: int,
        handler: Handler,
        uses: Iterable[Resource] = (),
        *,
        signal: int | None = None,
    ) -> Line:
        """Register a line and return it. `on()` is the decorator form.

        `uses`: the resources the handler enters (their ceilings are raised to `priority`).
        `signal`: bind the line to a real signal (e.g. SIGRTMIN+3 from another process): its
        arrival pends the line (main-thread controller only)."""
        self._check_open("register a line")
        self._check_thread("register a line")
        if type(priority) is not int or not 1 <= priority <= MAX_PRIORITY:
            raise InvalidPriority(
                f"line {name!r}: priority {priority!r} is invalid; use an int from 1 (least "
                f"urgent) to {MAX_PRIORITY} (most urgent); 0 is task context"
            )
        if name in self._lines:
            raise LineExists(
                f"line {name!r} is already registered on this controller (priority "
                f"{self._lines[name].priority}); give the new line another name, or reuse "
                "the existing Line object"
            )
        if not callable(handler):
            raise TypeError(f"line {name!r}: handler must be callable, got {handler!r}")
        used = frozenset(uses)
        for res in used:
            res._bind(self)
        if signal is not None and MICROPYTHON:
            raise ControllerError(
                f"line {name!r}: signal= binds a POSIX signal, which MicroPython has not; pend "
                "the line from the IRQ handler instead (line.pend() is safe in a hard IRQ)"
            )
        if signal is not None and not self.preemptive:
            raise WrongThread(
                f"line {name!r}: signal-bound lines need a controller in the main thread "
                "(only the main thread runs Python signal handlers)"
            )
        line = Line(self, name, priority, handler, used, signal)
        self._lines[name] = line
        for res in used:
            res._add_user(line)
        if signal is not None:
            pend = line.pend

            def on_signal(signum: int, frame: object) -> None:
                pend()

            self._install_signal(signal, on_signal)
        self._recompute()
        return line

    def on(
        self, name: str, priority: int, uses: Iterable[Resource] = (), *, signal: int | None = None
    ) -> Callable[[Handler], Line]:
        """Decorator form of `line`; the decorated name becomes the Line::

        @controller.on("rx", 2, uses=[buf])
        def rx() -> None: ...

        rx.pend()
        """

        def decorate(fn: Handler) -> Line:
            return self.line(name, priority, fn, uses, signal=signal)

        return decorate

    def task_uses(self, *resources: Resource) -> None:
        """Declare that task code enters these resources (`with resource:`)."""
        self._check_thread("declare task resources")
        for res in resources:
            res._bind(self)
            self._task_resources.add(res)
            res._tasks = True
        self._recompute()

    def critical(self) -> Resource:
        """The resource whose ceiling is above every line: ``with controller.critical():``
        masks every line (a global interrupt disable). Any handler or task may enter it."""
        if self._critical is None:
            from irqio.resource import Resource

            res = Resource("critical()")
            res._bind(self)
            res._critical = True
            res._tasks = True
            res.ceiling = CRITICAL
            self._critical = res
        return self._critical

    def lines(self) -> list[Line]:
        return list(self._lines.values())

    def resources(self) -> list[Resource]:
        return list(self._resources)

    def _queue_for(self, priority: int) -> deque[Line]:
        q = self._queues.get(priority)
        if q is None:
            # Each line is in its level's queue at most once (plus racing duplicates), so
            # MicroPython's bound (doorbell.fifo) is never reached with fewer lines than that.
            q = self._queues[priority] = fifo()
            self._levels = sorted(self._queues.items(), key=lambda pq: -pq[0])
        return q

    def _recompute(self) -> None:
        # Ceilings are derived, never set: the highest priority among a resource's users.
        for res in self._resources:
            res._recompute()

    # -- dispatch -------------------------------------------------------------------------

    def _dispatch(self, released: Resource | None, released_at: int) -> None:
        """Run every pending line above the running priority and the ceiling, most urgent
        first, FIFO within a priority; return when none is left. Interrupt context.

        `released`: the resource whose exit called us (its ceiling just dropped); lines pended
        before `released_at` that start here were held back by it: the profiler's blame."""
        # why: cleared before scanning, like the doorbell's `_due`: a foreign pend whose kick
        # was suppressed appended its line before reading True, i.e. before this store, so the
        # scan below sees it; a pend after this store kicks again.
        self._kick_due = False
        base = self._active  # what we preempted; restored before each return
        base_line = self._current
        while True:
            floor = base if base > self._ceiling else self._ceiling
            queue = None
            for p, q in self._levels:  # O(priority levels in use), not O(load)
                if p <= floor:
                    return
                if q:
                    queue = q
                    break
            if queue is None:
                return
            # why: claim level p before taking from its queue. A nested dispatch (a signal at
            # any bytecode boundary from here on) reads `_active == p` as its base and leaves
            # level p alone, so FIFO order within p is kept. If a nested dispatch took the entry
            # before this store, popleft finds the queue empty and we rescan.
            self._active = p
            try:
                line = queue.popleft()
            except IndexError:
                self._active = base
                continue
            line._queued = False  # why: before counting hits (see Line._queued)
            hits = line._hits
            n = len(hits)
            if not n:  # a spare queue entry: its hits were taken by an earlier run
                self._active = base
                continue
            first = hits.popleft()
            for _ in range(n - 1):  # the merged pends: counted, not run
                hits.popleft()
            self._current = line
            start = _now()
            try:
                try:
                    result = line.handler()
                    if result is not None and hasattr(result, _AWAITABLE):
                        close = getattr(result, "close", None)
                        if close is not None:
                            close()  # no "never awaited" warning: we report it ourselves
                        self._fail(line, "awaited", None)
                except Exception as exc:
                    self._fail(line, "raised", exc)
                end = _now()
                # why: the line's statistics are written while `_active` is still p, so no
                # nested dispatch can run this line meanwhile: single writer, plain `+=` is safe.
                line.runs += 1
                line.merged += n - 1
                wait = start - first
                line.latency.add(wait)
                line.runtime.add(end - start)
                if released is not None and first < released_at:
                    entry = line.blame.get(released.name)
                    if entry is None:
                        line.blame[released.name] = [1, wait, wait]
                    else:
                        entry[0] += 1
                        entry[2] += wait
                        if wait > entry[1]:
                            entry[1] = wait
                after = line.after
                if after is not None:  # a source's end-of-interrupt (re-arm), still at level p
                    try:
                        after()
                    except Exception as exc:
                        self._fail(line, "raised", exc)
            finally:
                # why: restored even if a BaseException (KeyboardInterrupt from SIGINT) escapes,
                # so the controller is never left masking at p.
                self._current = base_line
                self._active = base

    def _fail(self, line: Line, kind: str, exc: BaseException | None) -> None:
        line.failures += 1
        failure = HandlerFailure(line.name, kind, exc)
        self.failures.append(failure)
        report = self.on_failure
        if report is not None:
            try:
                report(line, failure)
            except Exception:
                pass  # a broken reporter must not stop dispatch
            return
        if kind == "awaited":
            msg = (
                f"irqio: line {line.name!r}: handler returned an awaitable; handlers run in "
                "interrupt context and may not await: set a primitive (Flag, Queue...) and "
                "let a task do the awaiting\n"
            )
        else:
            msg = f"irqio: line {line.name!r}: handler raised {exc!r}; dispatch continues\n"
        try:
            _write_stderr(msg)  # no lock (see its definition)
        except OSError:
            pass

    def dispatch(self) -> None:
        """Run what is pending and not masked, now. Controller's thread only; ports and tests
        call it (a loop-turn controller's doorbell calls it through `_service`)."""
        self._check_thread("dispatch")
        self._dispatch(None, 0)

    def _service(self) -> None:  # the doorbell's call, in task context at a loop turn
        self._dispatch(None, 0)

    def _kick(self) -> None:
        """Make the controller's thread dispatch soon. Called from foreign threads; O(1)."""
        if MICROPYTHON:
            # MicroPython's soft-IRQ doorbell: the VM runs `_on_schedule` at its next bytecode
            # boundary. Safe in a hard IRQ: the bound method was made at construction, nothing
            # allocates. A full schedule queue raises RuntimeError: `_kick_due` is cleared so
            # the next pend kicks again (the hit is published; any dispatch will run it).
            try:
                micropython.schedule(self._scheduled, None)
            except RuntimeError:
                self._kick_due = False
                raise
            return
        # why the two counters: close() must not restore SIG_DFL (whose action for a real-time
        # signal is to kill the process) while a kick is between its `_closed` check and its
        # pthread_kill. `next()` on a count is one C call, never split; close() stores
        # `_closed` and then waits until begun == ended, so a kick either sees `_closed` or
        # is waited for.
        next(self._kicks_begun)
        try:
            if self._closed:
                return
            if self._doorbell is not None:
                self._doorbell.schedule(self)
            elif self._kick_mode == "signal":
                _signal.pthread_kill(self._ident, self._signum)
            else:
                _thread.interrupt_main(self._signum)  # type: ignore[arg-type]
        finally:
            next(self._kicks_ended)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._dispatch(None, 0)

    def _on_schedule(self, _arg: object) -> None:  # MicroPython: a scheduled callback
        if not self._closed:  # close() drops pending lines, as the restored signal does
            self._dispatch(None, 0)

    # -- signals and the wakeup fd -----------------------------------------------------------

    def _install_signal(self, signum: int, handler: Callable[[int, Any], None]) -> None:
        if signum in self._saved_handlers:
            raise SignalInUse(
                f"signal {signum} is already used by this controller (its kick signal is "
                f"{self._signum}); bind each line to its own signal, or pass signum= to "
                "Controller to move the kick signal"
            )
        if signum == self._signum:
            other = _kick_signals.get(signum)
            if other is not None and not other._closed:
                raise SignalInUse(
                    f"signal {signum} is the kick signal of another open Controller; close it "
                    "first, or pass signum=<another real-time signal> to this one"
                )
            _kick_signals[signum] = self
        self._saved_handlers[signum] = _signal.signal(signum, handler)

    def _watch_hold(self, res: Resource, entry: object) -> None:
        """Debug mode: task code just entered `res`; check it is released before the loop turns.

        why: a loop callback runs only between task steps, and a task step ends only at an
        `await` that suspends, so an entry still held when the callback runs was held across
        one. `_current is None` (task context) was checked by the caller."""
        asyncio = sys.modules.get("asyncio")
        if asyncio is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = asyncio.current_task(loop)
        if task is not None:  # a plain callback cannot await
            loop.call_soon(res._check_released, entry, task, loop)

    def _maybe_attach_running_loop(self) -> None:
        try:
            import asyncio

            loop = asyncio.get_running_loop()
        except (ImportError, RuntimeError):
            return
        self.attach_loop(loop)

    def attach_loop(self, loop: Any) -> None:
        """Make a sleeping asyncio `loop` in the main thread wake for every signal: needed with
        ``kick="interrupt_main"`` (no real signal, so no EINTR) and for process-directed
        signals that the kernel hands to another thread.

        If the process has no wakeup fd, the controller sets one (a socketpair watched by
        `loop`) and restores "none" on close. If one is set already (asyncio's own, from
        `loop.add_signal_handler`, which writes into that loop's self-pipe), it is kept: it
        already wakes the loop. Should asyncio later install its own, ours is replaced, which
        is fine for the same reason; close() then leaves asyncio's in place."""
        if self._wakeup is not None or not self.preemptive or MICROPYTHON:
            return
        import socket

        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        prev = _signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
        if prev != -1:  # someone (asyncio) already wakes a selector: keep theirs
            _signal.set_wakeup_fd(prev)
            rsock.close()
            wsock.close()
            return

        def drain() -> None:
            try:
                while rsock.recv(4096):
                    pass
            except OSError:
                pass

        loop.add_reader(rsock.fileno(), drain)
        self._wakeup = (rsock, wsock, prev, loop)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the sources, restore the signal handlers and the wakeup fd. Pending lines are
        dropped; `pend()` raises ControllerClosed from now on. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for source in list(self._sources):
            try:
                source.close()
            except Exception:
                pass
        self._sources.clear()
        if self._saved_handlers:
            self._restore_signals()
        if self._wakeup is not None:
            rsock, wsock, prev, loop = self._wakeup
            self._wakeup = None
            try:
                current = _signal.set_wakeup_fd(-1)
                if current != wsock.fileno():
                    _signal.set_wakeup_fd(current)  # someone replaced ours: leave theirs
                else:
                    _signal.set_wakeup_fd(prev)
            except ValueError:
                pass
            try:
                loop.remove_reader(rsock.fileno())
            except Exception:
                pass
            rsock.close()
            wsock.close()

    def _restore_signals(self) -> None:
        kick = {self._signum} if self._signum in self._saved_handlers else set()
        old_mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, kick) if kick else None
        try:
            # Wait (bounded) for kicks already past their `_closed` check, then consume the
            # kick signals still pending for this thread, so none is delivered after SIG_DFL.
            deadline = time.monotonic() + 1.0
            while _count_of(self._kicks_begun) != _count_of(self._kicks_ended):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.0005)
            if kick:
                while _signal.sigtimedwait(kick, 0) is not None:
                    pass
            for signum, prev in self._saved_handlers.items():
                try:
                    _signal.signal(signum, prev if prev is not None else _signal.SIG_DFL)
                except (ValueError, OSError):
                    pass
            self._saved_handlers.clear()
            if _kick_signals.get(self._signum) is self:
                del _kick_signals[self._signum]
        finally:
            if old_mask is not None:
                _signal.pthread_sigmask(_signal.SIG_SETMASK, old_mask)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Controller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add_source(self, source: Any) -> None:
        self._check_open("add a source")
        self._sources.append(source)

    def _remove_source(self, source: Any) -> None:
        if source in self._sources:
            self._sources.remove(source)

    # -- introspection -------------------------------------------------------------------

    @property
    def running_priority(self) -> int:
        """The priority of the running handler, 0 in task context."""
        return self._active

    @property
    def ceiling(self) -> int:
        """The running ceiling (0 when no resource is held; CRITICAL under critical())."""
        return self._ceiling

    @property
    def current_line(self) -> Line | None:
        """The line whose handler is running in this thread, or None in task context."""
        return self._current

    def stats(self) -> Stats:
        """A snapshot of the profiler's figures (task context). See `irqio.profiler`."""
        from irqio.profiler import snapshot

        return snapshot(self)

    # -- checks ----------------------------------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise ControllerClosed(f"cannot {what}: the controller is closed; create a new one")

    def _check_thread(self, what: str) -> None:
        if _get_ident() != self._ident:
            raise WrongThread(
                f"cannot {what} from this thread: the controller belongs to the thread that "
                "created it; only pend() may be called from other threads"
            )
