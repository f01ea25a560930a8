"""Preemption points: count the points of the code under test, and record what code touches.

A point is the moment before an instruction that may touch shared state (see
`irqio.check.bytecode`), in a frame whose code belongs to a traced file. Points are numbered
from 0 in the order they happen, across task context, handlers and foreign threads alike (a
handler's own points count too, so a second handler can nest inside the first). Two backends,
same numbering on every supported Python:

* 3.12+: `sys.monitoring` INSTRUCTION events, enabled per traced code object on its first start;
  an instruction that is not a point disables its own event after its first run;
* 3.11: `sys.settrace` with `f_trace_opcodes`.

The hot path is one closure call per instruction: look the offset up, bump the counter, compare
with the next point the engine asked for, and only then call back into the engine.

While *recording* (the partial-order reduction asks for it around a preemption), every
instruction that touches something, in traced code or not, is handed to a `Recorder` with its
frame; a call is resolved to the callable its operands name (so a call into C code, which
has no instructions to watch, is recorded by what that function is known to touch). The
engine's own code (`irqio.check`) is never counted nor recorded.

Nesting on 3.11: a handler fired from inside a trace callback runs with tracing off (CPython
sets `tstate->tracing` and the frame's `use_tracing` flag around the callback, and
`sys.call_tracing` restores only the first), so `call` re-enables both through the C API
(`PyThreadState_LeaveTracing` / `PyThreadState_EnterTracing`, public since 3.11) for the
duration of the handler. 3.12's `sys.call_tracing` re-enables monitoring events by itself.
"""

from __future__ import annotations

import operator
import os
import sys
import threading
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from irqio.check.bytecode import Op, info
from irqio.check.footprint import Recorder

# on_point(index, code, offset) runs the preemption; it calls `set_next` first (the next index
# wanted, -1 for none), since the preemption may run traced code that reaches that index.
OnPoint = Callable[[int, CodeType, int], None]

_TOOL_NAME = "irqio.check"
_OWN = os.path.dirname(os.path.abspath(__file__)) + os.sep  # irqio/check: never traced


def _own(code: CodeType) -> bool:
    return code.co_filename.startswith(_OWN)


