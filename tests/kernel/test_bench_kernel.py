"""`irqio bench kernel` measures with one file on two interpreters: its measuring half must
keep running on CPython and on MicroPython's unix port (tiny sizes; no timing thresholds here,
the targets live in the benchmark's own output)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from irqio import bench
from tests.micropython.conftest import unix_binary

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_kernel.py"


def _bench() -> ModuleType:
    return bench.load(BENCH.parent, "kernel")  # puts benchmarks/ on the path, for benchkit


def _interpreters() -> list[str]:
    found = [sys.executable]
    binary = unix_binary()
    if binary is not None:
        found.append(str(binary))
    return found


@pytest.mark.parametrize("interp", _interpreters(), ids=lambda p: Path(p).name)
def test_the_measuring_half_runs_on_both_interpreters(interp: str) -> None:
    bench = _bench()
    switch = bench.run_cell(interp, "switch", "irqio", 200, timeout=60)
    assert switch["switch_us"] > 0
    heap = bench.run_cell(interp, "heap", "irqio", 50, timeout=60)
    assert heap["heap_bytes_per_switch"] >= 0
    if Path(interp).name == "micropython":
        assert heap == {"heap_bytes_per_switch": 0.0, "heap_locked_switches_ok": 1.0}
    wake = bench.run_cell(interp, "wake", "irqio", 5, timeout=60)
    assert 0 < wake["wake_p50_us"] <= wake["wake_p99_us"]
