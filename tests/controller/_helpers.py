"""Bounded waiting helpers for the controller tests."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll `cond` until true or fail after `timeout` s (a bound, never a sleep-and-hope)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)


def spin_until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Like wait_until but CPU-bound: never sleeps, never calls into a blocking syscall."""
    deadline = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > deadline:
            raise AssertionError(f"timed out after {timeout} s spinning for {what}")
