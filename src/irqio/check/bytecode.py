"""Which bytecodes are preemption points, and what each one touches.

A preemption point is the moment before an instruction that may read or write state another
context can see: an attribute, a global, a closure cell, the items of a container, or a call
(which may do any of those). Instructions that only move values between the frame's own stack
and locals (`LOAD_FAST`, `STORE_FAST`, `LOAD_CONST`, `POP_TOP`, `PRECALL`, jumps on a known
bool, ...) are not points: a handler that runs before one of them sees exactly what it would
see before the next point, so they add runs without adding behaviours.

Counting only those instructions also makes the numbering the same on every supported Python.
CPython 3.11, 3.12 and 3.13 compile the same source to different instruction streams (3.11 has
`PRECALL` and `LOAD_METHOD`, 3.12 inlines comprehensions and adds `LOAD_SUPER_ATTR`, 3.13 adds
`TO_BOOL` before conditional jumps and `LOAD_FAST_LOAD_FAST`), but the same accesses in the same
order: so a replay handle found on one version lands on the same access on the others. The
rules that make it so are below (`_truth_visible`, `_is_comprehension_call`); the tests run the
example scenarios on every installed interpreter and compare the point sequences.

For the partial-order reduction (`irqio.check.footprint`) each point also says *what* it
touches: the operand an instruction works on is found by walking the stack back to the
instruction that pushed it (`_producer`). The walk stops at a jump target or at an instruction
it does not model; an operand it cannot name is a wildcard, which conflicts with every access of
its kind (sound, just less pruning).
"""

from __future__ import annotations

import dis
import sys
from types import CodeType
from typing import Any

PY = sys.version_info[:2]

# An operand, as far as the stack walk can name it (None: unknown).
#   ("fast", name) | ("deref", name) | ("global", name) | ("const", value) | ("null",)
#   ("attr", src, name)      an attribute of another operand
#   ("method", src, name)    a method loaded for a call (the callable half of LOAD_METHOD)
#   ("call", callable_src, arg0_src)
#   ("mkfunc", code)         a function made by MAKE_FUNCTION
#   ("item",)                the item a FOR_ITER just produced
Src = tuple[Any, ...] | None


class Op:
    """What one point does. `kind` is one of:

    ra/wa  read/write attribute `name` of `a`         rg/wg  read/write global `name`
    rc/wc  read/write closure cell `name`             ri/wi  read/write the items of `a`
    truth  truth test of `a` (a container's length)   iter   next item from `a`'s iterator
    binop  `a` op `b` (`inplace`: may write `a`)      call   a call (`a` callable, `b` arg 0)
    send   resume a sub-generator                     with   a context manager's enter/exit
    opaque anything else: may touch anything
    """

    __slots__ = ("a", "b", "kind", "name", "opname")

    def __init__(
        self, kind: str, opname: str, name: str = "", a: Src = None, b: Src = None
    ) -> None:
        self.kind = kind
        self.opname = opname
        self.name = name
        self.a = a
        self.b = b

    def describe(self) -> str:
        """The access in words, the same on every Python version."""
        kind, name = self.kind, self.name
        if kind == "ra":
            return f"reading .{name}"
        if kind == "wa":
            return f"writing .{name}"
        if kind in ("rg", "rc"):
            return f"reading {name}"
        if kind in ("wg", "wc"):
            return f"writing {name}"
        if kind == "ri":
            return f"reading {_src_text(self.a)}[...]" if name == "subscr" else "reading items"
        if kind == "wi":
            return f"writing {_src_text(self.a)}[...]"
        if kind == "truth":
            return f"testing {_src_text(self.a)}"
        if kind == "iter":
            return "taking the next item"
        if kind == "binop":
            return "an operator" if not name else "an in-place operator"
        if kind == "call":
            return f"calling {_src_text(self.a)}()"
        if kind == "send":
            return "resuming an awaited coroutine"
        if kind == "with":
            return "entering or leaving a with block"
        return "an opaque step"

    def __repr__(self) -> str:
        return f"Op({self.kind}, {self.opname}, {self.name!r})"


def _src_text(src: Src) -> str:
    if src is None:
        return "?"
    tag = src[0]
    if tag in ("fast", "deref", "global"):
        return str(src[1])
    if tag in ("attr", "method"):
        return f"{_src_text(src[1])}.{src[2]}"
    if tag == "call":
        return f"{_src_text(src[1])}()"
    if tag == "const":
        return repr(src[1])
    return "?"


