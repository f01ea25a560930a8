"""One run of a scenario under one schedule.

A schedule is a list of placements `(point, context name)` in increasing point order: at that
point the named context preempts whatever is running (task context, a handler that fired
earlier, or a foreign thread). Contexts the schedule does not place fire when task context goes
idle with nothing left to do, or when it ends. The first idle firing is the run's *horizon*:
only points before it can hold a placement, so an exhaustive search places contexts in
`[last placement + 1, horizon)`.

Handlers with a priority are lines of an `irqio.Controller`: placing one *pends* it, and the
controller's own dispatch decides whether it runs now (above the running priority and the
ceiling) or stays pending until what masks it lets go; the report says which. Handlers without
a priority run at once, whatever they preempt.

The engine records where each context landed (code object and instruction offset; turned into
file:line and source text only for reports) and the first failure: an exception in any
context, an invariant that does not hold, a scheduler stuck with tasks waiting (deadlock), an
asyncio loop asleep in `select()` with work it was never woken for (stranded), a runaway, a
spin that never ends (livelock), or a handler left pending for good (stuck).

For the partial-order reduction (`irqio.check.search`) a run can also record footprints: the
*window* of each placement (everything from its firing until the context it preempted runs
again) and, after it, a *scan* of the preempted context's next points until one conflicts with
the window. `Outcome.scans[d]` is that point, in the numbering of the run without placement d.

Spinning: a context that runs `spin_points` points without the scheduler idling is spinning on
something another context must do. A foreign thread that spins gives the CPU back to task
context; task context that spins lets the next unfired context run (as an idle step would).
Neither is a placement. Fifty such steps in one run, or a handler that spins, is a livelock.
Code that spins outside the traced modules reaches no point at all: a watchdog stops a run
after `RUN_SECONDS`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any, ClassVar

from irqio.check.footprint import Footprint, Key, Recorder
from irqio.check.outcome import TASK, Failure, Outcome, Preemption, short_path
from irqio.check.pyasyncio import Stranded
from irqio.check.scenario import Context, Scenario, ScenarioError, Setup
from irqio.check.tracer import Tracer
from irqio.kernel import Deadlock, StepLimit

__all__ = ["SELF", "TASK", "Engine", "Failure", "Outcome", "Preemption", "include_filter"]

SELF = "@scenario"  # in a scenario's `modules`: the file that defines the scenario
# Outcome.scans[d]: a later placement cut the scan short (None: unknown, so no pruning)
UNCONSTRAINED = -1
_BATON_TIMEOUT = 10.0
RUN_SECONDS = 10.0  # a run that reaches no point for this long is stopped (livelock)
UNTRACED_SECONDS = 0.5  # a run past its last point for this long is made again, counting
MAX_SPINS = 50  # spin steps in one run before it is called a livelock


@contextlib.contextmanager
def quiet_abandoned_coroutines() -> Iterator[None]:
    """A run that fails or deadlocks early drops coroutines it never started (`main()` before
    the kernel stepped it): their "never awaited" warning says nothing the report does not."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        yield


class _Abandon(BaseException):
    """Unwinds a run whose foreign thread never gave the CPU back."""


class _Livelock(BaseException):
    """Unwinds a run that spins for good (raised by the engine, or injected by the watchdog)."""


class _Retrace(BaseException):
    """Injected by the watchdog into a run that stopped counting and has not ended: it may
    spin where nothing watches. The run is made again, counting to the end."""


class _Window:
    __slots__ = ("depth", "fp", "point")

    def __init__(self, depth: int, point: int) -> None:
        self.depth = depth
        self.point = point
        self.fp = Footprint()


class _Scan:
    __slots__ = ("base", "depth", "fp", "n0")

    def __init__(self, depth: int, base: int, n0: int, fp: Footprint) -> None:
        self.depth = depth
        self.base = base
        self.n0 = n0
        self.fp = fp


def include_filter(scenario: Scenario) -> Callable[[str], bool]:
    """Which files' bytecodes are preemption points. A module named to trace that defines no
    code (a re-export module, say) is an error: tracing it would trace nothing."""
    import importlib.util

    files: set[str] = set()
    dirs: list[str] = []
    excluded = [os.path.dirname(os.path.abspath(__file__)) + os.sep]
    names = list(scenario.modules) if scenario.modules is not None else [SELF, "irqio"]
    if scenario.modules is None and scenario.port == "asyncio":
        names.append("asyncio")
    names += scenario.extra_modules
    for name in names:
        if name == SELF:
            files.add(scenario.file)
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise ScenarioError(
                f"scenario {scenario.name}: module {name!r} (to trace) cannot be found"
            )
        if spec.submodule_search_locations:
            dirs += [os.path.abspath(d) + os.sep for d in spec.submodule_search_locations]
        elif spec.origin:
            origin = os.path.abspath(spec.origin)
            if not _defines_code(origin):
                raise ScenarioError(
                    f"scenario {scenario.name}: module {name!r} (to trace) defines no function "
                    f"or class of its own ({short_path(origin)} only imports or assigns names): "
                    "tracing it would "
                    "trace nothing; name the module that defines the code"
                )
            files.add(origin)
    dirs_t = tuple(dirs)
    excluded_t = tuple(excluded)

    def include(filename: str) -> bool:
        path = os.path.abspath(filename)
        if path.startswith(excluded_t):
            return False
        return path in files or path.startswith(dirs_t)

    return include


