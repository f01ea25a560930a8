"""What a stretch of execution read and wrote: the footprints the partial-order reduction compares.

An access is a key and a read/write flag. Keys name *locations*:

* `("a", name)` + the object's identity: attribute `name` of one object (a module's attribute is
  its global, so `mod.x` and `x` inside `mod` are the same location);
* `("i", "")` + identity: the items of a container (subscripts, `deque.append`, `len`,
  iteration, truth tests of a container);
* `("g", name)` + the globals dict's identity; `("c", name)`: a closure cell (by name only);
* `("f", "")`: file descriptors (an eventfd or self-pipe write, a `select()`);
* `("x", what)`: interpreter state a C function keeps (asyncio's running loop and task).

An identity of None is a wildcard: the operand could not be named, so the access stands for
every object of its kind. An *opaque* footprint (an unknown C function, an idle step of the
scheduler, the end of the run) conflicts with everything. Two footprints conflict when one
writes a location the other reads or writes.

Identities are `id()`s, so they are only comparable within one run; a footprint keeps the
objects it saw alive, so an id is never reused for another object during the run.

`Recorder` turns the points of `irqio.check.bytecode` (and the C calls the tracer reports) into
accesses, resolving each operand against the live frame without running any Python code
(attributes are read from `__dict__` and slots, never through properties).
"""

from __future__ import annotations

import collections
import types
from collections.abc import Callable
from typing import Any

from irqio.check.bytecode import Op, Src, info

Key = tuple[str, str]
# sink(key, identity or None, write, code, offset, point count when it happened or None for
# now): one access
Sink = Callable[..., None]

_MISSING: Any = object()  # an operand that cannot be named: a wildcard
_FRESH: Any = object()  # an object nobody else can have yet (a new generator): no access
_IMMUTABLE = (tuple, str, bytes, int, float, complex, bool, frozenset, range, type(None))
_CONTAINERS = (list, dict, set, collections.deque, bytearray, collections.OrderedDict)


class Footprint:
    """Reads and writes of a stretch of execution, by location."""

    __slots__ = ("keep", "opaque", "reads", "where", "writes")

    def __init__(self) -> None:
        self.reads: dict[Key, set[int | None]] = {}
        self.writes: dict[Key, set[int | None]] = {}
        self.opaque = False
        self.keep: list[object] = []
        # first place each location was touched, for reports: (key, write) -> (code, offset)
        self.where: dict[tuple[Key, bool], tuple[types.CodeType | None, int]] = {}

    def add(
        self, key: Key, ident: int | None, write: bool, code: types.CodeType | None, offset: int
    ) -> None:
        table = self.writes if write else self.reads
        ids = table.get(key)
        if ids is None:
            table[key] = {ident}
        else:
            ids.add(ident)
        if (key, write) not in self.where:
            self.where[(key, write)] = (code, offset)

    def make_opaque(self, code: types.CodeType | None = None, offset: int = 0) -> None:
        self.opaque = True
        self.where.setdefault((("*", ""), True), (code, offset))

    @property
    def empty(self) -> bool:
        return not (self.reads or self.writes or self.opaque)

    def touches(self, key: Key, ident: int | None, write: bool) -> bool:
        """Does one access conflict with this footprint?"""
        if self.opaque:
            return True
        if key[0] == "a":
            if key[1] == "*":  # every attribute of one object (getattr, setattr)
                return self._any_attr(ident, write)
            if _hit(self.writes.get(_ANY_ATTR), ident) or (
                write and _hit(self.reads.get(_ANY_ATTR), ident)
            ):
                return True
        if _hit(self.writes.get(key), ident):
            return True
        return write and _hit(self.reads.get(key), ident)

    def _any_attr(self, ident: int | None, write: bool) -> bool:
        for table in (self.writes, self.reads) if write else (self.writes,):
            for key, ids in table.items():
                if key[0] == "a" and _hit(ids, ident):
                    return True
        return False

    def conflicts(self, other: Footprint) -> bool:
        if self.opaque:
            return not other.empty
        if other.opaque:
            return not self.empty
        for write, table in ((True, self.writes), (False, self.reads)):
            for key, ids in table.items():
                for ident in ids:
                    if other.touches(key, ident, write):
                        return True
        return False

    def merge(self, other: Footprint) -> None:
        for mine, theirs in ((self.reads, other.reads), (self.writes, other.writes)):
            for key, ids in theirs.items():
                mine.setdefault(key, set()).update(ids)
        self.opaque = self.opaque or other.opaque
        self.keep.extend(other.keep)
        for k, v in other.where.items():
            self.where.setdefault(k, v)