class CodeInfo:
    """The points of one code object: offset -> Op (every offset not in it is not a point)."""

    __slots__ = ("ops",)

    def __init__(self, ops: dict[int, Op]) -> None:
        self.ops = ops


_cache: dict[CodeType, CodeInfo] = {}


def info(code: CodeType) -> CodeInfo:
    found = _cache.get(code)
    if found is None:
        found = _cache[code] = CodeInfo(_analyse(code))
    return found


# -- the classification -------------------------------------------------------------------------

_ATTR_READ = {"LOAD_ATTR", "LOAD_METHOD"}
_GLOBAL_READ = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"}
_GLOBAL_WRITE = {"STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME", "DELETE_NAME"}
_GENERATED_NAMES = {"__firstlineno__", "__static_attributes__", "__classdictcell__"}
_DEREF_READ = {"LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_DEREF"}
_DEREF_WRITE = {"STORE_DEREF", "DELETE_DEREF"}
_CALLS = {"CALL", "CALL_KW", "CALL_FUNCTION_EX"}
_WITH = {"BEFORE_WITH", "BEFORE_ASYNC_WITH", "WITH_EXCEPT_START"}
_EXTEND = {"LIST_EXTEND", "SET_UPDATE", "DICT_UPDATE", "DICT_MERGE"}
_OPAQUE = {
    "IMPORT_STAR",
    "GET_LEN",
    "MATCH_MAPPING",
    "MATCH_SEQUENCE",
    "MATCH_KEYS",
    "MATCH_CLASS",
    "LOAD_BUILD_CLASS",
    "SETUP_ANNOTATIONS",
    "PRINT_EXPR",
    "GET_AITER",
    "GET_ANEXT",
    "END_ASYNC_FOR",
}
_JUMPS_ON_TRUTH = {
    "POP_JUMP_IF_TRUE",
    "POP_JUMP_IF_FALSE",
    "POP_JUMP_FORWARD_IF_TRUE",
    "POP_JUMP_FORWARD_IF_FALSE",
    "POP_JUMP_BACKWARD_IF_TRUE",
    "POP_JUMP_BACKWARD_IF_FALSE",
    "JUMP_IF_TRUE_OR_POP",
    "JUMP_IF_FALSE_OR_POP",
}
# Producers of a value that is certainly a bool: a truth test of it reads nothing.
_BOOL_PRODUCERS = {
    "COMPARE_OP",
    "IS_OP",
    "CONTAINS_OP",
    "UNARY_NOT",
    "TO_BOOL",
    "CHECK_EXC_MATCH",
    "CHECK_EG_MATCH",
}
# BINARY_OP arguments from 13 on are the in-place forms (`+=`...).
_INPLACE_FROM = 13


_COMPREHENSIONS = ("<listcomp>", "<setcomp>", "<dictcomp>")
# 3.11: per comprehension code object, the cells it shares only with its enclosing function
# (3.12+ inlines the comprehension and keeps those variables in plain locals).
_comprehension_cells: dict[CodeType, frozenset[str]] = {}


def _local_cells(code: CodeType) -> frozenset[str]:
    """3.11: variables that are cells only because a comprehension captures them. 3.12+
    inlines comprehensions, so there they are plain locals: not points here either."""
    if PY >= (3, 12):
        return frozenset()
    children = [c for c in code.co_consts if isinstance(c, CodeType)]
    only: set[str] = set()
    for name in code.co_cellvars:
        users = [c for c in children if name in c.co_freevars]
        if users and all(c.co_name in _COMPREHENSIONS for c in users):
            only.add(name)
    for child in children:
        if child.co_name in _COMPREHENSIONS:
            _comprehension_cells[child] = frozenset(only & set(child.co_freevars))
    own = (
        _comprehension_cells.get(code, frozenset())
        if code.co_name in _COMPREHENSIONS
        else (frozenset())
    )
    return frozenset(only) | own


def _analyse(code: CodeType) -> dict[int, Op]:
    instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
    ops: dict[int, Op] = {}
    local_cells = _local_cells(code)
    for idx, ins in enumerate(instrs):
        if ins.opname in _DEREF_READ | _DEREF_WRITE and ins.argval in local_cells:
            continue
        op = _classify(instrs, idx, ins)
        if op is None:
            continue
        ops[ins.offset] = op
        if PY < (3, 12):
            # 3.11 traces an instruction with an EXTENDED_ARG prefix at the prefix only (the
            # prefix dispatches straight to it); 3.12+ reports both, and the point is the
            # instruction's own event.
            j = idx - 1
            while j >= 0 and instrs[j].opname == "EXTENDED_ARG":
                ops[instrs[j].offset] = op
                j -= 1
    return ops


