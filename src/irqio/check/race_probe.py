"""The race-directed first runs: schedules chosen while they run, the likeliest to race.

Exhaustive search starts from the run with nothing placed and places contexts in point order,
so a race deep in task context's code waits behind every earlier placement and its subtree.
Before that search, the explorer makes a run that places contexts where races hide, the rule
of race-directed testing (Sen, "Race Directed Random Testing of Concurrent Programs", PLDI
2008; Park, Sen, "Randomized Active Atomicity Violation Detection", FSE 2008) and of
atomicity-violation detectors (Lu, Tucek, Qin, Zhou, "AVIO", ASPLOS 2006): *preempt a context
inside a window between two of its accesses that the other context can split*: one location
with an access of the other between them that no serial order explains (the read ... write of
a counter), or two locations of one object (the test of a flag ... the act on the waiter it
records).

The other context has not run yet, so what it touches is read from its code (`shape_of`): the
accesses of the code objects reachable from its function (nested code, functions and methods
it calls, resolved through its globals, closure and `self`, or by name among the traced
modules' functions), by location (attribute `x`, global `g`, the items of container `q`) and,
where the code names it, by object. The running context's accesses are the points it runs,
read against its live frame. At each point, for each context that could be placed (within the
preemption bound, before the run's horizon, and one the exhaustive tree places there after
the placements made so far: a take-back by task context only while the thread runs, so the
schedule is one of the tree's), if this point's access closes a window of the
running function (or of a function it called) against that context's footprint, it is placed
here. A second run (`early`) puts the window on the other side: a context holding two
accesses that conflict with the running context's footprint is placed at the running
context's first conflicting access, to be split by the next placement (a thread that task
context takes back, a handler another nests in).

A first run is a real schedule, so a failure it finds is real; `irqio.check.explore` keeps it
only if its placements replay to the same failure (a first run that imported modules is made
again: imports shift point numbers). Otherwise the search goes on exactly as it would have
without them: the first runs change no verdict, no explored set and no count of the search;
they can only end the search before it starts.
"""

from __future__ import annotations

import builtins
import functools
import sys
import types
from collections.abc import Callable
from typing import Any

from irqio.check.bytecode import Op, Src, info
from irqio.check.engine import Engine, include_filter
from irqio.check.footprint import MISSING, UNNAMED, evaluate, static_attr
from irqio.check.outcome import TASK, Outcome
from irqio.check.scenario import Scenario
from irqio.check.search import CPU, free_contexts

# (kind, name, identity or None, write): kind "a" attribute, "g" global, "c" closure cell, "i"
# container items; the identity is the object's id() when the operand names one
Access = tuple[str, str, "int | None", bool]
# location name -> the (identity, written) pairs seen for it
Shape = dict[tuple[str, str], set[tuple["int | None", bool]]]
# what an operand evaluates to: `static` (from the code, before it runs) or the live frame
Resolve = Callable[[Src], Any]

MAX_DEPTH = 64  # frames kept per access
MAX_CODES = 400  # code objects read per context: a footprint is a hint, not a proof

_ITEM_WRITES = {
    "append", "appendleft", "extend", "extendleft", "pop", "popleft", "popitem", "insert",
    "remove", "clear", "add", "discard", "update", "setdefault", "rotate", "sort", "reverse",
}  # fmt: skip
_ITEM_READS = {"get", "copy", "count", "index", "keys", "values", "items"}


def _ident(obj: Any) -> int | None:
    return None if any(obj is u for u in UNNAMED) else id(obj)


def _src_name(src: Src) -> str:
    """The name a container operand goes by ('' when it has none that others could share)."""
    if src is None:
        return ""
    tag = src[0]
    if tag in ("attr", "method"):
        return str(src[2])
    if tag in ("global", "deref"):
        return str(src[1])
    return ""


def access_of(op: Op, resolve: Resolve, globals_id: int | None) -> Access | None:
    """What one point touches (by location name, and object when `resolve` names it), or
    None (nothing shared)."""
    kind = op.kind
    if kind == "ra" or kind == "wa":
        obj = resolve(op.a)
        if isinstance(obj, types.ModuleType):
            return ("g", op.name, id(obj.__dict__), kind == "wa")
        return ("a", op.name, _ident(obj), kind == "wa")
    if kind == "rg" or kind == "wg":
        return ("g", op.name, globals_id, kind == "wg")
    if kind == "rc" or kind == "wc":
        return ("c", op.name, None, kind == "wc")
    if kind == "ri" or kind == "wi":
        return ("i", _src_name(op.a), _ident(resolve(op.a)), kind == "wi")
    if kind == "call" and op.a is not None and op.a[0] == "method":
        method = op.a[2]
        if method in _ITEM_WRITES or method in _ITEM_READS:
            owner = op.a[1]
            return ("i", _src_name(owner), _ident(resolve(owner)), method in _ITEM_WRITES)
    return None