_ANY_ATTR: Key = ("a", "*")


def _hit(ids: set[int | None] | None, ident: int | None) -> bool:
    if not ids:
        return False
    return ident is None or ident in ids or None in ids


def describe_key(key: Key) -> str:
    kind, name = key
    if kind == "a":
        return f".{name}"
    if kind == "g":
        return f"global {name}"
    if kind == "c":
        return f"variable {name}"
    if kind == "i":
        return "the items of a container"
    if kind == "f":
        return "a file descriptor"
    if kind == "x":
        return f"interpreter state ({name})"
    return "anything (an opaque step)"


# -- resolving operands against a live frame ------------------------------------------------


def _locals_get(frame: types.FrameType, name: str) -> Any:
    try:
        return frame.f_locals.get(name, _MISSING)
    except Exception:
        return _MISSING


def static_attr(obj: Any, name: str) -> Any:
    """obj.name without running Python code: instance dict, slots, class attributes."""
    if obj is _MISSING:
        return _MISSING
    if isinstance(obj, type):
        for klass in obj.__mro__:
            if name in klass.__dict__:
                return klass.__dict__[name]
        return _MISSING
    try:
        mro = type(obj).__mro__
    except Exception:
        return _MISSING
    found = _MISSING
    for klass in mro:
        d = klass.__dict__
        if name in d:
            found = d[name]
            kind = type(found)
            if kind is types.MemberDescriptorType:
                try:
                    return found.__get__(obj, type(obj))
                except AttributeError:
                    return _MISSING
            if hasattr(kind, "__set__") or kind is property:
                return _MISSING  # a data descriptor: reading it would run code
            break
    try:
        inst = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        inst = None
    if inst is not None and name in inst:
        return inst[name]
    return found


_VIEWS = {"items", "keys", "values"}
_ITER_OF_ARG0 = {iter, reversed, enumerate}
_COPIES = {range, list, tuple, dict, set, frozenset, sorted}
_ITERATORS = {
    "list_iterator", "list_reverseiterator", "tuple_iterator", "_deque_iterator",
    "_deque_reverse_iterator", "str_ascii_iterator", "bytes_iterator", "range_iterator",
}  # fmt: skip


def evaluate(src: Src, frame: types.FrameType) -> Any:
    """The object an operand names, now, or `_MISSING`."""
    if src is None:
        return _MISSING
    tag = src[0]
    if tag == "fast" or tag == "deref":
        return _locals_get(frame, src[1])
    if tag == "global":
        name = src[1]
        g = frame.f_globals
        if name in g:
            return g[name]
        return frame.f_builtins.get(name, _MISSING)
    if tag == "const":
        return src[1]
    if tag == "attr" or tag == "method":
        return static_attr(evaluate(src[1], frame), src[2])
    if tag == "call":
        fn = src[1]
        if fn is not None and fn[0] == "method" and fn[2] in _VIEWS:
            return evaluate(fn[1], frame)  # d.items(): iterating it reads d
        if fn is not None and fn[0] == "mkfunc":
            return _FRESH  # a generator expression's new generator
        callee = evaluate(fn, frame)
        if callee in _ITER_OF_ARG0:
            return evaluate(src[2], frame)
        if callee in _COPIES:
            return _FRESH  # a new object (the copy's read was recorded at the call)
        if isinstance(callee, (types.FunctionType, types.MethodType)):
            return _RESULT  # what a Python function returned
        return _MISSING
    if tag == "item":
        return _RESULT
    return _MISSING


# The value a Python function returned, or an item just taken from an iteration: read as a
# value, not as a shared container (its truth test or unpacking reads nothing shared).
_RESULT: Any = object()


