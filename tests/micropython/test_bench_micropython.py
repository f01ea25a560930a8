"""`irqio bench micropython` runs end to end on the unix port (tiny sizes, a tenth of a second
idle). No timing thresholds: the targets live in the benchmark's own output."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from irqio import bench
from tests.micropython.conftest import ROOT


def test_bench_micropython_smoke(micropython_unix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = bench.load(ROOT / "benchmarks", "micropython")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    code = module.main(["--smoke", "--json"])
    monkeypatch.undo()
    assert code == 0
    data: dict[str, Any] = json.loads(out.getvalue())
    rows = data["rows"]
    assert set(rows) == {"irqio", "tsf"}  # Hinch's primitives are not fetched in a smoke run
    for lib, row in rows.items():
        assert row["idle_cpu_pct_1"] >= 0 and row["idle_cpu_pct_1000"] >= 0, lib
        for key in ("wake_p50_us", "wake_p99_us", "switch_us", "import_us"):
            assert isinstance(row[key], int | float) and math.isfinite(row[key]), (lib, key)
        assert row["wake_p50_us"] <= row["wake_p99_us"]
    assert rows["irqio"]["queue_in_order"] is True
    for key in ("queue_items_per_s", "batch_items_per_s", "handle_items_per_s"):
        assert rows["irqio"][key] > 0, key
    targets = {t["target"] for t in data["targets"]}
    assert any(t.startswith("idle") for t in targets) and any("wake p99" in t for t in targets)
    # the producer's cost and the floor it is compared with are measured, the rounds kept
    for key in ("produce_ns_per_item", "handle_ns_per_item", "floor_ns_per_item"):
        assert rows["irqio"][key] > 0, key
    assert len(rows["irqio"]["queue_items_per_s_rounds"]) >= 1


def test_paired_ratio_is_the_median_of_round_ratios() -> None:
    module = bench.load(ROOT / "benchmarks", "micropython")
    # a slow spell in round 2 hits both sides: the paired ratio stays 2, the medians' would not
    assert module.paired_ratio([200, 20, 220], [100, 10, 110]) == 2
    assert module.paired_ratio([1, 2], [1]) is None and module.paired_ratio(None, [1]) is None
