"""The one percentile irqio reports: nearest rank.

The q-quantile of n sorted samples is the smallest sample with at least q·n samples at or
below it: the sample at 1-based rank ⌈q·n⌉ (rank 1 for q = 0). So p50 of 1..10 is 5 and p99 of
100 samples is the 99th, never the maximum. Every figure irqio prints (profiler, timing
summaries, demo, benchmarks) goes through `nearest_rank`; tests/test_percentile.py pins the
definition.
"""

import math


def nearest_rank(sorted_values: "list[int] | list[float]", q: float) -> float:
    """The nearest-rank `q`-quantile (0 <= q <= 1) of `sorted_values` (ascending); 0 if empty."""
    n = len(sorted_values)
    if n == 0:
        return 0
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile is between 0 and 1, got {q!r}")
    # why the 1e-9: q·n computed in floating point lands a hair above a whole number
    # (0.07 * 100 = 7.000000000000001), which must not round up to the next rank.
    rank = max(1, math.ceil(q * n - 1e-9))
    return sorted_values[min(rank, n) - 1]
