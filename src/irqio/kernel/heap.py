"""The kernel's task queue: a pairing heap of tasks ordered by wake time.

Modelled on MicroPython's `TaskQueue` (extmod/asyncio): the nodes are the tasks themselves
(fields `ph_key`, `ph_seq`, `ph_child`, `ph_next`, `ph_prev`), so a push, a pop or a removal
allocates nothing. Every operation is several plain Python steps that relink nodes. That is the
point of keeping it in Python: a handler that pushes onto this heap while task context is
half-way through a `pop()` corrupts it, exactly as MicroPython #5795 describes, and the explorer
can show the line.

Keys are ticks (`irqio.kernel.ticks`), compared with `ticks_diff` so that a wrapping clock
orders correctly. Equal keys come out in push order: `ph_seq` counts pushes modulo 2**29 (a
small int on every port) and is compared the same wrapping way.

`ph_prev` links each node to its previous sibling, or to its parent if it is the first child,
so `remove()` unlinks a node in O(1) (then melds its children back): cancelling a sleeping task
or ending a `wait_for` early never searches the heap.

Task context only. Nothing here is interrupt-safe, and nothing tries to be.
"""

from irqio._compat import TYPE_CHECKING
from irqio.kernel.ticks import ticks_diff

if TYPE_CHECKING:
    from irqio.kernel.task import Task

_SEQ_MASK = (1 << 29) - 1
_SEQ_HALF = 1 << 28


def _before(a: "Task", b: "Task") -> bool:
    # Earlier wake time first; among equal times, the one pushed first (round-robin order).
    d = ticks_diff(a.ph_key, b.ph_key)
    if d:
        return d < 0
    return ((a.ph_seq - b.ph_seq) & _SEQ_MASK) >= _SEQ_HALF


def _meld(a: "Task | None", b: "Task | None") -> "Task | None":
    """Join two heaps whose roots have no siblings; the loser becomes the winner's first child."""
    if a is None:
        return b
    if b is None:
        return a
    if _before(b, a):
        a, b = b, a
    first = a.ph_child
    b.ph_next = first
    if first is not None:
        first.ph_prev = b
    b.ph_prev = a
    a.ph_child = b
    return a


def _pairing(first: "Task | None") -> "Task | None":
    """Merge a list of sibling heaps (linked by `ph_next`) into one: the two-pass pairing."""
    # Pass 1, left to right: meld neighbours in pairs, stacking the results (reversed).
    stack: Task | None = None
    node = first
    while node is not None:
        a = node
        b = a.ph_next
        if b is None:
            node = None
        else:
            node = b.ph_next
            b.ph_next = None
        a.ph_next = None
        m = _meld(a, b)
        assert m is not None
        m.ph_next = stack
        stack = m
    # Pass 2, right to left: meld each pair into the running result.
    root: Task | None = None
    while stack is not None:
        nxt = stack.ph_next
        stack.ph_next = None
        root = _meld(root, stack)
        stack = nxt
    if root is not None:
        root.ph_prev = None
    return root


class TaskQueue:
    """A pairing heap of tasks keyed by wake time in ticks (ties in push order)."""

    def __init__(self) -> None:
        self.heap: Task | None = None
        self._seq = 0

    def peek(self) -> "Task | None":
        return self.heap

    def push(self, task: "Task", key: int) -> None:
        self._seq = (self._seq + 1) & _SEQ_MASK
        task.ph_key = key
        task.ph_seq = self._seq
        task.ph_child = None
        task.ph_next = None
        task.ph_prev = None
        self.heap = _meld(self.heap, task)

    def pop(self) -> "Task":
        task = self.heap
        assert task is not None, "pop from an empty task queue"
        child = task.ph_child
        task.ph_child = None
        # Between reading the root and storing the new one the heap is in pieces: a push that
        # lands here melds into the old root and is dropped by the store below (#5795).
        if child is None or child.ph_next is None:  # no child, or one: nothing to pair
            if child is not None:
                child.ph_prev = None
            self.heap = child
        else:
            self.heap = _pairing(child)
        return task

    def remove(self, task: "Task") -> bool:
        """Take `task` out wherever it sits (for cancellation); False if it is not here.
        The caller knows the task was pushed here (`task.parked_in`)."""
        if self.heap is task:
            self.pop()
            return True
        prev = task.ph_prev
        if prev is None:
            return False  # not in any heap (or the root of another one)
        nxt = task.ph_next
        if prev.ph_child is task:
            prev.ph_child = nxt
        else:
            prev.ph_next = nxt
        if nxt is not None:
            nxt.ph_prev = prev
        task.ph_next = None
        task.ph_prev = None
        rest = _pairing(task.ph_child)
        task.ph_child = None
        self.heap = _meld(self.heap, rest)
        return True

    def __len__(self) -> int:
        return len(self.tasks())

    def tasks(self) -> "list[Task]":
        """Every task in the heap (any order); for invariants and debugging. Survives cycles."""
        out: list[Task] = []
        seen: set[int] = set()
        todo = [self.heap]
        while todo:
            node = todo.pop()
            if node is not None and id(node) not in seen:
                seen.add(id(node))
                out.append(node)
                todo.append(node.ph_child)
                todo.append(node.ph_next)
        return out