def _classify(instrs: list[dis.Instruction], idx: int, ins: dis.Instruction) -> Op | None:
    name = ins.opname
    argval = ins.argval
    if name in _ATTR_READ:
        return Op("ra", name, str(argval), _operand(instrs, idx, 0))
    if name == "LOAD_SUPER_ATTR":
        return Op("ra", name, str(argval), _operand(instrs, idx, 0))
    if name in ("STORE_ATTR", "DELETE_ATTR"):
        return Op("wa", name, str(argval), _operand(instrs, idx, 0))
    if name in _GLOBAL_READ:
        return Op("rg", name, str(argval))
    if name in _GLOBAL_WRITE:
        if argval in _GENERATED_NAMES:
            return None  # stored by the compiler in a class body on some versions only
        return Op("wg", name, str(argval))
    if name in _DEREF_READ:
        return Op("rc", name, str(argval))
    if name in _DEREF_WRITE:
        return Op("wc", name, str(argval))
    if name in ("BINARY_SUBSCR", "BINARY_SLICE"):
        depth = 1 if name == "BINARY_SUBSCR" else 2
        return Op("ri", name, "subscr", _operand(instrs, idx, depth))
    if name in ("STORE_SUBSCR", "DELETE_SUBSCR"):
        return Op("wi", name, "subscr", _operand(instrs, idx, 1))
    if name == "STORE_SLICE":
        return Op("wi", name, "subscr", _operand(instrs, idx, 2))
    if name in _CALLS:
        if PY < (3, 12) and _is_comprehension_call(instrs, idx, ins):
            return None  # 3.12+ inlines comprehensions: no call there, so none here
        callable_src, arg0 = _call_operands(instrs, idx, ins)
        if PY < (3, 12) and ins.arg == 0 and callable_src == ("global", "super"):
            # zero-argument super() reads the __class__ cell; 3.12+ does it in LOAD_DEREF
            return Op("rc", name, "__class__")
        return Op("call", name, "", callable_src, arg0)
    if name in _WITH:
        return Op("with", name, "", _operand(instrs, idx, 0 if name != "WITH_EXCEPT_START" else 4))
    if name == "SEND":
        return Op("send", name)
    if name == "FOR_ITER":
        return Op("iter", name, "", _iterated(instrs, idx))
    if name in ("UNPACK_SEQUENCE", "UNPACK_EX"):
        return Op("ri", name, "", _operand(instrs, idx, 0))
    if name == "CONTAINS_OP":
        return Op("ri", name, "", _operand(instrs, idx, 0))
    if name in ("COMPARE_OP", "BINARY_OP"):
        inplace = name == "BINARY_OP" and (ins.arg or 0) >= _INPLACE_FROM
        return Op("binop", name, "inplace" if inplace else "", _operand(instrs, idx, 1),
                  _operand(instrs, idx, 0))  # fmt: skip
    if name in _EXTEND:
        src = _operand(instrs, idx, 0)
        if src is not None and src[0] == "const":
            return None  # a literal's constant tuple: nothing shared
        return Op("ri", name, "", src)
    if _is_truth_test(name):
        producer = _producer(instrs, idx, 0)
        if producer is not None and instrs[producer[0]].opname in _BOOL_PRODUCERS:
            return None  # testing a bool reads nothing
        return Op("truth", name, "", _operand(instrs, idx, 0))
    if name in ("IMPORT_NAME", "IMPORT_FROM"):
        return Op("import", name, str(argval))
    if name in _OPAQUE:
        return Op("opaque", name)
    return None


def _is_truth_test(name: str) -> bool:
    """An instruction that calls an object's truth test (`__bool__` / `__len__`).

    3.13 does it in `TO_BOOL`, before a jump or `UNARY_NOT` that then only sees a bool;
    3.11 and 3.12 do it in the jump (or `UNARY_NOT`) itself. Either way: one point per test."""
    if name == "TO_BOOL":
        return True
    return PY < (3, 13) and (name in _JUMPS_ON_TRUTH or name == "UNARY_NOT")


def _is_comprehension_call(instrs: list[dis.Instruction], idx: int, ins: dis.Instruction) -> bool:
    """3.11 runs a list/set/dict comprehension as a call of a nested function."""
    if ins.opname != "CALL" or ins.arg != 0:
        return False
    src = _operand(instrs, idx, 1)
    if src is None or src[0] != "mkfunc":
        return False
    return str(src[1].co_name) in ("<listcomp>", "<setcomp>", "<dictcomp>")