def container_of(obj: Any) -> Any:
    """The container a built-in iterator reads, or `_MISSING` if it cannot be told."""
    if isinstance(obj, _CONTAINERS):
        return obj
    try:
        reduced = obj.__reduce__()
    except Exception:
        return _MISSING
    if (
        type(obj).__name__ in _ITERATORS
        and isinstance(reduced, tuple)
        and len(reduced) >= 2
        and isinstance(reduced[1], tuple)
        and reduced[1]
    ):
        return reduced[1][0]  # the sequence the iterator walks (its __reduce__ names it)
    return _MISSING


# -- C functions: what a call into C code touches ------------------------------------------------

_PURE = {
    "builtins": {
        "id", "isinstance", "issubclass", "callable", "abs", "round", "divmod", "pow", "chr",
        "ord", "format", "hex", "oct", "bin", "print", "locals", "globals", "vars", "dir",
        "hash", "getattr_static",
    },
    "time": {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns",
             "process_time", "thread_time"},
    "_thread": {"get_ident", "get_native_id", "allocate_lock"},
    "sys": {"_getframe", "exc_info", "exception", "getrecursionlimit", "getrefcount", "intern",
            "call_tracing", "is_finalizing", "audit"},
    "gc": {"isenabled"},
    "math": set(),  # every math function is pure
    "_contextvars": {"copy_context"},
    "_weakref": {"getweakrefcount", "proxy"},
    "_abc": set(),
    "posix": {"getpid", "getppid"},
}  # fmt: skip
_READS_ARG0 = {
    "builtins": {"len", "sorted", "sum", "min", "max", "any", "all", "repr", "ascii", "iter"},
    "_heapq": {"nsmallest", "nlargest"},
}
_WRITES_ARG0 = {
    "builtins": {"next"},
    "_heapq": {"heappush", "heappop", "heapify", "heapreplace", "heappushpop"},
    "_bisect": {"insort", "insort_left", "insort_right"},
}
_FD = {
    "posix": {"write", "read", "eventfd_write", "eventfd_read", "close", "writev", "readv"},
    "select": {"select", "poll", "epoll"},
    "signal": {"set_wakeup_fd"},
}
_ASYNCIO_C = {"_asyncio"}
_READ_METHODS = {
    "__len__", "__contains__", "__getitem__", "__iter__", "__reversed__", "__eq__", "__ne__",
    "__repr__", "__bool__", "copy", "count", "index", "get", "keys", "values", "items",
    "__sizeof__", "__reduce__", "__reduce_ex__", "isdisjoint", "issubset", "issuperset",
    "union", "intersection", "difference", "symmetric_difference", "__lt__", "__le__",
    "__gt__", "__ge__", "__hash__", "__format__", "__str__", "__getattribute__",
}  # fmt: skip
_PURE_TYPES = (
    object, int, float, str, bytes, bool, complex, type, super, slice, BaseException,
    types.SimpleNamespace, memoryview, property, staticmethod, classmethod,
)  # fmt: skip
_ARG_READING_TYPES = (list, tuple, set, frozenset, dict, collections.deque, bytearray, zip,
                      enumerate, reversed, map, filter)  # fmt: skip


def _module_of(fn: Any) -> str:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    return str(getattr(fn, "__module__", None) or "")


