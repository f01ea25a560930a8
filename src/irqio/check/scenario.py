"""Scenarios: what the explorer runs, built fresh for every schedule.

A scenario is a function that takes a `Setup` and describes one small world::

    from irqio.check import scenario

    @scenario
    def two_waiters(s):
        flag = irqio.Flag()
        woke = []

        async def waiter(i):
            await flag.wait()
            woke.append(i)

        async def main():
            tasks = [s.create_task(waiter(i)) for i in range(2)]
            for t in tasks:
                await t

        s.run(main)                       # task context: main() on the scenario's port
        s.handler(flag.set)               # interrupt context: fires once per run
        s.at_end(lambda: sorted(woke) == [0, 1], "both waiters woke")

The explorer calls the function again for every schedule, so all state is made inside it.
Handlers not placed by the schedule fire when task context goes idle with nothing left to do,
one per idle step in the order they were added (or when it ends): each handler fires exactly
once per run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from irqio.controller.core import Line
from irqio.kernel import Kernel, VirtualClock

PORTS = ("kernel", "asyncio")


class ScenarioError(Exception):
    """A scenario raised while building its world (or is not a valid scenario): not a
    verdict about the code under test. The message says which and where."""


class Context:
    """A handler (nested, runs to completion), a line of a controller (a handler with a
    priority: pended, runs when the controller's rules let it) or a foreign thread
    (interleaves with task context both ways)."""

    def __init__(self, name: str, fn: Callable[[], object], kind: str, line: Any = None) -> None:
        self.name = name
        self.fn = fn
        self.kind = kind  # "handler", "line" or "thread"
        self.line = line  # the controller's Line, for kind "line"


class Invariant:
    def __init__(self, check: Callable[[], object], text: str, always: bool) -> None:
        self.check = check
        self.text = text
        self.always = always


def _no_line_run(name: str) -> None:
    pass


def _no_access(key: tuple[str, str], write: bool) -> None:
    pass


class Setup:
    """The builder handed to a scenario function. One per run."""

    def __init__(
        self,
        port: str,
        idle: Callable[[float | None], bool],
        idle_fd: Callable[[float | None], bool] | None = None,
    ) -> None:
        self.port = port
        self.idle = idle  # the hook a scheduler calls when it is about to sleep (WFI)
        # the asyncio loop's hook: a firing does not end select() by itself
        self.idle_fd = idle_fd if idle_fd is not None else idle
        # set by the engine: a line's handler starts; an access the scheduler reports
        self.on_line_run: Callable[[str], None] = _no_line_run
        self.on_access: Callable[[tuple[str, str], bool], None] = _no_access
        self.controllers: list[Any] = []
        self.task_fn: Callable[[], object] | None = None
        self.contexts: list[Context] = []
        self.invariants: list[Invariant] = []
        self.kernels: list[Kernel] = []
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.loop_errors: list[str] = []

    # -- what runs ------------------------------------------------------------------------

    def task(self, fn: Callable[[], object]) -> None:
        """Task-context code: runs once per schedule; preemption points happen inside it."""
        if self.task_fn is not None:
            raise ValueError("a scenario has one task-context entry point; call task() once")
        self.task_fn = fn

    def handler(
        self,
        fn: Callable[[], object],
        name: str | None = None,
        *,
        priority: int | None = None,
        uses: Sequence[Any] = (),
    ) -> None:
        """Interrupt-context code: fires once per run, at a point or when task context idles.

        Without `priority` it runs at once wherever it fires, nesting in anything (a handler
        of its own, unmaskable). With `priority` (1 = least urgent) it is a line of the
        scenario's controller (`controller()`), `uses` its resources: firing pends it, and it
        runs only above the running priority and the ceiling, as `irqio.Controller` decides;
        else it stays pending until the handler it waits behind returns or the resource
        that masks it is released. `fn` may also be a `Line` of that controller."""
        maybe_line: object = fn  # a Line is no plain callable to mypy
        if isinstance(maybe_line, Line):
            line: Any = fn
            self._add_line(line, name or line.name)
            return
        if priority is None:
            if uses:
                raise ValueError("s.handler(..., uses=...) needs a priority: uses= declares "
                                 "the resources of a controller line")  # fmt: skip
            self._add(fn, name, "handler")
            return
        ctl = self.controller()
        base = self._unique(str(name or getattr(fn, "__name__", "line")), "line")
        hook = self.on_line_run

        def run() -> object:
            hook(base)
            return fn()

        line = ctl.line(base, priority, run, uses)
        self.contexts.append(Context(base, fn, "line", line))

    def _add_line(self, line: Any, name: str) -> None:
        if line._ctl not in self.controllers:
            raise ValueError(
                f"line {line.name!r} belongs to a controller the scenario did not make: create "
                "it with s.controller().line(...) so the explorer can deliver its pends"
            )
        fn = line.handler
        hook = self.on_line_run
        base = self._unique(name, "line")

        def run() -> object:
            hook(base)
            return fn()

        line.handler = run
        self.contexts.append(Context(base, fn, "line", line))

    def controller(self) -> Any:
        """The scenario's `irqio.Controller` (one per run): lines given to `handler(...,
        priority=...)` live here; `with resource:` and `controller.critical()` in task or
        handler code mask them by its rules. Pends from a foreign thread are delivered when
        task context next gets the CPU (as the kick signal's handler would run)."""
        if not self.controllers:
            from irqio import Controller

            self.controllers.append(Controller(debug=False))
        return self.controllers[0]

    def thread(self, fn: Callable[[], object], name: str | None = None) -> None:
        """A foreign context (another thread or core): it and task context interleave both
        ways, each able to preempt the other at any point."""
        self._add(fn, name, "thread")

    def _add(self, fn: Callable[[], object], name: str | None, kind: str) -> None:
        unique = self._unique(str(name or getattr(fn, "__name__", kind)), kind)
        self.contexts.append(Context(unique, fn, kind))

    def _unique(self, base: str, kind: str) -> str:
        if base == "<lambda>":
            base = kind
        taken = {c.name for c in self.contexts}
        unique, i = base, 2
        while unique in taken:
            unique, i = f"{base}{i}", i + 1
        return unique

    # -- what must hold -----------------------------------------------------------------------

    def invariant(self, check: Callable[[], object], text: str) -> None:
        """Must hold whenever the scheduler goes idle, and at the end."""
        self.invariants.append(Invariant(check, text, True))

    def at_end(self, check: Callable[[], object], text: str) -> None:
        """Must hold when the run is over (after every handler has fired)."""
        self.invariants.append(Invariant(check, text, False))

    # -- schedulers wired to the explorer -----------------------------------------------------

    def kernel(self, max_steps: int = 100_000) -> Kernel:
        """A kernel on a virtual clock whose idle step is the explorer's idle hook."""
        kernel = Kernel(VirtualClock(on_idle=self.idle))
        kernel.max_steps = max_steps
        self.kernels.append(kernel)
        return kernel

    def asyncio_loop(self) -> asyncio.AbstractEventLoop:
        """A selector loop running asyncio's pure-Python `Task` and `Future`, so asyncio's own
        code is traced too; its selector calls the explorer's idle hook before sleeping."""
        from irqio.check.pyasyncio import traced_loop

        loop = traced_loop(self.idle_fd, self.loop_errors, self.on_access)
        self.loops.append(loop)
        return loop

    def run(self, main: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Task context = `main()` run to completion on this scenario's port."""
        if self.port == "kernel":
            kernel = self.kernel()
            self.task(lambda: kernel.run(main(), kernel.max_steps))
        else:
            loop = self.asyncio_loop()
            self.task(lambda: loop.run_until_complete(main()))

    def create_task(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Start a task on this scenario's port (call from inside `main`)."""
        if self.port == "kernel":
            return self.kernels[-1].create_task(coro)
        return asyncio.get_running_loop().create_task(coro)

    async def sleep(self, seconds: float) -> None:
        """Sleep on this scenario's port (virtual time on the kernel)."""
        if self.port == "kernel":
            await self.kernels[-1].sleep(seconds)
        else:
            await asyncio.sleep(seconds)


class Scenario:
    """A scenario function with its options. Made by `@scenario`."""

    def __init__(
        self,
        build: Callable[[Setup], None],
        name: str | None = None,
        preemptions: int = 1,
        port: str = "kernel",
        ports: Sequence[str] | None = None,
        modules: Sequence[str] | None = None,
        extra_modules: Sequence[str] = (),
        spin_points: int = 20_000,
        run_seconds: float = 10.0,
    ) -> None:
        for p in [port, *(ports or ())]:
            if p not in PORTS:
                raise ValueError("unknown port {!r}: choose from {}".format(p, ", ".join(PORTS)))
        self.build = build
        self.name = name or build.__name__
        self.preemptions = preemptions
        self.port = port
        self.ports = tuple(ports) if ports else (port,)
        self.modules = tuple(modules) if modules is not None else None
        self.extra_modules = tuple(extra_modules)
        self.spin_points = spin_points
        self.run_seconds = run_seconds
        self.__doc__ = build.__doc__
        self.__wrapped__ = build

    @property
    def file(self) -> str:
        return os.path.abspath(self.build.__code__.co_filename)

    def on(self, port: str) -> Scenario:
        """The same scenario bound to one port."""
        return Scenario(
            self.build,
            "{}[{}]".format(self.name.split("[")[0], port) if len(self.ports) > 1 else self.name,
            self.preemptions,
            port,
            None,
            self.modules,
            self.extra_modules,
            self.spin_points,
            self.run_seconds,
        )

    def variants(self) -> list[Scenario]:
        """One scenario per port it declares."""
        if len(self.ports) == 1:
            return [self if self.port == self.ports[0] else self.on(self.ports[0])]
        return [self.on(p) for p in self.ports]

    def __call__(self, s: Setup) -> None:
        self.build(s)

    def __repr__(self) -> str:
        return f"<Scenario {self.name} on {self.port}>"


def scenario(
    fn: Callable[[Setup], None] | None = None,
    *,
    name: str | None = None,
    preemptions: int = 1,
    port: str = "kernel",
    ports: Sequence[str] | None = None,
    modules: Sequence[str] | None = None,
    extra_modules: Sequence[str] = (),
    spin_points: int = 20_000,
    run_seconds: float = 10.0,
) -> Any:
    """Mark a function as a scenario (usable bare or with options).

    preemptions: the default bound for `explore` and `irqio check`.
    ports: run the same scenario on several ports ("kernel", "asyncio").
    modules: which modules' bytecodes are preemption points, replacing the default: the
        scenario's own file (written "@scenario"), irqio except irqio.check, and asyncio on
        the asyncio port. A package name covers its submodules.
    extra_modules: added to the default instead.
    spin_points: points a context may run without the scheduler idling before the explorer
        calls it spinning and lets another context run (see docs/check.md, "Spinning").
    run_seconds: a run that reaches no point for this long is stopped and reported as a
        livelock (a spin in code that is not traced).
    """

    def wrap(build: Callable[[Setup], None]) -> Scenario:
        return Scenario(
            build, name, preemptions, port, ports, modules, extra_modules, spin_points,
            run_seconds,
        )  # fmt: skip

    if fn is not None:
        return wrap(fn)
    return wrap
