"""The software interrupt controller's dispatch core: `Line` and `Controller`, the same code on
CPython and MicroPython.

A `Controller` owns **lines**. A line has a name, a priority (1 = least urgent, higher = more
urgent, task context is 0) and a handler that runs in **interrupt context**. `line.pend()` may
be called from any context: task code, a handler, another thread, a signal handler, a hard IRQ.

A pend from the controller's own thread (task code or a handler) dispatches synchronously, like
a write to the NVIC's software-trigger register. A pend from a foreign context **kicks** the
controller's thread through its delivery, which this module never imports at module level:

* CPython (`irqio.controller.delivery`): in the main thread a real-time signal, whose Python
  handler runs `_dispatch` at the next bytecode boundary (preemptive mode); in another thread the
  thread's scheduler doorbell, so `_dispatch` runs at the next loop turn (loop-turn mode).
* MicroPython (`irqio.controller.micropython`): `micropython.schedule`, which runs `_dispatch` at
  a bytecode boundary as CPython runs a signal handler. A hard IRQ (heap locked) and another
  `_thread` are foreign; task code, handlers and soft IRQs dispatch synchronously.

NVIC rules (see `_dispatch`)
----------------------------
* Only a strictly higher priority preempts a running handler; equal and lower lines stay pending.
* When a handler ends, the highest pending line above what it preempted runs next (FIFO within a
  priority), without returning to the preempted code in between: tail-chaining.
* A line pended again before its handler starts runs once; the extra pends are counted
  (`merged`).
* The running **ceiling** (raised by `with resource:` / `controller.critical()`) masks every line
  at or below it; such a line stays pending and runs the moment the ceiling drops.

Rules for the interrupt side (docs/controller.md): every step a pend or a nested dispatch takes
is O(1) in the load, takes no lock, and only stores, appends to deques and reads. CPython
re-enters signal handlers inside themselves under a flood, so `_dispatch` must be correct when a
second `_dispatch` starts at any bytecode boundary of the first; the comments marked "why" say
how.
"""

from collections import deque

from irqio._compat import (
    AWAITABLE,
    MICROPYTHON,
    TYPE_CHECKING,
    get_ident,
    now,
    unbounded_deque,
    write_stderr,
)
from irqio.controller.errors import (
    ControllerClosed,
    HandlerFailure,
    InvalidPriority,
    LineExists,
    WrongThread,
)
from irqio.controller.samples import Samples

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from irqio.controller.profiler import Stats
    from irqio.controller.resource import Resource
    from irqio.runtime.doorbell import Doorbell

    Handler = Callable[[], object]

#: Highest priority a line may have. Task context is 0.
MAX_PRIORITY = 255
#: The ceiling of `Controller.critical()`: above every line.
CRITICAL = MAX_PRIORITY + 1
#: MicroPython: pends of one line kept while it waits (see `Line._hits`).
HITS_KEPT_MICROPYTHON = 64


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
        controller: "Controller",
        name: str,
        priority: int,
        handler: "Handler",
        uses: "frozenset[Resource]",
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
        self._hits.append(now())  # publish first ...
        if not self._queued:  # ... then queue, at most once per dispatch (see `_queued`)
            self._queued = True
            self._queue.append(self)
        if get_ident() == ctl._ident:
            p = self.priority
            if p > ctl._active and p > ctl._ceiling:
                ctl._dispatch(None, 0)
        elif not ctl._kick_due:  # coalesce: one kick per dispatch cycle, as the doorbell does
            ctl._kick_due = True
            ctl._kick()

    def __repr__(self) -> str:
        return f"Line({self.name!r}, priority={self.priority})"


# -- the controller ---------------------------------------------------------------------------