class Tracer:
    """Counts points in files accepted by `include`; calls `on_point` at the requested one."""

    def __init__(self, include: Callable[[str], bool], record_untraced: bool = False) -> None:
        self.include = include
        # Recording may need code that is not traced (the partial-order reduction): on 3.12+
        # such code must be instrumented from its first run, at some cost per access.
        self.record_untraced = record_untraced
        self._codes: dict[CodeType, dict[int, Op] | None] = {}
        self.backend = "monitoring" if hasattr(sys, "monitoring") else "settrace"
        self._tools: list[int] = []
        self._instrumented: list[CodeType] = []
        self.recorder: Recorder | None = None
        # Per-run state lives in the closures below; these hooks reach it.
        self.start: Callable[[int, OnPoint], None]
        self.count: Callable[[], int]
        self.set_next: Callable[[int], None]
        self.pause: Callable[[], None]
        self.resume: Callable[[], None]
        self.stop: Callable[[], None]
        self.record: Callable[[bool], None]  # recording on/off (accesses to `recorder`)
        self.call: Callable[[Callable[[], object]], object]  # run interrupt code, traced
        self.seen_traced = False  # a traced file defined code that ran (see `Engine`)
        if self.backend == "monitoring":
            self._setup_monitoring()
        else:
            self._setup_settrace()

    def _points(self, code: CodeType) -> dict[int, Op] | None:
        """The points of `code` if its file is traced, else None."""
        try:
            return self._codes[code]
        except KeyError:
            pass
        points = None
        if not _own(code) and self.include(code.co_filename):
            points = info(code).ops
            self.seen_traced = True
        self._codes[code] = points
        return points

    # -- 3.12+ --------------------------------------------------------------------------------

    def _setup_monitoring(self) -> None:
        # One tool for counting and recording alike: on CPython 3.12 and 3.13 a code object's
        # INSTRUCTION events reach only one tool, so a second tool for recording would
        # silence the first.
        mon: Any = getattr(sys, "monitoring")  # noqa: B009 - absent on 3.11
        free = [t for t in (4, 3, 2, 1, 0) if mon.get_tool(t) is None]
        if not free:  # pragma: no cover
            raise RuntimeError("every sys.monitoring tool id is taken")
        tool = free[0]
        mon.use_tool_id(tool, _TOOL_NAME)
        self._tools = [tool]
        ev = mon.events
        instruction = ev.INSTRUCTION
        disable = mon.DISABLE
        points_of = self._points
        instrumented = self._instrumented
        getframe = sys._getframe
        tracer = self
        # code -> (its points or None if untraced, its accesses): looked up once per event
        table: dict[CodeType, tuple[dict[int, Op] | None, dict[int, Op]]] = {}

        n = 0
        next_at = -1
        on_point: OnPoint | None = None
        active = False
        recording = False
        in_callback = threading.local()  # per OS thread: inside an on_point callback

        def on_start(code: CodeType, offset: int) -> Any:
            points = points_of(code)
            if points is not None or (tracer.record_untraced and not _own(code)):
                table[code] = (points, info(code).ops)
                try:
                    mon.set_local_events(tool, code, instruction)
                except ValueError:
                    # The events reach every thread: another one (a process pool's manager
                    # under -j) may get here after close() freed the tool. Nothing to watch.
                    return None
                instrumented.append(code)
            return disable  # once per code object

        def on_instruction(code: CodeType, offset: int) -> Any:
            nonlocal n
            points, accesses = table[code]
            if points is None:  # not traced: seen only to record what it touches
                op = accesses.get(offset)
                if op is None:
                    return disable
                if recording:
                    recorder = tracer.recorder
                    if recorder is not None:
                        recorder.record(op, getframe(1), code, offset)
                return None
            op = points.get(offset)
            if op is None:
                return disable  # not a point: never again
            if active:
                i = n
                n = i + 1
                if i == next_at:
                    assert on_point is not None
                    depth = getattr(in_callback, "depth", 0)
                    in_callback.depth = depth + 1
                    try:
                        on_point(i, code, offset)
                    finally:
                        in_callback.depth = depth
            if recording:
                recorder = tracer.recorder
                if recorder is not None:
                    recorder.record(op, getframe(1), code, offset)
            return None

        mon.register_callback(tool, ev.PY_START, on_start)
        mon.register_callback(tool, instruction, on_instruction)
        mon.set_events(tool, ev.PY_START)
        mon.restart_events()  # forget DISABLEs left by an earlier tracer with this tool id

        # Neither counting nor recording, the point instructions still raise their events (a
        # DISABLE would last past this run, and `restart_events` would revive every other
        # instruction too): they then go to a C function of two arguments that does nothing,
        # ten times cheaper than a Python callback (`operator.is_`, its result ignored).
        idle = operator.is_

        def sync() -> None:
            mon.register_callback(
                tool, instruction, on_instruction if active or recording else idle
            )

        def start(first: int, callback: OnPoint) -> None:
            nonlocal n, next_at, on_point, active
            n, next_at, on_point, active = 0, first, callback, True
            sync()

        def count() -> int:
            return n

        def set_next(index: int) -> None:
            nonlocal next_at
            next_at = index

        def pause() -> None:
            nonlocal active
            active = False
            sync()

        def resume() -> None:
            nonlocal active
            active = True
            sync()

        def record(on: bool) -> None:
            nonlocal recording
            recording = on
            sync()

        def call(fn: Callable[[], object]) -> object:
            if getattr(in_callback, "depth", 0):
                return sys.call_tracing(fn, ())  # monitoring is off inside a callback
            return fn()

        self.start, self.count, self.pause, self.resume = start, count, pause, resume
        self.set_next = set_next
        self.stop = pause
        self.record = record
        self.call = call

    # -- 3.11 ---------------------------------------------------------------------------------

    def _setup_settrace(self) -> None:
        import ctypes

        api = ctypes.pythonapi
        api.PyThreadState_Get.restype = ctypes.c_void_p
        api.PyThreadState_EnterTracing.argtypes = [ctypes.c_void_p]
        api.PyThreadState_LeaveTracing.argtypes = [ctypes.c_void_p]
        get_tstate = api.PyThreadState_Get
        enter_tracing = api.PyThreadState_EnterTracing
        leave_tracing = api.PyThreadState_LeaveTracing

        points_of = self._points
        tracer = self
        n = 0
        next_at = -1
        on_point: OnPoint | None = None
        recording = False
        in_callback = threading.local()  # per OS thread: inside an on_point callback
        recorded_frames: list[FrameType] = []

        def local_for(points: dict[int, Op]) -> Callable[[FrameType, str, Any], Any]:
            """The local trace function of one code object (its points bound: one lookup)."""

            def local(frame: FrameType, event: str, arg: Any) -> Any:
                nonlocal n
                # The hot path: most events are instructions that are not points. (The event
                # is tested second: "return" and "exception" come at an offset too.)
                lasti = frame.f_lasti
                if lasti not in points or event != "opcode":
                    return local
                i = n
                n = i + 1
                if i == next_at:
                    assert on_point is not None
                    depth = getattr(in_callback, "depth", 0)
                    in_callback.depth = depth + 1
                    try:
                        on_point(i, frame.f_code, lasti)
                    finally:
                        in_callback.depth = depth
                if recording:
                    recorder = tracer.recorder
                    if recorder is not None:
                        recorder.record(points[lasti], frame, frame.f_code, lasti)
                return local

            return local

        # code -> its local trace function, or False when the code is not traced
        locals_of: dict[CodeType, Callable[[FrameType, str, Any], Any] | bool] = {}

        def record_local(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "opcode" and recording:
                code = frame.f_code
                op = info(code).ops.get(frame.f_lasti)
                if op is not None:
                    recorder = tracer.recorder
                    if recorder is not None:
                        recorder.record(op, frame, code, frame.f_lasti)
            return record_local

        def global_(frame: FrameType, event: str, arg: Any) -> Any:
            code = frame.f_code
            local = locals_of.get(code)
            if local is None:
                points = points_of(code)
                local = locals_of[code] = local_for(points) if points is not None else False
            if local:
                frame.f_trace_opcodes = True
                frame.f_trace_lines = False
                return local
            if recording and not _own(code):
                frame.f_trace_opcodes = True
                frame.f_trace_lines = False
                recorded_frames.append(frame)
                return record_local
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

        def record(on: bool) -> None:
            nonlocal recording
            if on == recording:
                return
            recording = on
            if on:
                # Frames already running (the scheduler's loop, say) record from now on too.
                frame: FrameType | None = sys._getframe(1)
                while frame is not None:
                    if frame.f_trace is None and not _own(frame.f_code):
                        frame.f_trace = record_local
                        frame.f_trace_opcodes = True
                        frame.f_trace_lines = False
                        recorded_frames.append(frame)
                    frame = frame.f_back
            else:
                for f in recorded_frames:
                    if f.f_trace is record_local:
                        f.f_trace = None
                recorded_frames.clear()

        def call(fn: Callable[[], object]) -> object:
            if not getattr(in_callback, "depth", 0):
                return fn()
            # Inside a trace callback: re-enable tracing for the handler (see the docstring).
            # `left` is set before the C call and the call is inside the try: an asynchronous
            # exception (the engine's watchdog) can land right after a call instruction, and
            # the two C calls must stay paired, or this thread would never trace again.
            tstate = get_tstate()
            left = False
            try:
                left = True
                leave_tracing(tstate)
                return fn()
            finally:
                if left:
                    enter_tracing(tstate)

        def stop() -> None:
            record(False)
            pause()

        self.start, self.count, self.pause, self.resume = start, count, pause, resume
        self.set_next = set_next
        self.stop = stop
        self.record = record
        self.call = call

    def close(self) -> None:
        """Release the monitoring tools and uninstrument every code object."""
        if self.backend == "monitoring" and self._tools:
            mon: Any = getattr(sys, "monitoring")  # noqa: B009
            (tool,) = self._tools
            for code in self._instrumented:
                mon.set_local_events(tool, code, 0)
            mon.set_events(tool, 0)
            for event in (mon.events.PY_START, mon.events.INSTRUCTION):
                mon.register_callback(tool, event, None)
            mon.free_tool_id(tool)
            self._tools = []
        else:
            self.record(False)
            sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type,unused-ignore]
