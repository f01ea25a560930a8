"""One run of a scenario under one schedule.

A schedule is a list of placements `(point, context name)` in increasing point order: at that
point the named handler preempts whatever is running (task context, or a handler that fired
earlier: handlers nest). Contexts the schedule does not place fire when task context goes idle
with nothing left to do, or when it ends. The first idle firing is the run's *horizon*: only
points before it can hold a placement, so an exhaustive search places handlers in
`[last placement + 1, horizon)`.

The engine records where each handler landed (code object and instruction offset; turned into
file:line and source text only for reports) and the first failure: an exception in any
context, an invariant that does not hold, a scheduler stuck with tasks waiting (deadlock), or
one that ran past its step budget (a hang, e.g. a corrupted task queue that loops).
"""

from __future__ import annotations

import contextlib
import dis
import gc
import linecache
import os
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from types import CodeType

from irqio.check.scenario import Context, Scenario, Setup
from irqio.check.tracer import Tracer
from irqio.kernel import Deadlock, StepLimit

TASK = "task"
SELF = "@scenario"  # in a scenario's `modules`: the file that defines the scenario
_BATON_TIMEOUT = 10.0


@contextlib.contextmanager
def quiet_abandoned_coroutines() -> Iterator[None]:
    """A run that fails or deadlocks early drops coroutines it never started (`main()` before
    the kernel stepped it): their "never awaited" warning says nothing the report does not."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        yield


class _Abandon(BaseException):
    """Unwinds a run whose foreign thread never gave the CPU back."""


class Preemption:
    """Where one context fired: at a point (a bytecode boundary) or when task context idled."""

    def __init__(
        self,
        context: str,
        point: int | None,
        code: CodeType | None,
        offset: int,
        inside: str,
        kind: str = "handler",
        resumed: bool = False,
    ) -> None:
        self.context = context
        self.kind = kind  # "handler", "thread", or "task" (task context takes the CPU back)
        self.resumed = resumed  # a paused thread getting the CPU again
        self.point = point  # None: fired at idle / end, not at a placed point
        self.code = code
        self.offset = offset
        self.inside = inside  # what it preempted, in words: "task context", "handler isr", ...

    @property
    def placed(self) -> bool:
        return self.point is not None

    @property
    def filename(self) -> str:
        return self.code.co_filename if self.code is not None else ""

    @property
    def lineno(self) -> int:
        code = self.code
        if code is None:
            return 0
        for start, end, line in code.co_lines():
            if start <= self.offset < end and line is not None:
                return line
        return code.co_firstlineno

    @property
    def function(self) -> str:
        return self.code.co_qualname if self.code is not None else ""

    @property
    def source(self) -> str:
        return linecache.getline(self.filename, self.lineno).strip() if self.code else ""

    @property
    def opcode(self) -> str:
        if self.code is None:
            return ""
        for ins in dis.get_instructions(self.code):
            if ins.offset == self.offset:
                return ins.opname
        return "?"

    @property
    def where(self) -> str:
        if self.code is None:
            return "idle"
        return f"{_short(self.filename)}:{self.lineno}"

    def describe(self) -> str:
        if self.code is None:
            verb = "resumed" if self.resumed else "ran" if self.kind == "thread" else "fired"
            return f"{self.kind} {self.context} {verb} when task context went idle (not placed)"
        who = "task context" if self.kind == TASK else f"{self.kind} {self.context}"
        if self.resumed:
            who += " (resumed)"
        return (
            f"{who} preempted {self.inside} at point {self.point}, {self.where} in "
            f"{self.function}(), before {self.opcode} (offset {self.offset}):\n    {self.source}"
        )


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


class Failure:
    def __init__(self, kind: str, text: str, detail: str = "") -> None:
        self.kind = kind  # "exception", "invariant", "deadlock", "hang"
        self.text = text
        self.detail = detail


class Outcome:
    def __init__(self) -> None:
        self.failure: Failure | None = None
        self.fired: list[Preemption] = []
        self.horizon = 0  # points before the first unplaced firing
        self.context_names: list[str] = []
        self.threads: list[str] = []  # the foreign-thread contexts among them
        self.thread_end: dict[str, int] = {}  # point count when each thread finished


def include_filter(scenario: Scenario) -> Callable[[str], bool]:
    """Which files' bytecodes are preemption points."""
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
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise ValueError(f"module {name!r} (to trace) cannot be found")
        if spec.submodule_search_locations:
            dirs += [os.path.abspath(d) + os.sep for d in spec.submodule_search_locations]
        elif spec.origin:
            files.add(os.path.abspath(spec.origin))
    dirs_t = tuple(dirs)
    excluded_t = tuple(excluded)

    def include(filename: str) -> bool:
        path = os.path.abspath(filename)
        if path.startswith(excluded_t):
            return False
        return path in files or path.startswith(dirs_t)

    return include