class Controller:
    """The software interrupt controller. See the module docstring for the model.

    `kick`: how a pend from another thread reaches the main thread on CPython: ``"signal"``
    (default, `signal.pthread_kill`: interrupts any blocking system call, so a sleeping selector
    wakes too) or ``"interrupt_main"`` (`_thread.interrupt_main(signum)`: no real signal, so a
    sleeping selector wakes only through the wakeup fd; see `attach_loop`).
    `signum`: the real-time signal used for kicks (default SIGRTMIN+1).
    `doorbell`: for a controller in a non-main thread, the scheduler doorbell to ring (default:
    the doorbell of the loop running in the creating thread).
    `on_failure(line, failure)`: called in interrupt context when a handler raises or awaits;
    the default writes one line to stderr with `os.write` (no lock, safe in a signal handler).
    `debug`: report a resource held across an `await` (`HeldAcrossAwait`); default: on when
    asyncio's debug mode is (the running loop's flag, `python -X dev`, PYTHONASYNCIODEBUG).
    Off on MicroPython.
    """

    def __init__(
        self,
        *,
        signum: "int | None" = None,
        kick: str = "signal",
        doorbell: "Doorbell | None" = None,
        on_failure: "Callable[[Line, HandlerFailure], None] | None" = None,
        failures_kept: int = 100,
        debug: "bool | None" = None,
    ) -> None:
        if kick not in ("signal", "interrupt_main"):
            raise ValueError(f"kick={kick!r}: use 'signal' or 'interrupt_main'")
        self._ident = get_ident()
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
        # and the resource that set it (for blame). Stored by Resource enter/exit.
        self._ceiling = 0
        self._holder: Resource | None = None
        # The sections held in this thread, innermost last: (resource, ceiling before, holder
        # before, signal mask before, enter time). Pushed and popped by Resource enter/exit;
        # LIFO across contexts because handlers nest (see Resource.__enter__).
        self._held: list[tuple[Resource, int, Resource | None, Any, int]] = []
        self._kick_due = False
        self._closed = False
        self._resources: list[Resource] = []
        self._task_resources: set[Resource] = set()
        self._sources: list[Any] = []
        self._critical: Resource | None = None
        # positional maxlen: MicroPython's deque takes no keywords
        self.failures: deque[HandlerFailure] = deque((), failures_kept)  # noqa: RUF037
        self.on_failure = on_failure
        self._signum = 0  # the kick signal (CPython's main thread); set by the delivery
        if MICROPYTHON:
            from irqio.controller.micropython import ScheduleDelivery

            self._delivery: Any = ScheduleDelivery(self)
            self.debug = False
        else:
            from irqio.controller import debug as _debug
            from irqio.controller.delivery import delivery_for

            self.debug = _debug.asyncio_debug() if debug is None else bool(debug)
            self._delivery = delivery_for(self, signum, kick, doorbell)
        #: True when foreign pends preempt task code at any bytecode boundary (CPython's main
        #: thread, MicroPython); False when they wait for the next loop turn.
        self.preemptive: bool = self._delivery.preemptive
        # Bound once: a pend from a hard IRQ may not allocate, and `self._delivery.kick` would.
        self._kick: Callable[[], None] = self._delivery.kick
        self._delivery.start()

    # -- registration (task context, controller's thread) ---------------------------------

    def line(
        self,
        name: str,
        priority: int,
        handler: "Handler",
        uses: "Iterable[Resource]" = (),
        *,
        signal: int | None = None,
    ) -> "Line":
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
        if signal is not None:
            self._delivery.check_signal(name, signal)
        line = Line(self, name, priority, handler, used, signal)
        self._lines[name] = line
        for res in used:
            res._add_user(line)
        if signal is not None:
            self._delivery.bind_signal(line, signal)
        self._recompute()
        return line

    def on(
        self,
        name: str,
        priority: int,
        uses: "Iterable[Resource]" = (),
        *,
        signal: int | None = None,
    ) -> "Callable[[Handler], Line]":
        """Decorator form of `line`; the decorated name becomes the Line::

        @controller.on("rx", 2, uses=[buf])
        def rx() -> None: ...

        rx.pend()
        """

        def decorate(fn: "Handler") -> "Line":
            return self.line(name, priority, fn, uses, signal=signal)

        return decorate

    def task_uses(self, *resources: "Resource") -> None:
        """Declare that task code enters these resources (`with resource:`)."""
        self._check_thread("declare task resources")
        for res in resources:
            res._bind(self)
            self._task_resources.add(res)
            res._tasks = True
        self._recompute()

    def critical(self) -> "Resource":
        """The resource whose ceiling is above every line: ``with controller.critical():``
        masks every line (a global interrupt disable). Any handler or task may enter it."""
        if self._critical is None:
            from irqio.controller.resource import Resource

            res = Resource("critical()")
            res._bind(self)
            res._critical = True
            res._tasks = True
            res.ceiling = CRITICAL
            self._critical = res
        return self._critical

    def lines(self) -> "list[Line]":
        return list(self._lines.values())

    def resources(self) -> "list[Resource]":
        return list(self._resources)

    def _queue_for(self, priority: int) -> "deque[Line]":
        q = self._queues.get(priority)
        if q is None:
            # Each line is in its level's queue at most once (plus racing duplicates), so
            # MicroPython's bound (doorbell.fifo) is never reached with fewer lines than that.
            q = self._queues[priority] = unbounded_deque()
            self._levels = sorted(self._queues.items(), key=lambda pq: -pq[0])
        return q

    def _recompute(self) -> None:
        # Ceilings are derived, never set: the highest priority among a resource's users.
        for res in self._resources:
            res._recompute()

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, released: "Resource | None", released_at: int) -> None:
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
            start = now()
            try:
                try:
                    result = line.handler()
                    if result is not None and hasattr(result, AWAITABLE):
                        close = getattr(result, "close", None)
                        if close is not None:
                            close()  # no "never awaited" warning: we report it ourselves
                        self._fail(line, "awaited", None)
                except Exception as exc:
                    self._fail(line, "raised", exc)
                end = now()
                # why: the line's statistics are written while `_active` is still p, so no
                # nested dispatch can run this line meanwhile: single writer, plain `+=` is safe.
                line.runs += 1
                line.merged += n - 1
                wait = start - first
                line.latency.add(wait)
                line.runtime.add(end - start)
                # why the ceiling test: only a resource whose ceiling is at or above p can
                # have masked this line. A foreign pend that published the line and then lost
                # the GIL before its kick is taken by whatever dispatch runs next, an exit's
                # included; that wait is the pender's, not the resource's.
                if released is not None and first < released_at and p <= released.ceiling:
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

    def _fail(self, line: "Line", kind: str, exc: BaseException | None) -> None:
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
            write_stderr(msg)  # no lock (see its definition)
        except OSError:
            pass

    def dispatch(self) -> None:
        """Run what is pending and not masked, now. Controller's thread only; ports and tests
        call it (a loop-turn controller's doorbell calls it through `_service`)."""
        self._check_thread("dispatch")
        self._dispatch(None, 0)

    def _service(self) -> None:  # the doorbell's call, in task context at a loop turn
        self._dispatch(None, 0)

    def attach_loop(self, loop: "Any") -> None:
        """Make a sleeping asyncio `loop` in the main thread wake for every signal (CPython):
        needed with ``kick="interrupt_main"`` and for process-directed signals that the kernel
        hands to another thread. See `irqio.controller.delivery.SignalDelivery.attach_loop`."""
        self._delivery.attach_loop(loop)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the sources, restore the signal handlers and the wakeup fd. Pending lines are
        dropped; `pend()` raises ControllerClosed from now on. Idempotent.

        Controller's thread only, like registration: a main-thread controller restores signal
        handlers, which only the main thread can do. From another thread it raises
        `WrongThread` and changes nothing (the controller keeps running)."""
        if self._closed:
            return
        if get_ident() != self._ident:
            raise WrongThread(
                "cannot close the controller from this thread: it belongs to the thread that "
                "created it, where its signal handlers must be restored; ask that thread to "
                "close it (e.g. loop.call_soon_threadsafe(controller.close), or set a Flag its "
                "task awaits). Nothing was changed: the controller is still open"
            )
        self._closed = True
        for source in list(self._sources):
            try:
                source.close()
            except Exception:
                pass
        self._sources.clear()
        self._delivery.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Controller":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add_source(self, source: "Any") -> None:
        self._check_open("add a source")
        self._sources.append(source)

    def _remove_source(self, source: "Any") -> None:
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
    def current_line(self) -> "Line | None":
        """The line whose handler is running in this thread, or None in task context."""
        return self._current

    def stats(self) -> "Stats":
        """A snapshot of the profiler's figures (task context). See `irqio.controller.profiler`."""
        from irqio.controller.profiler import snapshot

        return snapshot(self)

    # -- checks ----------------------------------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise ControllerClosed(f"cannot {what}: the controller is closed; create a new one")

    def _check_thread(self, what: str) -> None:
        if get_ident() != self._ident:
            raise WrongThread(
                f"cannot {what} from this thread: the controller belongs to the thread that "
                "created it; only pend() may be called from other threads"
            )
