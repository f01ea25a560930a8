"""The one percentile irqio reports, pinned to its definition (nearest rank)."""

from __future__ import annotations

import pytest

from irqio.percentile import nearest_rank


def test_nearest_rank_definition() -> None:
    ten = list(range(1, 11))
    assert nearest_rank(ten, 0.5) == 5  # rank ⌈5⌉: never one sample high
    assert nearest_rank(ten, 0.51) == 6
    assert nearest_rank(ten, 0.0) == 1
    assert nearest_rank(ten, 1.0) == 10
    hundred = list(range(1, 101))
    assert nearest_rank(hundred, 0.99) == 99  # the 99th, not the maximum
    assert nearest_rank(hundred, 0.07) == 7  # 0.07 * 100 is 7.000000000000001 in floating point
    assert nearest_rank([42], 0.99) == 42
    assert nearest_rank([], 0.5) == 0


def test_nearest_rank_rejects_a_quantile_outside_0_1() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        nearest_rank([1, 2], 50)


def test_the_profiler_uses_it() -> None:
    from irqio.controller.profiler import Distribution
    from irqio.controller.samples import Samples

    samples = Samples(size=16)
    for ns in range(1, 11):
        samples.add(ns)
    dist = Distribution.of(samples)
    assert (dist.p50_ns, dist.p90_ns, dist.p99_ns) == (5, 9, 10)
