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

from irqio.kernel import Kernel, VirtualClock

PORTS = ("kernel", "asyncio")


class Context:
    """A handler (nested, runs to completion) or a foreign thread (stretch: interleaves)."""

    def __init__(self, name: str, fn: Callable[[], object], kind: str) -> None:
        self.name = name
        self.fn = fn
        self.kind = kind  # "handler" or "thread"


class Invariant:
    def __init__(self, check: Callable[[], object], text: str, always: bool) -> None:
        self.check = check
        self.text = text
        self.always = always


class Setup:
    """The builder handed to a scenario function. One per run."""

    def __init__(self, port: str, idle: Callable[[float | None], bool]) -> None:
        self.port = port
        self.idle = idle  # the hook a scheduler calls when it is about to sleep
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

    def handler(self, fn: Callable[[], object], name: str | None = None) -> None:
        """Interrupt-context code: fires once per run, at a point or when task context idles."""
        self._add(fn, name, "handler")

    def thread(self, fn: Callable[[], object], name: str | None = None) -> None:
        """A foreign context (another thread or core): it and task context interleave both
        ways, each able to preempt the other at any point."""
        self._add(fn, name, "thread")

    def _add(self, fn: Callable[[], object], name: str | None, kind: str) -> None:
        base = str(name or getattr(fn, "__name__", kind))
        if base == "<lambda>":
            base = kind
        taken = {c.name for c in self.contexts}
        unique, i = base, 2
        while unique in taken:
            unique, i = f"{base}{i}", i + 1
        self.contexts.append(Context(unique, fn, kind))

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

        loop = traced_loop(self.idle, self.loop_errors)
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
) -> Any:
    """Mark a function as a scenario (usable bare or with options).

    preemptions: the default bound for `explore` and `irqio check`.
    ports: run the same scenario on several ports ("kernel", "asyncio").
    modules: which modules' bytecodes are preemption points, replacing the default: the
        scenario's own file (written "@scenario"), irqio except irqio.check, and asyncio on
        the asyncio port. A package name covers its submodules.
    extra_modules: added to the default instead.
    """

    def wrap(build: Callable[[Setup], None]) -> Scenario:
        return Scenario(build, name, preemptions, port, ports, modules, extra_modules)

    if fn is not None:
        return wrap(fn)
    return wrap
