"""Property test: irqio.Queue behaves like a bounded FIFO model that counts refusals."""

from __future__ import annotations

from collections import deque
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import irqio


def finish(coro: Any) -> Any:
    """Run a coroutine that must not need to wait (items are there) to its result."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError("the coroutine waited although items were there")


class QueueModel(RuleBasedStateMachine):
    @initialize(capacity=st.integers(min_value=1, max_value=8))
    def make(self, capacity: int) -> None:
        self.q: irqio.Queue[int] = irqio.Queue(capacity)
        self.model: deque[int] = deque()
        self.capacity = capacity
        self.overruns = 0
        self.next_item = 0

    def _fresh(self) -> int:
        self.next_item += 1
        return self.next_item

    @rule()
    def offer(self) -> None:
        item = self._fresh()
        accepted = self.q.offer(item)
        assert accepted == (len(self.model) < self.capacity)
        if accepted:
            self.model.append(item)
        else:
            self.overruns += 1

    @rule()
    def put_nowait(self) -> None:
        item = self._fresh()
        try:
            self.q.put_nowait(item)
        except irqio.QueueFull:
            assert len(self.model) == self.capacity
            self.overruns += 1
        else:
            assert len(self.model) < self.capacity
            self.model.append(item)

    @rule()
    def get_nowait(self) -> None:
        try:
            item = self.q.get_nowait()
        except irqio.QueueEmpty:
            assert not self.model
        else:
            assert item == self.model.popleft()

    @precondition(lambda self: bool(self.model))
    @rule()
    def get(self) -> None:
        assert finish(self.q.get()) == self.model.popleft()

    @precondition(lambda self: bool(self.model))
    @rule(n=st.integers(min_value=1, max_value=10))
    def get_batch(self, n: int) -> None:
        batch = finish(self.q.get_batch(n))
        expected = [self.model.popleft() for _ in range(min(n, len(self.model)))]
        assert batch == expected

    @invariant()
    def agrees(self) -> None:
        assert len(self.q) == len(self.model)
        assert self.q.overruns == self.overruns
        assert self.q.full() == (len(self.model) == self.capacity)
        assert self.q.empty() == (not self.model)
        assert list(self.q._items) == list(self.model)


QueueModel.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestQueueModel = QueueModel.TestCase
