"""Random system files, for checking the analysis against the simulator on systems nobody wrote.

`random_system(rng)` returns the parsed-TOML form of a system (`parse_system` reads it): one to
four lines on a random chip, with the cases that break a first-job analysis on purpose: release
jitter up to the whole period (so a line's next arrival can come while its own handler still
runs), lines that share a GPIO bank, critical sections in handlers and in the background, code in
flash and in RAM, const loads from flash. The load is drawn per system, up to just under 1, so
the levels are busy but bounded. Any `random.Random` works, including hypothesis' `st.randoms()`
(hypothesis then leans every draw toward its simplest value).
"""

from __future__ import annotations

import random
from typing import Any

from irqio.timing.profile import load_profile
from irqio.timing.system import POLICIES

CHIPS = ("rp2040", "rp2350", "stm32f4", "esp32")


def random_system(
    rng: random.Random, *, chips: tuple[str, ...] = CHIPS, cycles: int = 300_000
) -> dict[str, Any]:
    """A random system that `parse_system` accepts, simulated for `cycles` by default."""
    chip = rng.choice(chips)
    p = load_profile(chip)
    cpi = rng.choice([1, 1.5, 2])
    resources = [f"r{i}" for i in range(rng.randint(1, 2))]
    n_lines = rng.randint(1, 4)
    # The system's load, shared out among the lines: most of it may sit on one line.
    load = rng.uniform(0.05, 0.95)
    weights = [rng.uniform(0.05, 1.0) for _ in range(n_lines)]
    lines = []
    for i in range(n_lines):
        instructions = rng.randint(1, 200)
        placement = rng.choice(["ram", "flash"])
        sections: list[dict[str, Any]] = [
            {
                "name": f"s{k}",
                "resource": rng.choice(resources),
                "instructions": rng.randint(1, 24),
                "placement": rng.choice(["ram", "flash"]),
                "data_loads": rng.randint(0, 2),
            }
            for k in range(rng.randint(0, 1))
        ]
        # Worst cost of one job as the analysis counts it, roughly: entry, exit, every line a miss.
        code = instructions + sum(s["instructions"] for s in sections)
        lines_touched = code * p.instruction_bytes // p.cache.line_bytes + 2 + 3 * len(sections)
        cost = (
            p.entry_cycles + p.exit_cycles + round(code * cpi) + lines_touched * p.flash_miss_cycles
        )
        share = load * weights[i] / sum(weights)
        gap = max(cost + 1, round(cost / share))
        jitter = round(gap * rng.choice([0.0, rng.uniform(0, 1), 1.0]))  # up to the period
        if rng.random() < 0.6:
            arrival = {"kind": "periodic", "period_cycles": gap, "jitter_cycles": jitter}
        else:
            mean = gap + rng.randint(0, 2 * gap)
            arrival = {
                "kind": "sporadic",
                "min_gap_cycles": gap,
                "mean_gap_cycles": mean,
                "jitter_cycles": jitter,
            }
        line: dict[str, Any] = {
            "name": f"l{i}",
            "priority": rng.randint(1, min(p.priority_levels, 4)),
            "arrival": arrival,
            "handler": {"instructions": instructions, "placement": placement},
            "sections": sections,
        }
        # Lines on GPIO pins share the chip's bank lines: the GPIO-bank trap, drawn on purpose.
        if p.pin_groups and rng.random() < 0.4:
            line["pin"] = rng.randint(0, p.pins - 1)
        else:
            line["nvic"] = f"IRQ{i}"
        lines.append(line)
    bg_sections = [
        {
            "name": f"b{k}",
            "resource": r,
            "rate_hz": rng.randint(1000, 50000),
            "instructions": rng.randint(1, 64),
            "placement": rng.choice(["ram", "flash"]),
            "data_loads": rng.randint(0, 3),
        }
        for k, r in enumerate(resources)
    ]
    return {
        "system": {
            "name": "random",
            "chip": chip,
            "cpi": cpi,
            "seed": rng.randint(0, 1000),
            "seconds": cycles / p.clock_hz,
            "policies": [pol for pol in POLICIES if p.basepri or pol != "basepri"],
        },
        "lines": lines,
        "background": {
            "name": "bg",
            "cpi": cpi,
            "misses_per_kinstr": rng.choice([0, 20, 80]),
            "sections": bg_sections,
        },
        "resources": {r: {} for r in resources},
    }
