"""The seed, reproduced: examples/pico-can.toml (Tindell, "Raspberry Pi Pico Priority
Inversion", 2021)."""

from __future__ import annotations

from pathlib import Path

import pytest

from irqio.timing import load_system
from irqio.timing.analysis import analyze, line_by_name
from irqio.timing.model import simulate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pico-can.toml"
POST_US = 10.0  # the post's scope: INT low -> first ISR instruction


@pytest.fixture(scope="module")
def system():  # type: ignore[no-untyped-def]
    return load_system(EXAMPLE)


def test_analysis_global_is_the_posts_10us(system) -> None:  # type: ignore[no-untyped-def]
    b = line_by_name(analyze(system, "global"), "can")
    assert b.start is not None
    assert 0.7 * POST_US <= system.profile.us(b.start) <= 1.3 * POST_US
    assert b.blocked_by.startswith("background/atomic")


@pytest.mark.parametrize("policy", ["source-mask", "pin-mask"])
def test_analysis_ceiling_policies_at_most_1us(system, policy: str) -> None:  # type: ignore[no-untyped-def]
    b = line_by_name(analyze(system, policy), "can")
    assert b.start is not None and system.profile.us(b.start) <= 1.0
    assert b.blocked_by == "in-flight flash miss"  # the one stall nobody can mask away


def test_ram_policy_is_left_with_const_data_misses(system) -> None:  # type: ignore[no-untyped-def]
    b = line_by_name(analyze(system, "ram"), "can")
    g = line_by_name(analyze(system, "global"), "can")
    assert b.start is not None and g.start is not None
    assert 1.0 < system.profile.us(b.start) < system.profile.us(g.start)


def test_simulation_reproduces_the_post(system) -> None:  # type: ignore[no-untyped-def]
    us = system.profile.us
    worst = {}
    for policy, seconds in (("global", 2.0), ("source-mask", 0.5), ("pin-mask", 0.5)):
        result = simulate(system, policy, seconds=seconds)
        lat = result.stats["can"].latencies
        assert len(lat) > 1000
        worst[policy] = us(max(lat))
        bound = line_by_name(analyze(system, policy), "can").start
        assert bound is not None and max(lat) <= bound
    assert 0.7 * POST_US <= worst["global"] <= 1.3 * POST_US
    assert worst["source-mask"] <= 1.0
    assert worst["pin-mask"] <= 1.0


def test_deterministic_per_seed(system) -> None:  # type: ignore[no-untyped-def]
    a = simulate(system, "global", seconds=0.05, seed=7).stats["can"].latencies
    b = simulate(system, "global", seconds=0.05, seed=7).stats["can"].latencies
    c = simulate(system, "global", seconds=0.05, seed=8).stats["can"].latencies
    assert a == b and a != c


def test_gpio_bank_trap() -> None:
    trap = load_system(EXAMPLE, "bank-trap")
    us = trap.profile.us
    # The button is declared priority 1 but sits on IO_IRQ_BANK0 with the CAN pin: it runs at 3.
    assert trap.hw_level(trap.line("button")) == 3
    src = line_by_name(analyze(trap, "source-mask"), "can")
    pin = line_by_name(analyze(trap, "pin-mask"), "can")
    assert src.start is not None and pin.start is not None
    # source-mask must disable the whole bank to keep the button out: the CAN is back behind
    # MicroPython's flash sections.
    assert src.blocked_by.startswith("background/atomic") and us(src.start) > 7.0
    # pin-mask keeps the CAN pin enabled, but the button's callback runs at the CAN's level.
    assert pin.blocked_by == "in-flight flash miss" and us(pin.start) > 1.0
    assert us(pin.start) < us(src.start)
    sim_src = max(simulate(trap, "source-mask", seconds=1.0).stats["can"].latencies)
    sim_pin = max(simulate(trap, "pin-mask", seconds=0.5).stats["can"].latencies)
    assert us(sim_src) > 5.0  # the sections reach the CAN again in simulation
    assert us(sim_pin) > 1.0  # and the button's callback delays it under pin-mask
    assert sim_src <= src.start and sim_pin <= pin.start