def _call_operands(
    instrs: list[dis.Instruction], idx: int, ins: dis.Instruction
) -> tuple[Src, Src]:
    """(callable, first argument) of a call instruction, as far as the walk can name them."""
    if ins.opname == "CALL_FUNCTION_EX":
        kwargs = (ins.arg or 0) & 1
        # 3.11/3.12: [NULL, callable, args, kwargs?]; 3.13: [callable, NULL, args, kwargs?]
        return _operand(instrs, idx, (2 if PY >= (3, 13) else 1) + kwargs), None
    argc = ins.arg or 0
    extra = 1 if ins.opname == "CALL_KW" else 0  # 3.13 keeps the keyword names on the stack
    low = _operand(instrs, idx, argc + 1 + extra)
    high = _operand(instrs, idx, argc + extra)
    if PY >= (3, 13):  # [callable, self_or_null, args...]
        if high is not None and high[0] == "null":
            return low, _operand(instrs, idx, argc - 1 + extra) if argc else None
        return low, high
    # 3.11/3.12: [NULL, callable, args...] or [method, self, args...]
    if low is not None and low[0] == "null":
        return high, _operand(instrs, idx, argc - 1 + extra) if argc else None
    return low, high


def _iterated(instrs: list[dis.Instruction], idx: int) -> Src:
    """What a FOR_ITER iterates: the operand of the GET_ITER just before the loop head."""
    j = idx - 1
    if j >= 0 and instrs[j].opname in ("GET_ITER", "GET_YIELD_FROM_ITER"):
        return _operand(instrs, j, 0)
    # 3.12+ comprehensions: GET_ITER, LOAD_FAST_AND_CLEAR, SWAP, BUILD_LIST, SWAP, FOR_ITER
    for k in range(max(0, idx - 6), idx):
        if instrs[k].opname == "GET_ITER":
            return _operand(instrs, k, 0)
    if j >= 0 and instrs[j].opname == "LOAD_FAST":  # 3.11 comprehension: `.0`
        return ("fast", instrs[j].argval)
    return None


# -- the stack walk -------------------------------------------------------------------------------

# Values each instruction pushes (its pops follow from dis.stack_effect). Anything not listed
# (and not handled in `_pushes`) stops the walk: its operand is unknown.
_PUSH1 = {
    "LOAD_FAST",
    "LOAD_FAST_CHECK",
    "LOAD_FAST_AND_CLEAR",
    "LOAD_CONST",
    "LOAD_DEREF",
    "LOAD_CLASSDEREF",
    "LOAD_FROM_DICT_OR_DEREF",
    "LOAD_FROM_DICT_OR_GLOBALS",
    "LOAD_CLOSURE",
    "LOAD_NAME",
    "LOAD_LOCALS",
    "LOAD_ASSERTION_ERROR",
    "LOAD_BUILD_CLASS",
    "PUSH_NULL",
    "BINARY_OP",
    "BINARY_SUBSCR",
    "BINARY_SLICE",
    "COMPARE_OP",
    "IS_OP",
    "CONTAINS_OP",
    "UNARY_NOT",
    "UNARY_NEGATIVE",
    "UNARY_INVERT",
    "UNARY_POSITIVE",
    "TO_BOOL",
    "CALL",
    "CALL_KW",
    "CALL_FUNCTION_EX",
    "CALL_INTRINSIC_1",
    "CALL_INTRINSIC_2",
    "BUILD_TUPLE",
    "BUILD_LIST",
    "BUILD_SET",
    "BUILD_MAP",
    "BUILD_CONST_KEY_MAP",
    "BUILD_STRING",
    "BUILD_SLICE",
    "FORMAT_VALUE",
    "FORMAT_SIMPLE",
    "FORMAT_WITH_SPEC",
    "CONVERT_VALUE",
    "MAKE_FUNCTION",
    "SET_FUNCTION_ATTRIBUTE",
    "GET_ITER",
    "GET_AWAITABLE",
    "GET_YIELD_FROM_ITER",
    "LIST_TO_TUPLE",
    "FOR_ITER",
    "SEND",
    "YIELD_VALUE",
    "CHECK_EXC_MATCH",
}
_PUSH0 = {
    "STORE_FAST",
    "STORE_DEREF",
    "STORE_GLOBAL",
    "STORE_NAME",
    "STORE_ATTR",
    "STORE_SUBSCR",
    "STORE_SLICE",
    "DELETE_FAST",
    "DELETE_ATTR",
    "DELETE_SUBSCR",
    "POP_TOP",
    "NOP",
    "RESUME",
    "PRECALL",
    "KW_NAMES",
    "EXTENDED_ARG",
    "LIST_APPEND",
    "SET_ADD",
    "MAP_ADD",
    "LIST_EXTEND",
    "SET_UPDATE",
    "DICT_UPDATE",
    "DICT_MERGE",
    "COPY_FREE_VARS",
    "MAKE_CELL",
}