def _defines_code(path: str) -> bool:
    """Does a Python source file define a function, method or class (code that can run)?"""
    import ast

    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True  # not ours to judge (a compiled module, say)
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
        for node in ast.walk(tree)
    )


class Engine:
    """Runs one scenario under many schedules, reusing one tracer."""

    def __init__(self, scenario: Scenario, record_untraced: bool = False) -> None:
        """`record_untraced`: the runs will record footprints (the partial-order reduction,
        explanations), so code outside the traced modules must be watched too."""
        self.scenario = scenario
        self.tracer = Tracer(include_filter(scenario), record_untraced=record_untraced)
        self.recorder = Recorder(self._access)
        self.recorder.count = self.tracer.count
        self.tracer.recorder = self.recorder
        self.runs = 0
        self.spin_points = scenario.spin_points
        self.run_seconds = scenario.run_seconds
        # Count points to the end of every run (not only to the last placement): set once a
        # run has spun, so later runs see their spins too; replays always do.
        self.trace_to_end = False
        # Set by a caller that already silences abandoned coroutines around all its runs.
        self.quiet = False
        self._running = False
        self._watching = False
        self._watch_lock = threading.Lock()
        self._deadline = 0.0
        self._cpu_thread = threading.get_ident()
        # Bound once: a run hands these to its world (a bound method is made at each access).
        self._hooks = (self._on_idle, self._on_idle_fd, self._line_ran, self._note,
                       self._on_point)  # fmt: skip
        # where the point a policy is asked about lies (code, offset)
        self.at: tuple[CodeType | None, int] = (None, 0)
        _Watchdog.watch(self)

    def close(self) -> None:
        _Watchdog.forget(self)
        self.tracer.close()

    def run(
        self,
        placements: list[tuple[int, str]],
        leaf: bool,
        *,
        reduce: bool = False,
        policy: Any = None,
        to_end: bool = False,
        explain: bool = False,
    ) -> Outcome:
        """Run once. `leaf`: no more placements will be derived from this run, so counting
        stops after the last placement (the rest runs untraced, at full speed). `reduce`:
        record the windows and scans the partial-order reduction needs. `policy`: choose
        placements while running (PCT); the ones made are in `Outcome.placed`. `explain`: log
        every access of the run (`Outcome.log`) and keep each placement's window."""
        self.runs += 1
        if self.runs % 200 == 0:
            # The runs' garbage (cycles of tasks, coroutines, loops and their fds) is young,
            # so collecting the young generations frees it without scanning every object of
            # the process. Twice: what a weak-keyed registry kept (a loop's doorbell, and its
            # eventfd) is freed only once its key died in the first pass, and must still be
            # young then, or it would wait for a full collection (and leak fds meanwhile).
            self._forget_world()
            gc.collect(0)
            gc.collect(1)
        if self.quiet:
            return self._run_once(placements, leaf, reduce or explain, policy, to_end, explain)
        with quiet_abandoned_coroutines():
            return self._run_once(placements, leaf, reduce or explain, policy, to_end, explain)

    def _run_once(
        self,
        placements: list[tuple[int, str]],
        leaf: bool,
        reduce: bool,
        policy: Any,
        to_end: bool,
        explain: bool,
    ) -> Outcome:
        try:
            return self._run(list(placements), leaf, reduce, policy, to_end, explain)
        except (_Retrace, _Livelock):
            # Delivered after the run had dealt with its end (a watchdog race): the run is
            # made again, counting to its end, where the engine sees every spin.
            self._unwatch()
            self._reap_threads()
            self.trace_to_end = True
            return self._run(list(placements), leaf, reduce, policy, True, explain)

    # -- one run ------------------------------------------------------------------------------

    def _run(
        self,
        placements: list[tuple[int, str]],
        leaf: bool,
        reduce: bool,
        policy: Any,
        to_end: bool,
        explain: bool = False,
    ) -> Outcome:
        out = Outcome()
        self._to_end = to_end or self.trace_to_end or explain
        self._log: list[tuple[int, str, Key, int | None, bool, CodeType | None, int]] | None = (
            [] if explain else None
        )
        out.log = self._log
        self._out = out
        self._placements = placements
        self._policy = policy
        self._k = 0
        self._leaf = leaf
        self._reduce = reduce
        self._stopped = False
        self._past_stop = False  # see `_stop_counting`
        self._horizon: int | None = None
        self._active = TASK  # which OS-thread context holds the CPU
        self._stacks: dict[str, list[str]] = {TASK: [TASK]}  # handler nesting, per context
        # One semaphore per OS thread that holds the CPU in turn; made with the first thread.
        self._batons: dict[str, threading.Semaphore] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._thread_ids: dict[str, int] = {TASK: threading.get_ident()}
        self._finished: set[str] = set()
        self._fired: set[str] = set()
        self._deadlock: str | None = None
        self._stranded: str | None = None
        self._seen = 0  # firings the scheduler's idle step has already seen
        self._windows: list[_Window] = []
        self._scans: list[_Scan] = []
        self._recording = False
        self._in_engine = False
        self._spins = 0
        self._kicked: list[Any] = []
        self._reaping = False
        self._retrace = False
        self._untraced_since = 0.0
        self._task_ended = False
        self._pending_pends: list[str] = []  # lines whose pend() is running, innermost last
        self._ran_now: set[str] = set()
        self._spin_text: str | None = None
        self.recorder.keep = []
        out.scans = [None] * len(placements)
        out.windows = {}
        on_idle, on_idle_fd, on_line_run, on_access, _ = self._hooks
        setup = Setup(self.scenario.port, on_idle, on_idle_fd)
        setup.on_line_run = on_line_run
        setup.on_access = on_access
        self._setup = setup
        try:
            self.scenario.build(setup)
        except Exception as error:
            self._close_world(setup)
            raise ScenarioError(
                f"scenario {self.scenario.name} raised while building its world: "
                f"{_name(error)}{_where(error)}"
            ) from error
        except BaseException:
            self._close_world(setup)
            raise
        if setup.task_fn is None:
            self._close_world(setup)
            raise ScenarioError(
                f"scenario {self.scenario.name} registered no task context: call s.run(main) "
                "or s.task(fn) in it"
            )
        for ctl in setup.controllers:
            ctl._kick = lambda c=ctl: self._kicked.append(c)
        contexts: dict[str, Context] = {}
        self._contexts = contexts
        threads = out.threads
        for c in setup.contexts:
            contexts[c.name] = c
            if c.kind == "thread":
                threads.append(c.name)
        out.context_names = names = list(contexts)
        for _, name in placements:
            if name not in contexts and name != TASK:
                self._close_world(setup)
                raise ValueError(
                    "schedule names {!r}, but the scenario's contexts are {}".format(
                        name, ", ".join(names) or "none"
                    )
                )
        self._spin_at = self.spin_points
        first = self._next_wanted()
        if leaf and not placements and policy is None and not self._to_end:
            self._stopped = True
            self._untraced_since = time.monotonic()
        else:
            self.tracer.start(first, self._hooks[4])
        self._running = True
        self._watching = True  # the watchdog's concern: from here to the last firing
        if explain and not self._stopped:
            self._recording = True
            self.tracer.record(True)
        self._deadline = time.monotonic() + self.run_seconds
        self._cpu_thread = threading.get_ident()
        try:
            setup.task_fn()
        except Deadlock as error:
            self._deadlock = str(error)
        except Stranded as error:
            self._stranded = str(error)
        except _Abandon:
            pass
        except _Retrace:
            self._retrace = True
        except _Livelock:
            self._fail("livelock", self._livelock_text())
        except StepLimit as error:
            self._fail("hang", f"task context ran away: {error}", _tb(error))
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                self._running = False
                self._stop()
                self._close_world(setup)
                raise
            self._fail("exception", f"task context raised {_name(error)}", _tb(error))
        finally:
            if not self._stopped and self._horizon is None:
                self._horizon = self.tracer.count()
            self._end_scans()
            if not self._stopped:
                self._stop_counting()
        out.points = self.tracer.count()
        self._running = False
        self._task_ended = True
        out.horizon = self._horizon if self._horizon is not None else 0
        # Contexts still unfired fire now (the run ended without going idle); a thread paused
        # by a spin step resumes again until it ends (or spins for good: a livelock).
        try:
            unfired = self._unfired()
            while unfired and self._out.failure is None:
                self._fire(unfired[0], None, None, 0, when="ended")
                unfired = self._unfired()
        except _Abandon:
            pass
        except _Livelock:
            self._fail("livelock", self._livelock_text())
        except _Retrace:
            self._retrace = True
        if not self._stopped:
            self._stop()
        self._unwatch()
        if self._threads:
            self._reap_threads()
        if self._retrace and not self._to_end:
            self._close_world(setup)
            self.trace_to_end = True  # this scenario can spin where nothing counted: from now on
            return self._run(placements, leaf, reduce, policy, True, explain)
        self._check(end=True)
        for kernel in setup.kernels:
            for task, task_error in kernel.errors:
                self._fail(
                    "exception", f"task {task.name} raised {_name(task_error)}", _tb(task_error)
                )
        for text in setup.loop_errors:
            self._fail("exception", f"the asyncio loop reported: {text}")
        if self._stranded is not None:
            self._fail("stranded", self._stranded)
        if self._deadlock is not None:
            self._fail("deadlock", f"deadlock: {self._deadlock}")
        if setup.controllers:
            self._check_lines()
        if policy is not None:
            out.placed = list(self._placements)
        self._close_world(setup)
        return out

    def _forget_world(self) -> None:
        """Drop every reference this engine keeps to the last run's world."""
        self._setup = None  # type: ignore[assignment]
        self._contexts = {}
        self._threads = {}
        self._batons = {}
        self._kicked = []
        self._windows = []
        self._scans = []
        self.recorder.keep = []
        self.recorder.flush_silently()

    def _close_world(self, setup: Setup) -> None:
        for kernel in setup.kernels:
            if not kernel.running:
                kernel.close()  # its cycles cut: refcounting frees the run's world
        for loop in setup.loops:
            try:
                loop.close()
            except Exception:
                pass
        for ctl in setup.controllers:
            try:
                ctl.close()
            except Exception:
                pass

    # -- inside the run -------------------------------------------------------------------

    def _stop(self) -> None:
        self.recorder.flush()
        self.tracer.record(False)
        self._recording = False
        self.tracer.stop()
        self._stopped = True
        self._untraced_since = time.monotonic()

    def _stop_counting(self) -> None:
        """Nothing the search needs is left to count: stop, unless the run counts to its end
        (to see spins). Then it goes on counting but starts no scan (`_close`), as if it had
        stopped: a run's outcome must not depend on `trace_to_end`, which an earlier run's
        spin set (history that the processes of `-j` do not share)."""
        if self._to_end:
            self._past_stop = True
        else:
            self._stop()

    def _next_wanted(self) -> int:
        """The next point the engine must see: a placement, a policy's point, a spin check."""
        k = self._k
        nxt = self._placements[k][0] if k < len(self._placements) else -1
        if self._policy is not None:
            p = self._policy.next_point()
            if p >= 0 and (nxt < 0 or p < nxt):
                nxt = p
        spin = self._spin_at
        if spin >= 0 and (nxt < 0 or spin < nxt):
            return spin
        return nxt

    def _on_point(self, point: int, code: CodeType, offset: int) -> None:
        self._in_engine = True
        try:
            self._deadline = time.monotonic() + self.run_seconds
            if self._policy is not None and point == self._policy.next_point():
                self.at = (code, offset)
                name = self._policy.choose(point, self)
                if name is not None:
                    self._placements.insert(self._k, (point, name))
                    self._out.scans.append(None)
            k = self._k
            if k < len(self._placements) and self._placements[k][0] == point:
                self._place(point, code, offset)
            elif point == self._spin_at:
                self._spin(point, code, offset)
            else:
                self.tracer.set_next(self._next_wanted())
        finally:
            self._in_engine = False

    def _place(self, point: int, code: CodeType, offset: int) -> None:
        k = self._k
        name = self._placements[k][1]
        self._k = k + 1
        if self._reduce:
            # A new placement: the scans still going constrain nothing (see search.py).
            for scan in self._scans:
                self._out.scans[scan.depth] = UNCONSTRAINED
            self._scans.clear()
        self.tracer.set_next(self._next_wanted())
        last = self._leaf and self._k >= len(self._placements) and self._policy is None
        if last and not self._reduce:
            self._stop_counting()
        if name == TASK:
            if self._active == TASK:
                return  # nothing to take back (a schedule from another version, say)
            thread = self._active
            self._out.fired.append(Preemption(TASK, point, code, offset, "thread " + thread, TASK))
            window = self._open(k, point)
            self._switch(TASK)
            # Here the thread has the CPU again: the window (task context's run) is over.
            if window is not None:
                self._close(window)
        else:
            self._fire(self._contexts[name], point, code, offset, depth=k)
        if not self._stopped:
            self.tracer.set_next(self._next_wanted())

    def _fire(
        self,
        ctx: Context,
        point: int | None,
        code: CodeType | None,
        offset: int,
        depth: int | None = None,
        when: str = "went idle",
    ) -> None:
        stack = self._stacks[self._active]
        self._fired.add(ctx.name)
        top = stack[-1]
        inside = "task context" if top == TASK else f"{_kind(self._contexts[top])} {top}"
        resumed = ctx.name in self._threads
        kind = _kind(ctx)
        fired = Preemption(ctx.name, point, code, offset, inside, kind, resumed, when=when)
        self._out.fired.append(fired)
        window = self._open(depth, point) if depth is not None and point is not None else None
        try:
            if ctx.kind == "thread":
                if ctx.name not in self._finished:
                    if point is None:  # not a placement: the search must know who runs
                        self._out.switches.append((self.tracer.count(), self._k, ctx.name, "run"))
                    self._switch(ctx.name)
                return
            stack.append(ctx.name)
            self._pending_pends.append(ctx.name)
            try:
                self._call(ctx.line.pend if ctx.line is not None else ctx.fn)
            except (_Abandon, _Livelock, _Retrace, KeyboardInterrupt):
                raise
            except BaseException as error:
                self._fail("exception", f"handler {ctx.name} raised {_name(error)}", _tb(error))
            finally:
                stack.pop()
                self._pending_pends.pop()
            if ctx.line is not None and ctx.name not in self._ran_now:
                fired.note = "stayed pending: " + _masked(ctx.line)
        finally:
            if window is not None:
                self._close(window)
            if self._policy is not None and not self._stopped:
                self._policy.changed(self)
                self.tracer.set_next(self._next_wanted())

    def _call(self, fn: Callable[[], object]) -> None:
        """Run interrupt code (or a thread's body) as user code: traced, recorded."""
        self._in_engine = False
        try:
            if self._stopped:
                fn()
            else:
                self.tracer.call(fn)
        finally:
            self._in_engine = True

    # -- what a policy (PCT, the race-directed first run) may look at ---------------------

    def world(self) -> Setup:
        """The run's `Setup`: its contexts and task context."""
        return self._setup

    def past_horizon(self) -> bool:
        """A context has fired unplaced (or task context ended): no placement of the
        exhaustive tree lies beyond this."""
        return self._horizon is not None

    def finished_threads(self) -> set[str]:
        """The foreign threads that have run to their end."""
        return set(self._finished)

    def running_thread(self) -> str | None:
        """The foreign thread that has the CPU (None: task context has it)."""
        return None if self._active == TASK else self._active

    def running(self) -> str:
        """The context that has the CPU: a handler on top of its stack, a thread, task."""
        return self._stacks[self._active][-1]

    def placeable(self) -> list[str]:
        """The contexts a placement could name now."""
        names = []
        for c in self._setup.contexts:
            if c.kind == "thread":
                if c.name not in self._finished and c.name != self._active:
                    names.append(c.name)
            elif c.name not in self._fired:
                names.append(c.name)
        if self._active != TASK:
            names.append(TASK)
        return names

    # -- handlers of a controller -------------------------------------------------------

    def _line_ran(self, name: str) -> None:
        """A line's handler starts (called by the wrapper Setup puts around it)."""
        if name in self._pending_pends:
            self._ran_now.add(name)  # it ran before its own pend() returned
            return
        point = self.tracer.count() if not self._stopped else None
        code, offset = _user_frame()
        self._out.fired.append(
            Preemption(name, point, code, offset, "", "ran", note=_why_now(self._setup))
        )

    def _check_lines(self) -> None:
        for ctx in self._setup.contexts:
            line = ctx.line
            if line is None:
                continue
            waiting = line.pends - line.runs - line.merged
            if waiting > 0:
                self._fail(
                    "stuck",
                    f"handler {ctx.name} (priority {line.priority}) was pended and never ran: "
                    + _masked(line),
                )

    # -- footprints for the partial-order reduction -----------------------------------------

    def _open(self, depth: int | None, point: int | None) -> _Window | None:
        if not self._reduce or depth is None or point is None or self._stopped or self._past_stop:
            return None
        window = _Window(depth, point)
        self._windows.append(window)
        self._out.windows[depth] = window.fp
        if not self._recording:
            self._recording = True
            self.tracer.record(True)
        return window

    def _close(self, window: _Window) -> None:
        self.recorder.flush()
        if window in self._windows:
            self._windows.remove(window)
        if self._stopped or self._past_stop:
            return
        self._scans.append(_Scan(window.depth, window.point, self.tracer.count(), window.fp))

    def _access(
        self,
        key: Key,
        ident: int | None,
        write: bool,
        code: CodeType | None,
        offset: int,
        at: int | None = None,
    ) -> None:
        """One access, made when the point count was `at` (None: now)."""
        if self._in_engine:
            return
        n = self.tracer.count() if at is None else at
        if self._log is not None:
            who = self._stacks[self._active][-1]
            self._log.append((n, who, key, ident, write, code, offset))
        opaque = key[0] == "*"
        for w in self._windows:
            if opaque:
                w.fp.make_opaque(code, offset)
            else:
                w.fp.add(key, ident, write, code, offset)
        scans = self._scans
        if scans:
            for s in scans[:]:
                if (not s.fp.empty) if opaque else s.fp.touches(key, ident, write):
                    self._out.scans[s.depth] = s.base + (n - s.n0)
                    scans.remove(s)
            if not scans:
                self._maybe_stop()

    def _note(self, key: Key, write: bool) -> None:
        """An access the scenario's scheduler reports itself (a select() on the loop's fds)."""
        if self._recording:
            self._access(key, None, write, None, 0)

    def _opaque_event(self) -> None:
        """Something no footprint can describe (an idle step): every window and scan ends."""
        self.recorder.flush()
        for w in self._windows:
            w.fp.make_opaque()
        self._end_scans()

    def _end_scans(self) -> None:
        if not self._scans:
            return
        n = self.tracer.count()
        for s in self._scans:
            self._out.scans[s.depth] = s.base + (n - s.n0)
        self._scans.clear()

    def _maybe_stop(self) -> None:
        if self._windows or self._scans or self._log is not None:
            return
        if self._recording:
            self._recording = False
            self.tracer.record(False)
        last = self._leaf and self._k >= len(self._placements) and self._policy is None
        if last:
            self._stop_counting()

    # -- foreign threads: real OS threads that pass one baton, so exactly one runs ----------

    def _switch(self, to: str) -> None:
        """Give the CPU to `to` (task context or a foreign thread); return when it comes back."""
        me = self._active
        if to != TASK and to not in self._threads:
            self._start_thread(self._contexts[to])
        self._active = to
        self._cpu_thread = self._thread_ids.get(to, self._cpu_thread)
        self._spin_at = self.tracer.count() + self.spin_points if not self._stopped else -1
        self._batons[to].release()
        timeout = self.run_seconds + _BATON_TIMEOUT  # the watchdog speaks first
        if not self._batons[me].acquire(timeout=timeout):
            self._fail("hang", f"{to} did not give the CPU back within {timeout:g} s")
            raise _Abandon
        if self._reaping:
            raise _Abandon  # the run is over: this paused thread unwinds and ends
        self._active = me
        self._cpu_thread = self._thread_ids.get(me, threading.get_ident())
        if not self._stopped:
            self._spin_at = self.tracer.count() + self.spin_points
            self.tracer.set_next(self._next_wanted())
        if me == TASK and self._kicked:
            self._dispatch_kicked()

    def _reap_threads(self) -> None:
        """End the threads of this run that never finished (paused by a take-back or a spin
        step the run did not come back to), so none wakes up during a later run."""
        self._reaping = True
        try:
            for name, thread in self._threads.items():
                if name not in self._finished and thread.is_alive():
                    self._batons[name].release()
                    thread.join(timeout=1.0)
        finally:
            self._reaping = False

    def _dispatch_kicked(self) -> None:
        """A foreign thread pended a line: the controller's thread dispatches it at its next
        instruction, as CPython runs the kick signal's handler."""
        kicked, self._kicked = self._kicked, []
        for ctl in dict.fromkeys(kicked):
            if not ctl.closed:
                self._call(ctl.dispatch)

    def _start_thread(self, ctx: Context) -> None:
        if TASK not in self._batons:
            self._batons[TASK] = threading.Semaphore(0)
        baton = self._batons[ctx.name] = threading.Semaphore(0)
        self._stacks[ctx.name] = [ctx.name]

        def main() -> None:
            self._thread_ids[ctx.name] = threading.get_ident()
            baton.acquire()
            if self._reaping:
                return
            self._cpu_thread = threading.get_ident()
            try:
                if not self._stopped:
                    self.tracer.resume()  # settrace is per thread; monitoring is global
                self._call(ctx.fn)
            except _Livelock:
                self._fail("livelock", self._livelock_text())
            except _Retrace:
                self._retrace = True  # the task side ends the run and makes it again
            except _Abandon:
                pass
            except BaseException as error:
                self._fail("exception", f"thread {ctx.name} raised {_name(error)}", _tb(error))
            finally:
                self._out.thread_end[ctx.name] = self.tracer.count()
                self._out.switches.append((self.tracer.count(), self._k, ctx.name, "end"))
                self._finished.add(ctx.name)
                self._active = TASK
                self._batons[TASK].release()  # the CPU goes back to task context

        thread = threading.Thread(target=main, name=f"irqio-check-{ctx.name}", daemon=True)
        self._threads[ctx.name] = thread
        thread.start()
        # Wait until the thread knows its id, so the watchdog can reach it.
        for _ in range(1000):
            if ctx.name in self._thread_ids:
                break
            time.sleep(0.0001)

    # -- spinning ---------------------------------------------------------------------------

    def _spin(self, point: int, code: CodeType, offset: int) -> None:
        """`spin_points` points without an idle step: let another context run."""
        self._spins += 1
        self.trace_to_end = True  # later runs must see their spins too
        who = self._active
        stack = self._stacks[who]
        if self._spins > MAX_SPINS or len(stack) > 1:
            self._spin_text = (
                f"handler {stack[-1]} spun {self.spin_points} points without returning "
                "(interrupt context cannot wait for the code it interrupted)"
                if len(stack) > 1
                else None
            )
            raise _Livelock
        if who != TASK:
            if self._task_ended and not [c for c in self._unfired() if c.name != who]:
                self._spin_text = (
                    f"thread {who} spun {self.spin_points} points after task context ended, "
                    "and nothing is left that could end its wait"
                )
                raise _Livelock
            self._out.fired.append(
                Preemption(
                    f"thread {who} spun {self.spin_points} points at "
                    f"{short_path(code.co_filename)}:{_line(code, offset)}",
                    point,
                    code,
                    offset,
                    "",
                    "spin",
                    note="task context took the CPU back; not a placement",
                )
            )
            self._out.switches.append((self.tracer.count(), self._k, who, "pause"))
            self._switch(TASK)
            return
        unfired = self._unfired()
        if not unfired:
            raise _Livelock
        ctx = unfired[0]
        self._spin_at = self.tracer.count() + self.spin_points
        self.tracer.set_next(self._next_wanted())
        where = f"{short_path(code.co_filename)}:{_line(code, offset)}"
        self._fire(ctx, None, None, 0, when=f"spun {self.spin_points} points at {where}")
        self._spin_at = self.tracer.count() + self.spin_points
        self.tracer.set_next(self._next_wanted())

    def _livelock_text(self) -> str:
        if self._spin_text:
            return "livelock: " + self._spin_text
        if self._spins > MAX_SPINS:
            return (
                f"livelock: contexts kept spinning ({MAX_SPINS} times {self.spin_points} "
                "points without the scheduler going idle or a thread finishing)"
            )
        if self._spins:
            return (
                f"livelock: task context spun {self.spin_points} points and nothing is left "
                "that could end its wait"
            )
        return (
            f"livelock: no preemption point and no idle step for {self.run_seconds:g} s (a spin "
            "in code that is not traced, or a loop that never ends; trace its module with "
            "modules=... to let the explorer interleave it)"
        )

    def _watchdog_fire(self) -> None:
        """Called by the watchdog thread: a run that stopped counting and goes on is made
        again counting (it may spin); one that reaches no point at all is a livelock."""
        with self._watch_lock:  # the run cannot end meanwhile (see `_unwatch`)
            if not self._watching:
                return
            now = time.monotonic()
            untraced = self._stopped and not self._to_end and not self._retrace
            if untraced and self._untraced_since and now - self._untraced_since > UNTRACED_SECONDS:
                self._untraced_since = 0.0
                self._retrace = True
                _inject(self._cpu_thread, _Retrace)  # made again, counting (see _Retrace)
            elif now > self._deadline:
                self._deadline = now + self.run_seconds
                _inject(self._cpu_thread, _Livelock)

    def _unwatch(self) -> None:
        """The run is over: no injection from now on. One made just before is delivered at
        the caller's next call or loop, still inside `Engine.run`, which makes the run again.
        (It is not cleared with PyThreadState_SetAsyncExc(id, NULL): on 3.11 that leaves the
        eval breaker set for good when nothing was pending.)"""
        with self._watch_lock:
            self._watching = False

    # -- the idle step ------------------------------------------------------------------------

    def _on_idle(self, dt: float | None) -> bool:
        """The scheduler is about to sleep (`dt` None: with no deadline). True if a context
        fired (like WFI: any interrupt ends the sleep)."""
        if self._active != TASK or len(self._stacks[TASK]) > 1 or not self._running:
            return False  # a handler does not idle; nor does the scenario while it is built
        if len(self._out.fired) > self._seen:
            # Something fired since the scheduler last looked (maybe in this very idle step,
            # after its last check): like WFI with an interrupt pending, do not sleep; let the
            # scheduler look again before another line may fire.
            self._seen = len(self._out.fired)
            return True
        fired = self._idle_step(dt)
        self._seen = len(self._out.fired)
        return fired

    def _on_idle_fd(self, dt: float | None) -> bool:
        """The asyncio loop is about to sleep in select(): fire one unfired context. Unlike
        WFI, a firing does not end the sleep by itself (CPython retries select() after a
        signal handler); the loop checks its fds afterwards."""
        if self._active != TASK or len(self._stacks[TASK]) > 1 or not self._running:
            return False
        return self._idle_step(dt)

    def _idle_step(self, dt: float | None) -> bool:
        was = self._in_engine
        self._in_engine = True
        try:
            self._deadline = time.monotonic() + self.run_seconds
            if self._recording:
                self._opaque_event()
            fired = False
            paused = not self._stopped
            if paused:
                self.tracer.pause()
            try:
                self._check(end=False)
                if dt is None:
                    unfired = self._unfired()
                    if unfired:
                        if self._horizon is None:
                            self._horizon = self.tracer.count()
                        # Nothing can be placed after the horizon: the rest runs untraced.
                        self._end_scans()
                        if not self._stopped:
                            paused = False
                            self._stop_counting()
                            if self._to_end:
                                self.tracer.resume()  # count on: spins must be seen
                        # One line per idle: the scheduler services it before the next fires.
                        self._fire(unfired[0], None, None, 0)
                        fired = True
            finally:
                if paused:
                    self.tracer.resume()
            if not self._stopped:
                self._spin_at = self.tracer.count() + self.spin_points
                self.tracer.set_next(self._next_wanted())
            return fired
        finally:
            self._in_engine = was

    def _unfired(self) -> list[Context]:
        return [
            c
            for c in self._setup.contexts
            if c.name not in self._fired or (c.kind == "thread" and c.name not in self._finished)
        ]

    def _check(self, end: bool) -> None:
        if self._out.failure is not None:
            return
        for inv in self._setup.invariants:
            if not (end or inv.always):
                continue
            try:
                ok = inv.check()
            except AssertionError as error:
                ok = False
                self._fail(
                    "invariant", "invariant broke: {} ({})".format(inv.text, error or "assert")
                )
            except Exception as error:
                self._fail("invariant", f"invariant raised {_name(error)}: {inv.text}", _tb(error))
                return
            if not ok:
                when = "at the end" if end else "at an idle step"
                text = f"invariant broke {when}: {inv.text}"
                if self._deadlock is not None:
                    text += f" (the scheduler ended in deadlock: {self._deadlock})"
                if self._stranded is not None:
                    text += f" ({self._stranded})"
                self._fail("invariant", text)
                return

    def _fail(self, kind: str, text: str, detail: str = "") -> None:
        if self._out.failure is None:
            self._out.failure = Failure(kind, text, detail)


