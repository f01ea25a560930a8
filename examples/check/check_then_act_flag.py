"""A check-then-act race in a hand-written flag.

`wait()` checks the state and, if it is clear, records the waiting task and parks. `set()` from a
handler stores the state and rings the scheduler only if a task is recorded. A handler that
lands between the check and the record sees no task, rings nobody, and the task parks for good:
a lost wake. (irqio's primitives take the waiter's token *before* they check the state.)

    irqio check examples/check/check_then_act_flag.py     # finds it, exits 1
"""

from irqio.check import Setup, scenario
from irqio.kernel import Kernel, Task


class HandFlag:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.state = False
        self.task: Task | None = None
        kernel.services.append(self._service)

    def set(self) -> None:  # interrupt context
        self.state = True
        if self.task is not None:
            self.kernel.alert()  # service() will resume the task

    def _service(self) -> None:  # task context, after a ring
        task = self.task
        if self.state and task is not None:
            self.task = None
            self.state = False
            self.kernel.ready(task)

    async def wait(self) -> None:  # task context
        if not self.state:  # check ...
            self.task = self.kernel.cur_task  # ... then act: too late if set() ran in between
            await self.kernel.park()
        else:
            self.state = False


@scenario
def hand_written_flag(s: Setup) -> None:
    k = s.kernel()
    flag = HandFlag(k)
    woke: list[bool] = []

    async def main() -> None:
        await flag.wait()
        woke.append(True)

    s.task(lambda: k.run(main()))
    s.handler(flag.set, "isr")
    s.at_end(lambda: woke == [True], "the waiting task woke after set()")