def under_construction(op: Op, code: types.CodeType) -> bool:
    """An access of `self` inside its `__init__`: an object no other context can see yet."""
    src = op.a
    return (
        code.co_name == "__init__"
        and code.co_argcount > 0
        and src is not None
        and src[0] == "fast"
        and src[1] == code.co_varnames[0]
    )


def conflicts(access: Access, shape: Shape) -> bool:
    """Does `access` conflict with a footprint: the same location (the same object, where
    both name one), one of the two a write?"""
    kind, name, ident, write = access
    if kind == "i" and name == "":
        keys = [k for k in shape if k[0] == "i"]
    else:
        keys = [(kind, name)] + ([("i", "")] if kind == "i" else [])
    for key in keys:
        for other, written in shape.get(key, ()):
            if (write or written) and (ident is None or other is None or ident == other):
                return True
    return False


# -- a context's footprint, read from its code ------------------------------------------------


class _Names:
    """Functions of the traced modules by name: the callees an operand cannot name."""

    def __init__(self, include: Callable[[str], bool]) -> None:
        self.by_name: dict[str, list[types.FunctionType]] = {}
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if not isinstance(path, str) or not include(path):
                continue
            for value in list(vars(module).values()):
                if isinstance(value, types.FunctionType):
                    self._add(value.__name__, value)
                elif isinstance(value, type) and value.__module__ == module.__name__:
                    for name, member in vars(value).items():
                        fn = _function_of(member)
                        if fn is not None:
                            self._add(name, fn)

    def _add(self, name: str, fn: types.FunctionType) -> None:
        self.by_name.setdefault(name, []).append(fn)


def _function_of(obj: Any) -> types.FunctionType | None:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    elif isinstance(obj, property):
        obj = obj.fget
    elif isinstance(obj, functools.partial):
        obj = obj.func
    elif isinstance(obj, type):
        obj = obj.__dict__.get("__init__")
    return obj if isinstance(obj, types.FunctionType) else None


def _closure(fn: types.FunctionType) -> dict[str, Any]:
    out = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            out[name] = cell.cell_contents
        except ValueError:  # an empty cell
            pass
    return out


class _Code:
    """One code object to read, with what its operands are known to name before it runs: its
    function's globals and closure, and `self` when it was reached as a bound method."""

    def __init__(self, code: types.CodeType, fn: types.FunctionType, known: dict[str, Any]
                 ) -> None:  # fmt: skip
        self.code = code
        self.fn = fn
        self.known = known
        self.closure = _closure(fn) if code is fn.__code__ else {}

    def static(self, src: Src) -> Any:
        """The object an operand names, known without running the code, or MISSING."""
        if src is None:
            return MISSING
        tag = src[0]
        if tag == "fast":
            return self.known.get(src[1], MISSING)
        if tag == "global":
            name = src[1]
            if name in self.fn.__globals__:
                return self.fn.__globals__[name]
            return getattr(builtins, name, MISSING)
        if tag == "deref":
            return self.closure.get(src[1], MISSING)
        if tag == "const":
            return src[1]
        if tag in ("attr", "method"):
            return static_attr(self.static(src[1]), src[2])
        return MISSING


