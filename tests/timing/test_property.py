"""Property: over random systems, the simulation never exceeds the analysis bound."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irqio.timing.analysis import analyze
from irqio.timing.model import simulate
from irqio.timing.system import POLICIES, parse_system

placements = st.sampled_from(["ram", "flash"])


@st.composite
def systems(draw: Any) -> dict[str, Any]:
    chip = draw(st.sampled_from(["rp2040", "stm32f4"]))
    levels = 4 if chip == "rp2040" else 16
    n_res = draw(st.integers(1, 2))
    resources = [f"r{i}" for i in range(n_res)]
    lines = []
    for i in range(draw(st.integers(1, 4))):
        sections = [
            {
                "name": f"s{k}",
                "resource": draw(st.sampled_from(resources)),
                "instructions": draw(st.integers(1, 24)),
                "placement": draw(placements),
                "data_loads": draw(st.integers(0, 2)),
            }
            for k in range(draw(st.integers(0, 1)))
        ]
        line: dict[str, Any] = {
            "name": f"l{i}",
            "priority": draw(st.integers(1, min(levels, 4))),
            "arrival": draw(
                st.one_of(
                    st.builds(
                        lambda p, j: {"kind": "periodic", "period_cycles": p, "jitter_cycles": j},
                        st.integers(4000, 20000),
                        st.integers(0, 500),
                    ),
                    st.builds(
                        lambda g, x: {
                            "kind": "sporadic",
                            "min_gap_cycles": g,
                            "mean_gap_cycles": g + x,
                        },
                        st.integers(4000, 20000),
                        st.integers(0, 20000),
                    ),
                )
            ),
            "handler": {"instructions": draw(st.integers(1, 40)), "placement": draw(placements)},
            "sections": sections,
        }
        # Pins 0-29 of the RP2040 share IO_IRQ_BANK0: draw some to exercise the bank trap.
        if chip == "rp2040" and draw(st.booleans()):
            line["pin"] = draw(st.integers(0, 29))
        else:
            line["nvic"] = f"IRQ{i}"
        lines.append(line)
    bg_sections = [
        {
            "name": f"b{k}",
            "resource": r,
            "rate_hz": draw(st.integers(1000, 50000)),
            "instructions": draw(st.integers(1, 64)),
            "placement": draw(placements),
            "data_loads": draw(st.integers(0, 3)),
        }
        for k, r in enumerate(resources)
    ]
    policies = [p for p in POLICIES if chip != "rp2040" or p != "basepri"]
    return {
        "system": {
            "name": "random",
            "chip": chip,
            "cpi": draw(st.sampled_from([1, 1.5, 2])),
            "seed": draw(st.integers(0, 1000)),
            "policies": policies,
        },
        "lines": lines,
        "background": {
            "name": "bg",
            "misses_per_kinstr": draw(st.sampled_from([0, 20, 80])),
            "sections": bg_sections,
        },
        "resources": {r: {} for r in resources},
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(systems())
def test_simulation_never_exceeds_the_bound(data: dict[str, Any]) -> None:
    system = parse_system(data, "random.toml")
    for policy in system.policies:
        bounds = {b.line: b for b in analyze(system, policy)}
        result = simulate(system, policy, seconds=300_000 / system.profile.clock_hz)
        for name, stats in result.stats.items():
            b = bounds[name]
            if b.start is not None and stats.latencies:
                assert max(stats.latencies) <= b.start, (policy, name, max(stats.latencies), b)
            if (
                b.response is not None
                and stats.responses
                and b.response <= system.line(name).arrival.gap
            ):
                assert max(stats.responses) <= b.response, (policy, name, max(stats.responses), b)