# -- helpers ---------------------------------------------------------------------------------


def _line(code: CodeType, offset: int) -> int:
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


def _kind(ctx: Context) -> str:
    return "handler" if ctx.kind == "line" else ctx.kind


def _masked(line: Any) -> str:
    ctl = line._ctl
    holder = getattr(ctl, "_holder", None)
    held = f" ({holder.name})" if holder is not None else ""
    return (
        f"running priority {ctl.running_priority}, ceiling {ctl.ceiling}{held}, "
        f"its priority {line.priority}"
    )


def _why_now(setup: Setup) -> str:
    for ctl in setup.controllers:
        current = ctl.current_line
        if current is not None:
            return (
                f"pended earlier; dispatched once what masked it let go (ceiling now {ctl.ceiling})"
            )
    return "pended earlier, masked until now"


def _user_frame() -> tuple[CodeType | None, int]:
    """The innermost frame outside the explorer and the controller: where a pended handler
    finally ran (the `with` block that released a resource, a handler that returned)."""
    frame: Any = sys._getframe(2)
    own = os.path.dirname(os.path.abspath(__file__)) + os.sep
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not frame.f_code.co_filename.startswith(own) and not module.startswith(
            ("irqio.controller", "irqio.resource")
        ):
            return frame.f_code, frame.f_lasti
        frame = frame.f_back
    return None, 0


