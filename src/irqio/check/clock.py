"""A deterministic clock for the controller while the explorer runs.

`irqio.Controller` timestamps pends and handler runs (latency, run time, blame) with a
nanosecond clock, and a few of its branches compare timestamps (`first < released_at`, the
maximum of a sample). With a real clock two runs of one schedule could take different
branches, and so count different points. While exploring, every irqio module that reads the
clock through a module-level `now` (or `_now`) reads a counter instead: it ticks once per read, so
order is kept (a later read is larger) and every run of a schedule sees the same numbers.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import time
from collections.abc import Iterator
from types import ModuleType

_REAL = (time.perf_counter_ns,)
_NAMES = ("now", "_now")  # how irqio's modules hold the clock (imported from irqio._compat)


def _clocked() -> list[tuple[ModuleType, str]]:
    found = []
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("irqio") or name.startswith("irqio.check"):
            continue
        for attr in _NAMES:
            if getattr(module, attr, None) in _REAL:
                found.append((module, attr))
    return found


@contextlib.contextmanager
def virtual_controller_clock() -> Iterator[None]:
    """Replace the controller's clock by a counter for the duration (see the docstring)."""
    ticks = itertools.count(1000, 1000)

    def now() -> int:
        return next(ticks)

    clocked = _clocked()
    for module, attr in clocked:
        setattr(module, attr, now)
    try:
        yield
    finally:
        for module, attr in clocked:
            setattr(module, attr, time.perf_counter_ns)
