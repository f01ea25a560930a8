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


def watch_hold(ctl: Controller, res: Resource, entry: object) -> None:
    """Task code just entered `res`: check it is released before the loop turns. (The caller
    checked `ctl._current is None`: task context.)"""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = asyncio.current_task(loop)
    if task is not None:  # a plain callback cannot await
        loop.call_soon(check_released, res, entry, task, loop)


def check_released(res: Resource, entry: object, task: Any, loop: Any) -> None:
    """A loop callback: is the entry task code made still held? If so, record the error for
    the exit to raise, and report it to the loop now."""
    if not any(e is entry for e in res._saved):
        return
    error = HeldAcrossAwait(
        f"task {task.get_name()!r} held Resource {res.name!r} (ceiling {res.ceiling}) "
        "across an await: lines at or under the ceiling stayed masked while other tasks "
        "ran; leave the `with` block before awaiting"
    )
    res._late.append((entry, error))
    loop.call_exception_handler({"message": str(error), "exception": error, "task": task})