class Engine:
    """Runs one scenario under many schedules, reusing one tracer."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.tracer = Tracer(include_filter(scenario))
        self.runs = 0

    def close(self) -> None:
        self.tracer.close()

    def run(self, placements: list[tuple[int, str]], leaf: bool) -> Outcome:
        """Run once. `leaf`: no more placements will be derived from this run, so counting
        stops after the last placement (the rest runs untraced, at full speed)."""
        self.runs += 1
        with quiet_abandoned_coroutines():
            if self.runs % 200 == 0:
                gc.collect()
            return self._run(placements, leaf)

    def _run(self, placements: list[tuple[int, str]], leaf: bool) -> Outcome:
        out = Outcome()
        self._out = out
        self._placements = placements
        self._k = 0
        self._leaf = leaf
        self._stopped = False
        self._horizon: int | None = None
        self._active = TASK  # which OS-thread context holds the CPU
        self._stacks: dict[str, list[str]] = {TASK: [TASK]}  # handler nesting, per context
        self._batons: dict[str, threading.Semaphore] = {TASK: threading.Semaphore(0)}
        self._threads: dict[str, threading.Thread] = {}
        self._finished: set[str] = set()
        self._fired: set[str] = set()
        self._deadlock: str | None = None
        self._running = False
        self._seen = 0  # firings the scheduler's idle step has already seen
        setup = Setup(self.scenario.port, self._on_idle)
        self._setup = setup
        self.scenario.build(setup)
        if setup.task_fn is None:
            raise ValueError(
                f"scenario {self.scenario.name} registered no task context (s.task or s.run)"
            )
        names = [c.name for c in setup.contexts]
        out.context_names = names
        out.threads = [c.name for c in setup.contexts if c.kind == "thread"]
        for _, name in placements:
            if name not in names and name != TASK:
                raise ValueError(
                    "schedule names {!r}, but the scenario's contexts are {}".format(
                        name, ", ".join(names) or "none"
                    )
                )
        self._contexts = {c.name: c for c in setup.contexts}
        first = placements[0][0] if placements else -1
        if leaf and not placements:
            self._stopped = True
        else:
            self.tracer.start(first, self._on_point)
        self._running = True
        try:
            setup.task_fn()
        except Deadlock as error:
            self._deadlock = str(error)
        except _Abandon:
            pass
        except StepLimit as error:
            self._fail("hang", f"task context ran away: {error}", _tb(error))
        except BaseException as error:
            self._fail("exception", f"task context raised {_name(error)}", _tb(error))
        finally:
            if not self._stopped:
                if self._horizon is None:
                    self._horizon = self.tracer.count()
                self._stop()
        self._running = False
        out.horizon = self._horizon if self._horizon is not None else 0
        # Contexts still unfired fire now (the run ended without going idle).
        try:
            for ctx in self._unfired():
                self._fire(ctx, None, None, 0)
        except _Abandon:
            pass
        self._check(end=True)
        for kernel in setup.kernels:
            for task, task_error in kernel.errors:
                self._fail(
                    "exception", f"task {task.name} raised {_name(task_error)}", _tb(task_error)
                )
        for text in setup.loop_errors:
            self._fail("exception", f"the asyncio loop reported: {text}")
        if self._deadlock is not None:
            self._fail("deadlock", f"deadlock: {self._deadlock}")
        for loop in setup.loops:
            try:
                loop.close()
            except Exception:
                pass
        return out

    # -- inside the run -------------------------------------------------------------------

    def _stop(self) -> None:
        self.tracer.stop()
        self._stopped = True

    def _on_point(self, point: int, code: CodeType, offset: int) -> None:
        placements = self._placements
        name = placements[self._k][1]
        self._k += 1
        nxt = placements[self._k][0] if self._k < len(placements) else -1
        self.tracer.set_next(nxt)
        if nxt < 0 and self._leaf:
            self._stop()
        if name == TASK:
            if self._active != TASK:  # a foreign thread gives the CPU back to task context
                inside = "thread " + self._active
                self._out.fired.append(Preemption(TASK, point, code, offset, inside, TASK))
                self._switch(TASK)
        else:
            self._fire(self._contexts[name], point, code, offset)

    def _fire(self, ctx: Context, point: int | None, code: CodeType | None, offset: int) -> None:
        stack = self._stacks[self._active]
        self._fired.add(ctx.name)
        top = stack[-1]
        inside = "task context" if top == TASK else f"{self._contexts[top].kind} {top}"
        resumed = ctx.name in self._threads
        self._out.fired.append(Preemption(ctx.name, point, code, offset, inside, ctx.kind, resumed))
        if ctx.kind == "thread":
            if ctx.name not in self._finished:
                self._switch(ctx.name)
            return
        stack.append(ctx.name)
        try:
            if self._stopped:
                ctx.fn()
            else:
                sys.call_tracing(ctx.fn, ())  # keep counting inside: handlers can nest
        except BaseException as error:
            self._fail("exception", f"handler {ctx.name} raised {_name(error)}", _tb(error))
        finally:
            stack.pop()

    # -- foreign threads: real OS threads that pass one baton, so exactly one runs ----------

    def _switch(self, to: str) -> None:
        """Give the CPU to `to` (task context or a foreign thread); return when it comes back."""
        me = self._active
        if to != TASK and to not in self._threads:
            self._start_thread(self._contexts[to])
        self._active = to
        self._batons[to].release()
        if not self._batons[me].acquire(timeout=_BATON_TIMEOUT):
            self._fail("hang", f"{to} did not give the CPU back within {_BATON_TIMEOUT} s")
            raise _Abandon
        self._active = me

    def _start_thread(self, ctx: Context) -> None:
        baton = self._batons[ctx.name] = threading.Semaphore(0)
        self._stacks[ctx.name] = [ctx.name]

        def main() -> None:
            baton.acquire()
            try:
                if not self._stopped:
                    self.tracer.resume()  # settrace is per thread; monitoring is global
                    sys.call_tracing(ctx.fn, ())
                else:
                    ctx.fn()
            except BaseException as error:
                self._fail("exception", f"thread {ctx.name} raised {_name(error)}", _tb(error))
            finally:
                self._out.thread_end[ctx.name] = self.tracer.count()
                self._finished.add(ctx.name)
                self._active = TASK
                self._batons[TASK].release()  # the CPU goes back to task context

        thread = threading.Thread(target=main, name=f"irqio-check-{ctx.name}", daemon=True)
        self._threads[ctx.name] = thread
        thread.start()

    def _on_idle(self, dt: float | None) -> bool:
        """The scheduler is about to sleep (`dt` None: with no deadline). True if a context
        fired (an interrupt ends the sleep)."""
        if self._active != TASK or len(self._stacks[TASK]) > 1 or not self._running:
            return False  # a handler does not idle; nor does the scenario while it is built
        if len(self._out.fired) > self._seen:
            # Something fired since the scheduler last looked (maybe in this very idle step,
            # after its last check): like WFI with an interrupt pending, do not sleep; let the
            # scheduler look again before another line may fire.
            self._seen = len(self._out.fired)
            return True
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
                    paused = False
                    self._stop()
                    # One line per idle: the scheduler services it before the next one fires.
                    self._fire(unfired[0], None, None, 0)
                    self._seen = len(self._out.fired)
                    fired = True
        finally:
            if paused:
                self.tracer.resume()
        return fired

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
                self._fail("invariant", text)
                return

    def _fail(self, kind: str, text: str, detail: str = "") -> None:
        if self._out.failure is None:
            self._out.failure = Failure(kind, text, detail)


def _name(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _tb(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))
