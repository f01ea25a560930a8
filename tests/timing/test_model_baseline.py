"""The fast simulation loop gives the results of the loop it replaced, for the same seed.

The replaced model.py is read from git (the commit benchmarks/bench_timing.py names) and loaded
beside today's; both run the shipped pico-can and random systems. Skipped where the repository's
history is not there (an sdist, a shallow clone)."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from irqio.timing import model
from irqio.timing.generate import random_system
from irqio.timing.system import load_system, parse_system

ROOT = Path(__file__).resolve().parents[2]
BASELINE = "06655660ec9ea03daee0bb50a7254a23260c9477"  # as in benchmarks/bench_timing.py


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    try:
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{BASELINE}:src/irqio/timing/model.py"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("the baseline commit is not in this checkout's history")
    path = tmp_path_factory.mktemp("baseline") / "baseline_model.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("irqio_test_baseline_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def assert_same(old: ModuleType, system: object, policy: str, seconds: float) -> None:
    a = old.simulate(system, policy, seconds=seconds, trace_limit=2000)
    b = model.simulate(system, policy, seconds=seconds, trace_limit=2000)  # type: ignore[arg-type]
    assert a.events == b.events
    assert (a.cache_hits, a.cache_misses) == (b.cache_hits, b.cache_misses)
    assert a.trace == b.trace
    for name, st in a.stats.items():
        new = b.stats[name]
        assert (st.latencies, st.responses, st.overruns, st.worst_arrival) == (
            new.latencies,
            new.responses,
            new.overruns,
            new.worst_arrival,
        ), (policy, name)


@pytest.mark.parametrize("variant", [None, "bank-trap"])
def test_pico_can_as_before(baseline: ModuleType, variant: str | None) -> None:
    system = load_system("pico-can", variant)
    for policy in system.policies:
        assert_same(baseline, system, policy, 0.05)


def test_random_systems_as_before(baseline: ModuleType) -> None:
    checked = 0
    for i in range(40):
        system = parse_system(random_system(random.Random(f"baseline:{i}")), "random.toml")
        if system.profile.flash_outstanding > 1:
            continue  # outstanding flash transfers (RP2350) came after the baseline
        for policy in system.policies:
            assert_same(baseline, system, policy, 300_000 / system.profile.clock_hz)
        checked += 1
    assert checked >= 20
