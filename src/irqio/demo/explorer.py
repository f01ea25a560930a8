"""Demo section: the explorer finds MicroPython #5795 by itself, then passes irqio's Event.

The same small world twice, on irqio's kernel (virtual clock): two tasks wait on an event while
a third sleeps in a loop, so task context keeps relinking the task queue; one handler sets the
event. First with MicroPython's naive `Event` (`set()` pushes the waiters onto the task queue):
the explorer tries the handler at every bytecode boundary and stops at the one that loses a
task, showing its source line. Then with `irqio.Event` (the handler only publishes and rings
the doorbell): every point passes.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

import irqio
from irqio.check import Result, Setup, explore, scenario
from irqio.kernel import Task
from irqio.kernel.naive_event import NaiveEvent


def _world(s: Setup, naive: bool) -> None:
    k = s.kernel()
    event: NaiveEvent | irqio.Event = NaiveEvent(k) if naive else irqio.Event()
    woke: list[int] = []

    async def waiter(i: int) -> None:
        await event.wait()
        woke.append(i)

    async def ticker() -> None:
        for _ in range(3):
            await k.sleep_ms(1)

    async def settle() -> None:
        await k.sleep(0)

    tasks: list[Task] = [k.create_task(waiter(0)), k.create_task(waiter(1))]
    tasks.append(k.create_task(ticker()))
    k.run(settle())  # both waiters park before any handler may fire

    async def main() -> None:
        for t in tasks:
            await t

    s.task(lambda: k.run(main()))
    s.handler(event.set, "isr")
    s.at_end(lambda: sorted(woke) == [0, 1], "every task waiting on the event woke")


@scenario
def naive_event_5795(s: Setup) -> None:
    _world(s, naive=True)


@scenario
def irqio_event(s: Setup) -> None:
    _world(s, naive=False)


def run(console: Console) -> bool:
    console.rule("[bold]The explorer: MicroPython #5795, found by itself")
    console.print(
        "Two tasks wait on an event; a third sleeps in a loop, so task context keeps relinking "
        "the kernel's task queue. A handler calls set() once. The explorer tries it before "
        "every bytecode of the kernel, the event and the scenario."
    )
    naive = explore(naive_event_5795)
    _verdict(console, "MicroPython's naive Event", naive)
    if not naive.ok:
        first = naive.schedule[0]
        console.print(f"  [red]{escape(naive.invariant or '')}[/]")
        console.print(
            f"  the handler preempted task context at [bold]{escape(first.where)}[/] "
            f"in {escape(first.function)}(), before {escape(first.access)}:"
        )
        console.print(f"      [yellow]{escape(first.source)}[/]")
        console.print(f"  replay: explore(naive_event_5795, replay={naive.replay!r})")
    safe = explore(irqio_event)
    _verdict(console, "irqio.Event", safe)
    table = Table(title="same scenario, every preemption point")
    for col in ("event", "verdict", "schedules", "pruned", "points", "seconds", "schedules/s"):
        table.add_column(col, justify="left" if col == "event" else "right")
    for name, r in (("naive (MicroPython)", naive), ("irqio.Event", safe)):
        table.add_row(
            name,
            "[green]SAFE[/]" if r.ok else "[red]BROKEN[/]",
            str(r.schedules_run),
            str(r.pruned),
            str(r.points),
            f"{r.elapsed:.2f}",
            f"{r.schedules_per_second:.0f}",
        )
    console.print(table)
    found_in_heap = not naive.ok and naive.schedule[0].filename.endswith("heap.py")
    return found_in_heap and safe.ok


def _verdict(console: Console, name: str, result: Result) -> None:
    verdict = "[green]SAFE[/]" if result.ok else "[red bold]BROKEN[/]"
    console.print(f"{verdict}  {name}: {result.schedules_run} schedules in {result.elapsed:.2f} s")
