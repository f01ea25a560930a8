"""Preemption points: count the bytecode boundaries of the code under test.

A point is the moment before one bytecode instruction runs, in a frame whose code belongs to a
traced file. Points are numbered from 0 in the order they happen, across task context and
handlers alike (a handler's own bytecodes are points too, so a second handler can nest inside
the first). Two backends, same numbering rules:

* 3.12+: `sys.monitoring` INSTRUCTION events, enabled per code object on its first start;
* 3.11: `sys.settrace` with `f_trace_opcodes`.

The hot path is one closure call per instruction: bump the counter, compare with the next
point the engine asked for, and only then call back into the engine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

# on_point(index, code, offset) runs the preemption; it calls `set_next` first (the next index
# wanted, -1 for none), since the preemption may run traced code that reaches that index.
OnPoint = Callable[[int, CodeType, int], None]

_TOOL_NAMES = "irqio.check"


class Tracer:
    """Counts points in files accepted by `include`; calls `on_point` at the requested one."""

    def __init__(self, include: Callable[[str], bool]) -> None:
        self.include = include
        self._codes: dict[CodeType, bool] = {}
        self.backend = "monitoring" if hasattr(sys, "monitoring") else "settrace"
        self._tool = -1
        self._instrumented: list[CodeType] = []
        # Per-run state lives in the closures below; these hooks reach it.
        self.start: Callable[[int, OnPoint], None]
        self.count: Callable[[], int]
        self.set_next: Callable[[int], None]
        self.pause: Callable[[], None]
        self.resume: Callable[[], None]
        self.stop: Callable[[], None]
        if self.backend == "monitoring":
            self._setup_monitoring()
        else:
            self._setup_settrace()

    def _wanted(self, code: CodeType) -> bool:
        wanted = self._codes.get(code)
        if wanted is None:
            wanted = self._codes[code] = self.include(code.co_filename)
        return wanted

    # -- 3.12+ ------------------------------------------------------------------------------

    def _setup_monitoring(self) -> None:
        mon: Any = getattr(sys, "monitoring")  # noqa: B009 - absent on 3.11
        for tool in (4, 3, 2, 1, 0):
            if mon.get_tool(tool) is None:
                mon.use_tool_id(tool, _TOOL_NAMES)
                self._tool = tool
                break
        else:  # pragma: no cover
            raise RuntimeError("every sys.monitoring tool id is taken")
        tool = self._tool
        instruction = mon.events.INSTRUCTION
        disable = mon.DISABLE
        wanted = self._wanted
        instrumented = self._instrumented

        n = 0
        next_at = -1
        on_point: OnPoint | None = None
        active = False

        def on_start(code: CodeType, offset: int) -> Any:
            if wanted(code):
                mon.set_local_events(tool, code, instruction)
                instrumented.append(code)
            return disable  # once per code object

        def on_instruction(code: CodeType, offset: int) -> None:
            nonlocal n
            if active:
                i = n
                n = i + 1
                if i == next_at:
                    assert on_point is not None
                    on_point(i, code, offset)

        mon.register_callback(tool, mon.events.PY_START, on_start)
        mon.register_callback(tool, instruction, on_instruction)
        mon.set_events(tool, mon.events.PY_START)
        mon.restart_events()  # forget DISABLEs left by an earlier tracer with this tool id

        def start(first: int, callback: OnPoint) -> None:
            nonlocal n, next_at, on_point, active
            n, next_at, on_point, active = 0, first, callback, True

        def count() -> int:
            return n

        def set_next(index: int) -> None:
            nonlocal next_at
            next_at = index

        def pause() -> None:
            nonlocal active
            active = False

        def resume() -> None:
            nonlocal active
            active = True

        self.start, self.count, self.pause, self.resume = start, count, pause, resume
        self.set_next = set_next
        self.stop = pause

    # -- 3.11 -------------------------------------------------------------------------------

    def _setup_settrace(self) -> None:
        wanted = self._wanted
        n = 0
        next_at = -1
        on_point: OnPoint | None = None

        def local(frame: FrameType, event: str, arg: Any) -> Any:
            nonlocal n
            if event == "opcode":
                i = n
                n = i + 1
                if i == next_at:
                    assert on_point is not None
                    on_point(i, frame.f_code, frame.f_lasti)
            return local

        def global_(frame: FrameType, event: str, arg: Any) -> Any:
            if wanted(frame.f_code):
                frame.f_trace_opcodes = True
                frame.f_trace_lines = False
                return local
            return None

        def start(first: int, callback: OnPoint) -> None:
            nonlocal n, next_at, on_point
            n, next_at, on_point = 0, first, callback
            sys.settrace(global_)

        def count() -> int:
            return n

        def set_next(index: int) -> None:
            nonlocal next_at
            next_at = index

        def pause() -> None:
            sys.settrace(None)

        def resume() -> None:
            sys.settrace(global_)

        self.start, self.count, self.pause, self.resume = start, count, pause, resume
        self.set_next = set_next
        self.stop = pause

    def close(self) -> None:
        """Release the monitoring tool and uninstrument every code object."""
        if self.backend == "monitoring" and self._tool >= 0:
            mon: Any = getattr(sys, "monitoring")  # noqa: B009
            for code in self._instrumented:
                mon.set_local_events(self._tool, code, 0)
            mon.set_events(self._tool, 0)
            mon.register_callback(self._tool, mon.events.PY_START, None)
            mon.register_callback(self._tool, mon.events.INSTRUCTION, None)
            mon.free_tool_id(self._tool)
            self._tool = -1
        else:
            sys.settrace(None)
