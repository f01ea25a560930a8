"""Debug mode (CPython): a resource that task code holds across an `await` is reported with
`HeldAcrossAwait`. Imported only when debug mode is asked for; never by the core at module level.

Why a loop callback catches it: a loop callback runs only between task steps, and a task step
ends only at an `await` that suspends, so an entry still held when the callback runs was held
across one.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from irqio.controller.errors import HeldAcrossAwait

if TYPE_CHECKING:
    from irqio.controller.core import Controller
    from irqio.controller.resource import Resource


def asyncio_debug() -> bool:
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


def watch_hold(ctl: Controller, res: Resource, entered: int) -> None:
    """Task code just entered `res` (at time `entered`, which with `res` names the hold):
    check it is released before the loop turns. (The caller checked `ctl._current is None`:
    task context.)"""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = asyncio.current_task(loop)
    if task is not None:  # a plain callback cannot await
        loop.call_soon(check_released, res, entered, task, loop)


def check_released(res: Resource, entered: int, task: Any, loop: Any) -> None:
    """A loop callback: is the hold task code made still held? If so, record the error for
    the exit to raise, and report it to the loop now."""
    ctl = res._ctl
    if ctl is None or not any(e[0] is res and e[4] == entered for e in ctl._held):
        return
    error = HeldAcrossAwait(
        f"task {task.get_name()!r} held Resource {res.name!r} (ceiling {res.ceiling}) "
        "across an await: lines at or under the ceiling stayed masked while other tasks "
        "ran; leave the `with` block before awaiting"
    )
    res._late.append((entered, error))
    loop.call_exception_handler({"message": str(error), "exception": error, "task": task})