def shape_of(entry: Any, include: Callable[[str], bool], names: _Names, keep: list[object]
             ) -> Shape:  # fmt: skip
    """Every location the code reachable from `entry` (a callable) may touch. The objects
    named go to `keep`, so their ids stay theirs while the shape is in use."""
    shape: Shape = {}
    seen: set[types.CodeType] = set()
    work: list[_Code] = []

    def push(obj: Any, owner: Any = MISSING, through: int = 0) -> None:
        if isinstance(obj, types.MethodType):
            obj, owner = obj.__func__, obj.__self__
        fn = obj if isinstance(obj, types.FunctionType) else _function_of(obj)
        if fn is None or fn.__code__ in seen:
            return
        if not include(fn.__code__.co_filename):
            # Untraced code records nothing, but a wrapper (`s.run(main)` runs `main` from
            # irqio.check) leads to traced code through its closure.
            for value in _closure(fn).values() if through > 0 else ():
                push(value, MISSING, through - 1)
            return
        seen.add(fn.__code__)
        known = {}
        if owner is not MISSING and fn.__code__.co_argcount:
            known[fn.__code__.co_varnames[0]] = owner
            keep.append(owner)
        work.append(_Code(fn.__code__, fn, known))

    push(entry, MISSING, 2)
    while work and len(seen) <= MAX_CODES:
        item = work.pop()
        for const in item.code.co_consts:
            if isinstance(const, types.CodeType) and const not in seen:
                seen.add(const)
                work.append(_Code(const, item.fn, {}))
        globals_id = id(item.fn.__globals__)
        for op in info(item.code).ops.values():
            if under_construction(op, item.code):
                continue
            access = access_of(op, item.static, globals_id)
            if access is not None:
                kind, name, ident, write = access
                shape.setdefault((kind, name), set()).add((ident, write))
            if op.kind != "call" or op.a is None:
                continue
            callee = item.static(op.a)
            if callee is not MISSING:
                owner = item.static(op.a[1]) if op.a[0] == "method" else MISSING
                push(callee, owner)
            elif op.a[0] in ("attr", "method"):
                for other in names.by_name.get(str(op.a[2]), ()):
                    push(other)
    keep.append(shape)
    return shape


# -- the run ----------------------------------------------------------------------------------


class RaceProbe:
    """An engine policy: places contexts inside the running context's conflict windows."""

    def __init__(self, scenario: Scenario, bound: int, early: bool = False) -> None:
        """`early`: the window is in the context to place, not in the running one (see
        `splittable`): place it at the running context's first conflicting access."""
        self.include = include_filter(scenario)
        self.bound = bound
        self.early = early
        self.made = 0
        self.placed: list[tuple[int, str]] = []  # the placements made so far
        self._next = 0 if bound > 0 else -1
        self.shapes: dict[str, Shape] | None = None
        self.keep: list[object] = []
        # (running context, other context) -> for each access of the first that conflicted
        # with the second's footprint, the frames it was made in (its frame and the callers):
        # a window is open in each of them
        self.opened: dict[tuple[str, str], list[tuple[list[types.FrameType], Access]]] = {}

    def next_point(self) -> int:
        return self._next

    def changed(self, engine: Engine) -> None:
        """A context fired or ended: go on deciding at the next point (not past the horizon)."""
        if self._next >= 0:
            self._next = -1 if engine.past_horizon() else engine.tracer.count()

    def _shapes(self, engine: Engine) -> dict[str, Shape]:
        if self.shapes is None:
            names = _Names(self.include)
            setup = engine.world()
            self.shapes = {c.name: shape_of(c.fn, self.include, names, self.keep)
                           for c in setup.contexts}  # fmt: skip
            self.shapes[TASK] = shape_of(setup.task_fn, self.include, names, self.keep)
        return self.shapes

    def choose(self, point: int, engine: Engine) -> str | None:
        if self.made >= self.bound or engine.past_horizon():
            self._next = -1  # nothing more to place: the rest runs at full speed
            return None
        self._next = point + 1
        try:
            chosen = self._choose(engine)
        except Exception:
            # A hint must never fail a run: an operand that cannot be read this way (an odd
            # object, a frame gone) ends the placing, and the run goes on as it is.
            self._next = -1
            return None
        if chosen is not None:
            self.made += 1
            self.placed.append((point, chosen))
        return chosen

    def _choose(self, engine: Engine) -> str | None:
        code, offset = engine.at
        op = info(code).ops.get(offset) if code is not None else None
        frame = _frame_of(code)
        if op is None or frame is None or under_construction(op, frame.f_code):
            return None
        live = frame

        def resolve(src: Src) -> Any:
            return evaluate(src, live)

        access = access_of(op, resolve, id(frame.f_globals))
        if access is None:
            return None
        shapes = self._shapes(engine)
        running = engine.running()
        placeable = self._placeable(engine)
        chosen = None
        for name, shape in shapes.items():
            if name == running or not conflicts(access, shape):
                continue
            opened = self.opened.setdefault((running, name), [])
            if chosen is None and name in placeable:
                if _in_window(frame, access, opened, shape):
                    chosen = name  # a window: this frame (or a callee) made a conflicting access
                elif self.early and self.made == 0 and splittable(shape, shapes[running]):
                    chosen = name  # its own window, to be split by the next placement
            opened.append((_stack(frame), access))
        return chosen

    def _placeable(self, engine: Engine) -> list[str]:
        """The contexts the exhaustive tree places here after this run's placements so far
        (`search.free_contexts`, with who holds the CPU now), so the schedule made is one of
        the search's. The engine could do more (resume a paused thread while another runs),
        which the tree leaves out."""
        contexts = engine.world().contexts
        names = [c.name for c in contexts]
        threads = {c.name for c in contexts if c.kind == "thread"}
        cpu = CPU(engine.running_thread(), frozenset(engine.finished_threads()))
        tree = free_contexts(self.placed, names, threads, cpu)
        return [name for name in engine.placeable() if name in tree]