class Recorder:
    """Turns points and C calls into accesses for `sink`."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.keep: list[object] = []
        # A call whose callable could not be named: Python code (its frame shows up next) or
        # C code (opaque). Decided at the next access, or at `flush`.
        self._unknown: tuple[types.FrameType, types.CodeType, int, int] | None = None
        # the tracer's point count (set by the engine): where a late-decided access belongs
        self.count: Callable[[], int] = lambda: 0

    # -- a point ------------------------------------------------------------------------------

    def op(self, frame: types.FrameType, code: types.CodeType, offset: int) -> None:
        op = info(code).ops.get(offset)
        if op is not None:
            self.record(op, frame, code, offset)

    def flush_silently(self) -> None:
        """Forget a pending unknown call (between runs: nothing to record it in)."""
        self._unknown = None

    def flush(self) -> None:
        """Decide a pending unknown call now (nothing else ran: treat it as opaque)."""
        unknown, self._unknown = self._unknown, None
        if unknown is not None:
            self.sink(("*", ""), None, True, unknown[1], unknown[2], unknown[3])

    def record(self, op: Op, frame: types.FrameType, code: types.CodeType, offset: int) -> None:
        unknown = self._unknown
        if unknown is not None:
            self._unknown = None
            if frame is unknown[0]:
                # Back in the caller without a Python frame in between: it was C code.
                self.sink(("*", ""), None, True, unknown[1], unknown[2], unknown[3])
        kind = op.kind
        sink = self.sink
        if kind == "ra" or kind == "wa":
            obj = evaluate(op.a, frame)
            write = kind == "wa"
            if isinstance(obj, types.ModuleType):
                sink(("g", op.name), id(obj.__dict__), write, code, offset)
            else:
                sink(("a", op.name), self._ident(obj), write, code, offset)
        elif kind == "rg" or kind == "wg":
            sink(("g", op.name), id(frame.f_globals), kind == "wg", code, offset)
        elif kind == "rc" or kind == "wc":
            sink(("c", op.name), None, kind == "wc", code, offset)
        elif kind == "ri" or kind == "wi":
            obj = evaluate(op.a, frame)
            if obj is _FRESH or (obj is _RESULT and kind == "ri" and op.name != "subscr"):
                return
            if not isinstance(obj, _IMMUTABLE):
                sink(("i", ""), self._ident(obj), kind == "wi", code, offset)
        elif kind == "truth":
            obj = evaluate(op.a, frame)
            if obj is _MISSING or isinstance(obj, _CONTAINERS):
                sink(("i", ""), self._ident(obj), False, code, offset)
        elif kind == "iter":
            obj = evaluate(op.a, frame)
            if obj is _FRESH or isinstance(obj, (types.GeneratorType, types.CoroutineType, range)):
                return  # a generator's own code records what it reads
            container = container_of(obj)
            if not isinstance(container, _IMMUTABLE):
                sink(("i", ""), self._ident(container), False, code, offset)
        elif kind == "import":
            sink(("x", "import"), None, False, code, offset)
        elif kind == "binop":
            left = evaluate(op.a, frame)
            right = evaluate(op.b, frame)
            for obj in (left, right):
                if isinstance(obj, _CONTAINERS):
                    sink(("i", ""), self._ident(obj), False, code, offset)
            if op.name and isinstance(left, _CONTAINERS):
                sink(("i", ""), self._ident(left), True, code, offset)
        elif kind == "call":
            self._call(op, frame, code, offset)
        elif kind == "with":
            obj = evaluate(op.a, frame)
            if obj is _MISSING:
                sink(("*", ""), None, True, code, offset)
            elif not isinstance(getattr(type(obj), "__enter__", None), types.FunctionType):
                sink(("i", ""), self._ident(obj), True, code, offset)
        elif kind == "opaque":
            sink(("*", ""), None, True, code, offset)

    def _ident(self, obj: Any) -> int | None:
        if obj is _MISSING or obj is _RESULT:
            return None
        self.keep.append(obj)  # alive for the run: its id is never reused meanwhile
        return id(obj)

    def _call(self, op: Op, frame: types.FrameType, code: types.CodeType, offset: int) -> None:
        """A call, resolved statically to the callable its operands name. Python code records
        itself when it runs; a callable the operands cannot name is opaque."""
        if op.a is not None and op.a[0] == "mkfunc":
            return  # a nested function (a generator expression, say): Python code
        callee = evaluate(op.a, frame)
        if callee is _MISSING or callee is _RESULT:
            self._unknown = (frame, code, offset, self.count())  # the next access tells
            return
        arg0 = evaluate(op.b, frame) if op.b is not None else _MISSING
        self.ccall(callee, arg0, code, offset)

    # -- a call into C ------------------------------------------------------------------------

    def ccall(self, fn: Any, arg0: Any, code: types.CodeType | None, offset: int) -> None:
        """A call of `fn` (with first argument `arg0`, or `_MISSING`) from recorded code."""
        sink = self.sink
        kind = type(fn)
        if kind is types.MethodType:
            fn = fn.__func__  # a bound method: what matters is the function
            kind = type(fn)
        if kind in (types.FunctionType, types.CoroutineType, staticmethod, classmethod):
            return  # Python: its own code records what it touches
        if kind is types.BuiltinFunctionType:  # also bound methods of C objects
            owner = fn.__self__
            if owner is None or isinstance(owner, types.ModuleType):
                self._module_function(fn, arg0, code, offset)
                return
            self._method(owner, fn.__name__, code, offset)
            return
        if kind in (types.MethodDescriptorType, types.WrapperDescriptorType,
                    types.ClassMethodDescriptorType):  # fmt: skip
            if arg0 is _MISSING:
                sink(("*", ""), None, True, code, offset)
            else:
                self._method(arg0, fn.__name__, code, offset)
            return
        if kind is types.MethodWrapperType:
            self._method(fn.__self__, fn.__name__, code, offset)
            return
        if isinstance(fn, type):
            if fn.__flags__ & _HEAPTYPE and not _is_c_heap_type(fn):
                return  # a Python class: its __init__ / __new__ record themselves
            reads_arg = issubclass(fn, _ARG_READING_TYPES) and arg0 is not _MISSING
            if reads_arg and not isinstance(arg0, _IMMUTABLE):
                sink(("i", ""), self._ident(arg0), False, code, offset)
            return
        if kind is weakref_type:
            return  # dereferencing a weak reference
        call = kind.__dict__.get("__call__") if isinstance(kind, type) else None
        if isinstance(call, types.FunctionType):
            return  # a Python object's __call__: recorded there
        sink(("*", ""), None, True, code, offset)

    def _module_function(
        self, fn: Any, arg0: Any, code: types.CodeType | None, offset: int
    ) -> None:
        module = _module_of(fn)
        name = fn.__name__
        sink = self.sink
        if module == "math" or name in _PURE.get(module, ()):
            return
        if module == "builtins" and name in ("getattr", "hasattr", "setattr", "delattr"):
            write = name in ("setattr", "delattr")
            sink(("a", "*"), self._ident(arg0), write, code, offset)  # any attribute of it
            return
        if name in _READS_ARG0.get(module, ()) or name in _WRITES_ARG0.get(module, ()):
            write = name in _WRITES_ARG0.get(module, ())
            if arg0 is _FRESH or isinstance(arg0, (types.GeneratorType, types.CoroutineType)):
                return  # consuming a generator runs its own (recorded) code
            if arg0 is _MISSING or not isinstance(arg0, _IMMUTABLE):
                sink(("i", ""), self._ident(arg0), write, code, offset)
            return
        if name in _FD.get(module, ()):
            sink(("f", ""), None, name not in ("select", "poll"), code, offset)
            return
        if module in _ASYNCIO_C:
            sink(("x", "asyncio"), None, not name.startswith(("get", "_get", "current")),
                 code, offset)  # fmt: skip
            return
        sink(("*", ""), None, True, code, offset)

    def _method(self, owner: Any, name: str, code: types.CodeType | None, offset: int) -> None:
        if isinstance(owner, _IMMUTABLE):
            return
        sink = self.sink
        kind_name = type(owner).__name__
        if kind_name == "socket":
            sink(("f", ""), None, True, code, offset)
            return
        if kind_name == "Context" and name == "run":
            return  # runs Python code, which records itself
        if kind_name in ("ContextVar",):
            sink(("x", "contextvar"), None, name != "get", code, offset)
            return
        if isinstance(owner, type):
            return  # a class method of a C type (dict.fromkeys, int.from_bytes...)
        sink(("i", ""), id(owner), name not in _READ_METHODS, code, offset)


_HEAPTYPE = 1 << 9
weakref_type = type(__import__("weakref").ref(Footprint))


def _is_c_heap_type(cls: type) -> bool:
    """Heap types made by C extensions (their methods are C code)."""
    module = getattr(cls, "__module__", "")
    return module in ("builtins", "_asyncio", "_collections", "_io", "_socket", "select")


MISSING = _MISSING
# Operands that name no shared object: an unknown one, a fresh one, a returned value.
UNNAMED = (_MISSING, _FRESH, _RESULT)