def _pushes(ins: dis.Instruction) -> int | None:
    name = ins.opname
    if name in _PUSH1:
        return 1
    if name in _PUSH0:
        return 0
    arg = ins.arg or 0
    if name == "LOAD_GLOBAL":
        return 2 if arg & 1 else 1
    if name == "LOAD_ATTR":
        return 2 if PY >= (3, 12) and arg & 1 else 1
    if name == "LOAD_SUPER_ATTR":
        return 2 if arg & 1 else 1
    if name in ("LOAD_METHOD", "LOAD_FAST_LOAD_FAST", "BEFORE_WITH"):
        return 2
    if name == "UNPACK_SEQUENCE":
        return arg
    return None


def _effect(ins: dis.Instruction) -> int | None:
    # 3.11's compiler books a call's pops on PRECALL; the stack really changes at CALL.
    if ins.opname == "PRECALL":
        return 0
    if ins.opname == "CALL" and PY < (3, 12):
        return -((ins.arg or 0) + 1)
    try:
        if ins.opcode < dis.HAVE_ARGUMENT:
            return dis.stack_effect(ins.opcode)
        return dis.stack_effect(ins.opcode, ins.arg or 0, jump=False)
    except ValueError:
        return None


def _producer(instrs: list[dis.Instruction], idx: int, depth: int) -> tuple[int, int] | None:
    """(index of the instruction that pushed the value at `depth` before instrs[idx] runs,
    which of its pushed values: 0 = the first pushed), or None if the walk cannot tell."""
    j = idx
    for _ in range(64):
        if instrs[j].is_jump_target:
            return None  # reached from elsewhere too: the stack may differ
        j -= 1
        if j < 0:
            return None
        ins = instrs[j]
        name = ins.opname
        if name == "COPY":
            n = ins.arg or 1
            depth = n - 1 if depth == 0 else depth - 1
            continue
        if name == "SWAP":
            n = ins.arg or 1
            if depth == 0:
                depth = n - 1
            elif depth == n - 1:
                depth = 0
            continue
        pushed = _pushes(ins)
        effect = _effect(ins)
        if pushed is None or effect is None:
            return None
        if depth < pushed:
            return j, pushed - 1 - depth
        depth = depth - pushed + (pushed - effect)
    return None


def _operand(instrs: list[dis.Instruction], idx: int, depth: int, level: int = 0) -> Src:
    found = _producer(instrs, idx, depth)
    if found is None or level > 4:
        return None
    j, pos = found
    ins = instrs[j]
    name = ins.opname
    argval = ins.argval
    if name in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR"):
        return ("fast", argval)
    if name == "LOAD_FAST_LOAD_FAST":
        return ("fast", argval[pos])
    if name in ("LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_DEREF"):
        return ("deref", argval)
    if name == "LOAD_CONST":
        return ("const", argval)
    if name == "PUSH_NULL":
        return ("null",)
    if name in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"):
        if _pushes(ins) == 2:
            null_first = PY < (3, 13)
            if (pos == 0) == null_first:
                return ("null",)
        return ("global", argval)
    if name in ("LOAD_ATTR", "LOAD_METHOD"):
        receiver = _operand(instrs, j, 0, level + 1)
        if _pushes(ins) == 2:
            # 3.11/3.12: [method, self]; 3.13: [method, self-or-null]
            if pos == 0:
                return ("method", receiver, argval)
            return receiver
        return ("attr", receiver, argval)
    if name == "MAKE_FUNCTION":
        code_src = _operand(instrs, j, 0, level + 1)
        if code_src is not None and code_src[0] == "const" and isinstance(code_src[1], CodeType):
            return ("mkfunc", code_src[1])
        return None
    if name in ("CALL", "CALL_KW"):
        callable_src, arg0 = _call_operands(instrs, j, ins)
        return ("call", callable_src, arg0)
    if name == "FOR_ITER":
        return ("item",)  # the next item of an iteration
    return None