def splittable(placed: Shape, running: Shape) -> bool:
    """Does the context to place hold two accesses that conflict with the running context's
    footprint (so a later placement inside it, between them, can race)?"""
    found = 0
    for (kind, name), seen in placed.items():
        for ident, write in seen:
            if conflicts((kind, name, ident, write), running):
                found += 1
                if found >= 2:
                    return True
    return False


def _frame_of(code: types.CodeType | None) -> types.FrameType | None:
    """The running frame of `code` (the point the tracer stopped at is in it)."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code is not code:
        frame = frame.f_back
    return frame


def _stack(frame: types.FrameType) -> list[types.FrameType]:
    """`frame` and its callers (kept alive, so their ids are theirs while the run lasts)."""
    out: list[types.FrameType] = []
    f: types.FrameType | None = frame
    while f is not None and len(out) < MAX_DEPTH:
        out.append(f)
        f = f.f_back
    return out


def _in_window(
    frame: types.FrameType,
    access: Access,
    opened: list[tuple[list[types.FrameType], Access]],
    other: Shape,
) -> bool:
    """Is `access` (made in `frame`) the second of a window the `other` context can split?
    The first is an earlier access that conflicted with `other` too, made in this frame or in
    a function it called (not the scheduler loop's access and then any access of any task it
    runs), and the two are a pair whose order matters: the same location with an access of
    `other` between them that no serial order explains (read-write-read, write-write-read,
    read-write-write, write-read-write: AVIO's unserializable interleavings), or two
    locations of one object (a check of one field and an act on another)."""
    kind, name, ident, write = access
    for stack, first in opened:
        if not any(f is frame for f in stack):
            continue
        k1, n1, i1, w1 = first
        if (k1, n1) == (kind, name) and _same(i1, ident):
            for i2, w2 in other.get((kind, name), ()):
                if _same(i2, ident) and _unserializable(w1, w2, write):
                    return True
        elif _same(i1, ident):
            return True
    return False


def _same(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


def _unserializable(first: bool, between: bool, second: bool) -> bool:
    """(write?) of the preempted side's two accesses and of the other side's access between
    them, on one location: does the interleaving differ from both serial orders?"""
    if not first:
        return between  # read-write-read, read-write-write
    return between if not second else not between  # write-write-read, write-read-write


def more(probe: RaceProbe, out: Outcome, bound: int) -> bool:
    """After a first run that found nothing (`out`, made by `probe`): is a second one worth
    making, with the window in the placed context (`RaceProbe`'s `early`)? Only if a placed
    context can be split within the bound (a thread task context takes back, a handler
    another nests in) and some context holds such a window against another's footprint."""
    handlers = len(out.context_names) - len(out.threads)
    if bound < 2 or not (out.threads or handlers >= 2) or probe.shapes is None:
        return False
    shapes = probe.shapes
    return any(
        splittable(shapes[placed], shapes[other])
        for placed in out.context_names
        for other in shapes
        if other != placed and placed in shapes
    )


def first_run(engine: Engine, scenario: Scenario, bound: int, early: bool = False
              ) -> tuple[Outcome, RaceProbe]:  # fmt: skip
    """One race-directed first run (to its end, like a warm-up): its outcome (if it placed
    nothing, `out.placed` is empty: it was the run with nothing placed) and its policy."""
    probe = RaceProbe(scenario, bound, early)
    out = engine.run([], leaf=True, policy=probe, to_end=True)
    return out, probe
