"""Mutated system files: every one loads, analyses and simulates, or is one SystemFileError.

The systems come from irqio.timing.generate; one to three leaves each are replaced by a value a
typo or an adversary gives (a review tried 1,600 such files by hand: inf, nan, 0, huge numbers,
wrong types, escape sequences, deep nesting).
"""

from __future__ import annotations

import math
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irqio.timing.analysis import analyze
from irqio.timing.errors import SystemFileError
from irqio.timing.generate import random_system
from irqio.timing.model import simulate
from irqio.timing.system import parse_system

NUMBERS: list[Any] = [math.inf, -math.inf, math.nan, 0, 0.0, -1, 0.001, 1e-300, 2**31, 2**63]
NUMBERS += [10**30, 1e300, 7, 1.5]
STRINGS: list[Any] = ["", "x", "\x1b[2J", "[/]", "../../x", "a b", "\u202e", "é" * 101]
OTHERS: list[Any] = [True, [], {}, [[[[[[]]]]]], {"kind": "periodic"}, None]


def leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in nested dicts and lists (containers included)."""
    out = [path] if path else []
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        items = []
    for key, child in items:
        out += leaves(child, (*path, key))
    return out


def mutate(data: dict[str, Any], rng: random.Random) -> None:
    """Replace one to three values: mostly a number by a nasty number and a string by a nasty
    string (so many files get past the type checks), sometimes anything by anything."""
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(leaves(data))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        old = parent[path[-1]]
        what = rng.random()
        if what < 0.05 and isinstance(parent, dict):
            del parent[path[-1]]
        elif what < 0.1 and isinstance(parent, dict):
            parent[f"{path[-1]}_typo"] = 1
        elif what < 0.25:
            parent[path[-1]] = rng.choice(NUMBERS + STRINGS + OTHERS)
        elif isinstance(old, bool | dict | list) or old is None:
            continue
        elif isinstance(old, int | float):
            parent[path[-1]] = rng.choice(NUMBERS)
        else:
            parent[path[-1]] = rng.choice(STRINGS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32))
def test_a_mutated_system_is_accepted_or_one_clear_error(seed: int) -> None:
    rng = random.Random(seed)
    data = random_system(rng, cycles=20_000)
    mutate(data, rng)
    try:
        system = parse_system(data, "mutated.toml")
    except SystemFileError as exc:
        message = str(exc)
        assert message.startswith("mutated.toml: ") and "\n" not in message
        assert message.isprintable()
        return
    for policy in system.policies:
        analyze(system, policy)
        simulate(system, policy, seconds=20_000 / system.profile.clock_hz)
