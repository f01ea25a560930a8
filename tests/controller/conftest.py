"""Fixtures for the controller tests: a main-thread controller that is always closed, and a
check that every test leaves the process's signal handlers and wakeup fd as it found them."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from irqio.controller import Controller

_WATCHED = [signal.SIGRTMIN + k for k in range(0, 8)] + [signal.SIGUSR1, signal.SIGINT]


@pytest.fixture(autouse=True)
def _signals_restored() -> Iterator[None]:
    before = {s: signal.getsignal(s) for s in _WATCHED}
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    yield
    after = {s: signal.getsignal(s) for s in _WATCHED}
    now_fd = signal.set_wakeup_fd(wakeup)
    changed = {s: (before[s], after[s]) for s in _WATCHED if before[s] != after[s]}
    for s, (old, _new) in changed.items():
        signal.signal(s, old)
    assert not changed, f"signal handlers not restored: {changed}"
    assert now_fd == wakeup, "wakeup fd not restored"


@pytest.fixture
def ctl() -> Iterator[Controller]:
    controller = Controller()
    try:
        yield controller
    finally:
        controller.close()