def _inject(thread_id: int, error: type[BaseException]) -> None:
    """Raise `error` in another thread at its next call or loop iteration."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(error))


class _Watchdog:
    """One daemon thread for every engine: stops runs that reach no point (see RUN_SECONDS)."""

    _engines: ClassVar[list[Engine]] = []
    _thread: threading.Thread | None = None
    _lock = threading.Lock()

    @classmethod
    def watch(cls, engine: Engine) -> None:
        with cls._lock:
            cls._engines.append(engine)
            if cls._thread is None or not cls._thread.is_alive():
                cls._thread = threading.Thread(
                    target=cls._loop, name="irqio-check-watchdog", daemon=True
                )
                cls._thread.start()

    @classmethod
    def forget(cls, engine: Engine) -> None:
        with cls._lock:
            if engine in cls._engines:
                cls._engines.remove(engine)

    @classmethod
    def _loop(cls) -> None:
        while True:
            time.sleep(0.25)
            with cls._lock:
                engines = list(cls._engines)
            for engine in engines:
                engine._watchdog_fire()


def _name(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _where(error: BaseException) -> str:
    """' (at file:line)' of the innermost frame of a traceback, outside the explorer."""
    tb = error.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    return f" (at {short_path(last.tb_frame.f_code.co_filename)}:{last.tb_lineno})"


def _tb(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))
