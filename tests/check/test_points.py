"""Points are the same on every supported Python: one per access, whatever bytecode the
version compiles it to, so a replay handle found on 3.11 lands on the same access on 3.13.
Each construct below is traced live; the expected accesses are the same on every version."""

import sys
from collections.abc import Callable
from typing import Any

import pytest

from irqio.check.bytecode import info
from irqio.check.tracer import Tracer

HERE = __file__


def _points(fn: Callable[[], object]) -> list[str]:
    """The accesses at the points of one call of `fn` (in this file), in order."""
    seen: list[str] = []
    tracer = Tracer(lambda filename: filename == HERE)

    def on_point(i: int, code: Any, offset: int) -> None:
        op = info(code).ops[offset]
        seen.append(f"{op.kind} {op.name}".strip())
        tracer.set_next(i + 1)

    tracer.start(0, on_point)
    try:
        fn()
    finally:
        tracer.stop()
        tracer.close()
    return seen


class Box:
    def __init__(self) -> None:
        self.state = False
        self.n = 0
        self.items = [1, 2]
        self.cell = (1, 2)


class Child(Box):
    def __init__(self) -> None:
        super().__init__()


def not_attr(b: Box) -> None:
    if not b.state:
        pass


def compare(a: int, b: int) -> None:
    if a < b:
        pass


def increment(b: Box) -> None:
    b.n += 1


def comprehension(b: Box, s: Box) -> list[int]:
    return [s.n + x for x in b.items]


def unpack(b: Box) -> int:
    x, y = b.cell
    return x + y


def loop_truth(items: list[int]) -> None:
    while items:
        items.pop()


def and_or(b: Box, q: list[int]) -> object:
    return (b.n < 1) and q


def subscript(d: dict[str, int]) -> None:
    d["k"] = d["j"] + 1


def formatted(b: Box) -> str:
    return f"{b.n!r} {b.n:3}"


def make_class() -> type:
    class K:
        x = 1

    return K


# A jump over more than 255 bytes of code takes an EXTENDED_ARG prefix, which 3.11 traces
# instead of the jump and 3.12+ traces as well as the jump: one point either way.
_FAR = (
    "def far_jump(b, go):\n    while go or not b.state:\n        go = False\n"
    + "".join(f"        b.v{i} = {i}\n" for i in range(40))
    + "        b.state = True\n"
)
exec(compile(_FAR, HERE, "exec"))
far_jump: Callable[[Box, bool], None] = globals()["far_jump"]


CASES: list[tuple[Callable[[], object], list[str]]] = [
    (lambda: not_attr(BOX), ["rg not_attr", "rg BOX", "call", "ra state", "truth"]),
    (lambda: compare(1, 2), ["rg compare", "call", "binop"]),
    (lambda: increment(BOX), ["rg increment", "rg BOX", "call", "ra n", "binop inplace", "wa n"]),
    (
        lambda: Child(),
        [
            "rg Child",
            "call",
            "rg super",
            "rc __class__",
            "ra __init__",
            "call",
            "wa state",
            "wa n",
            "wa items",
            "wa cell",
        ],
    ),
    (
        lambda: comprehension(BOX, BOX),
        [
            "rg comprehension",
            "rg BOX",
            "rg BOX",
            "call",
            "ra items",
            "iter",
            "ra n",
            "binop",
            "iter",
            "ra n",
            "binop",
            "iter",
        ],
    ),
    (lambda: unpack(BOX), ["rg unpack", "rg BOX", "call", "ra cell", "ri", "binop"]),
    (
        lambda: loop_truth([1, 2]),
        ["rg loop_truth", "call", "truth", "ra pop", "call", "truth", "ra pop", "call", "truth"],
    ),
    (lambda: and_or(BOX, []), ["rg and_or", "rg BOX", "call", "ra n", "binop"]),
    (lambda: subscript({"j": 1}), ["rg subscript", "call", "ri subscr", "binop", "wi subscr"]),
    (lambda: formatted(BOX), ["rg formatted", "rg BOX", "call", "ra n", "ra n"]),
    (
        lambda: make_class(),  # 3.13 also stores __firstlineno__, __static_attributes__
        [
            "rg make_class",
            "call",
            "opaque",
            "call",
            "rg __name__",
            "wg __module__",
            "wg __qualname__",
            "wg x",
        ],
    ),
    (
        lambda: far_jump(Box(), False),
        [
            "rg far_jump",
            "rg Box",
            "call",
            "wa state",
            "wa n",
            "wa items",
            "wa cell",
            "call",
            "truth",
            "ra state",
            "truth",
            *(f"wa v{i}" for i in range(40)),
            "wa state",
            "truth",
            "ra state",
            "truth",
        ],
    ),
]
BOX = Box()


@pytest.mark.parametrize(("fn", "expected"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_the_same_accesses_are_points_on_every_python(
    fn: Callable[[], object], expected: list[str]
) -> None:
    assert _points(fn) == expected, f"Python {sys.version_info[:2]}"
