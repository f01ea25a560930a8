"""What one run produced: where each context fired, and the first failure."""

from __future__ import annotations

import dis
import linecache
import os
from types import CodeType
from typing import Any

from irqio.check.bytecode import info

TASK = "task"
Access = tuple[int, str, tuple[str, str], "int | None", bool, "CodeType | None", int]


class Preemption:
    """Where one context fired: at a point (a preemption point) or when task context idled.

    `kind`: "handler", "thread", "task" (task context takes the CPU back from a thread),
    "spin" (the explorer moved the CPU away from a context that spun), or "ran" (a pended
    handler ran later, when what masked it let go)."""

    def __init__(
        self,
        context: str,
        point: int | None,
        code: CodeType | None,
        offset: int,
        inside: str,
        kind: str = "handler",
        resumed: bool = False,
        note: str = "",
        when: str = "went idle",
    ) -> None:
        self.context = context
        self.kind = kind
        self.resumed = resumed  # a paused thread getting the CPU again
        self.point = point  # None: fired at idle / end, not at a placed point
        self.code = code
        self.offset = offset
        self.inside = inside  # what it preempted, in words: "task context", "handler isr", ...
        self.note = note  # e.g. "stayed pending: running priority 2, ceiling 3 (fifo)"
        self.when = when  # unplaced: when task context "went idle", "ended", "spun N points"

    @property
    def placed(self) -> bool:
        return self.point is not None and self.kind in ("handler", "thread", TASK)

    @property
    def filename(self) -> str:
        return self.code.co_filename if self.code is not None else ""

    @property
    def lineno(self) -> int:
        code = self.code
        if code is None:
            return 0
        for start, end, line in code.co_lines():
            if start <= self.offset < end and line is not None:
                return line
        return code.co_firstlineno

    @property
    def function(self) -> str:
        return self.code.co_qualname if self.code is not None else ""

    @property
    def source(self) -> str:
        return linecache.getline(self.filename, self.lineno).strip() if self.code else ""

    @property
    def opcode(self) -> str:
        if self.code is None:
            return ""
        for ins in dis.get_instructions(self.code):
            if ins.offset == self.offset:
                return ins.opname
        return "?"

    @property
    def access(self) -> str:
        """What the preempted code was about to do, in words (the same on every Python)."""
        if self.code is None:
            return ""
        op = info(self.code).ops.get(self.offset)
        return op.describe() if op is not None else self.opcode

    @property
    def where(self) -> str:
        if self.code is None:
            return "idle"
        return f"{short_path(self.filename)}:{self.lineno}"

    def describe(self) -> str:
        note = f" ({self.note})" if self.note else ""
        if self.kind == "ran":
            where = ""
            if self.code is not None:
                at = f"point {self.point}, " if self.point is not None else ""
                where = f" at {at}{self.where} in {self.function}()"
            return f"handler {self.context} ran{where}{note}"
        if self.kind == "spin":
            return f"{self.context}{note}"
        if self.code is None:
            verb = "resumed" if self.resumed else "ran" if self.kind == "thread" else "fired"
            when = f"when task context {self.when}"
            return f"{self.kind} {self.context} {verb} {when} (not placed){note}"
        who = "task context" if self.kind == TASK else f"{self.kind} {self.context}"
        if self.resumed:
            who += " (resumed)"
        return (
            f"{who} preempted {self.inside} at point {self.point}, {self.where} in "
            f"{self.function}(), before {self.access}:{note}\n    {self.source}"
        )


def short_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


class Failure:
    def __init__(self, kind: str, text: str, detail: str = "") -> None:
        # "exception", "invariant", "deadlock", "stranded", "hang", "livelock", "stuck"
        self.kind = kind
        self.text = text
        self.detail = detail


class Outcome:
    def __init__(self) -> None:
        self.failure: Failure | None = None
        self.fired: list[Preemption] = []
        self.horizon = 0  # points before the first unplaced firing
        self.context_names: list[str] = []
        self.threads: list[str] = []  # the foreign-thread contexts among them
        self.thread_end: dict[str, int] = {}  # point count when each thread finished
        # Every change of the CPU's holder that no placement made, in run order: (point count,
        # placements made before it, thread, "end" | "pause" (a spin step gave the CPU back
        # to task context) | "run" (a thread got it unplaced)). See `irqio.check.search`.
        self.switches: list[tuple[int, int, str, str]] = []
        # Per placement (by depth): the first point of the run that placed it whose access
        # conflicts with the placed context's window, or None (see `irqio.check.search`).
        self.scans: list[int | None] = []
        self.points = 0  # points counted in the whole run (while counting)
        self.placed: list[tuple[int, str]] = []  # placements a policy made (PCT)
        # explain runs: every access (point, context, key, identity, write, code, offset),
        # and each placement's window footprint, by depth
        self.log: list[Access] | None = None
        self.windows: dict[int, Any] = {}
