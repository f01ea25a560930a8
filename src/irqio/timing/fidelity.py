"""Published interrupt-latency measurements beside the model's prediction of each.

Every measurement names the shipped system file that models its setup (`systems/NAME.toml`, with
the sources of its parameters beside them), the statistic of the simulation that corresponds to
what was measured, and the public source of the number. `predict` runs the file as shipped; no
number is tuned to a row. tests/timing/test_fidelity.py checks each within ±30 % (or inside the
published range), and docs/timing.md's table says where the model misses.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from irqio.percentile import nearest_rank
from irqio.timing.model import simulate
from irqio.timing.system import load_system

TOLERANCE = 0.30


@dataclass(frozen=True)
class Measurement:
    system: str  # a shipped system file (systems/NAME.toml)
    line: str
    statistic: str  # see STATISTICS
    low: float  # the published value, or its range; in `unit`
    high: float
    unit: str  # "cycles", "ns" or "us"
    what: str
    source: str  # public URL
    policy: str = "global"

    def published(self) -> str:
        value = f"{self.low:g}" if self.low == self.high else f"{self.low:g}–{self.high:g}"
        return f"{value} {self.unit}"

    def within(self, predicted: float) -> bool:
        """Inside the published range widened by ±30 % (a single value: ±30 % of it)."""
        return self.low * (1 - TOLERANCE) <= predicted <= self.high * (1 + TOLERANCE)

    def error(self, predicted: float) -> float:
        """Relative distance to the published range (0 inside it)."""
        if predicted < self.low:
            return predicted / self.low - 1
        if predicted > self.high:
            return predicted / self.high - 1
        return 0.0


# What each statistic is (arrival = the edge at the pin or the NVIC):
STATISTICS = {
    "start_max": "worst start latency: arrival -> first handler instruction",
    "response_p50": "median arrival -> end of the handler's last part (the output edge)",
    "deferred_mean": "mean arrival -> end of the deferred code (the scheduled callback's edge)",
}

MEASUREMENTS = (
    Measurement(
        "arm-entry-m0", "irq", "start_max", 16, 16, "cycles",
        "Cortex-M0 entry, zero-wait memory",
        "https://developer.arm.com/documentation/ddi0432/c/",
    ),
    Measurement(
        "arm-entry-m0plus", "irq", "start_max", 15, 15, "cycles",
        "Cortex-M0+ entry, zero-wait memory",
        "https://developer.arm.com/documentation/ddi0484/c/",
    ),
    Measurement(
        "arm-entry-m3", "irq", "start_max", 12, 12, "cycles",
        "Cortex-M3 entry, zero-wait memory",
        "https://developer.arm.com/docs/103489845",
    ),
    Measurement(
        "arm-entry-m4", "irq", "start_max", 12, 12, "cycles",
        "Cortex-M4 entry, zero-wait memory",
        "https://developer.arm.com/docs/103489845",
    ),
    Measurement(
        "rp2040-gpio-ack-after", "fault_in", "response_p50", 525, 525, "ns",
        "RP2040 GPIO edge -> SRAM handler -> gpio_put, acknowledge after the put",
        "https://github.com/raspberrypi/pico-sdk/issues/2543",
    ),
    Measurement(
        "rp2040-gpio-ack-ram", "fault_in", "response_p50", 637, 637, "ns",
        "same, acknowledge before the put, moved to RAM",
        "https://github.com/raspberrypi/pico-sdk/issues/2543",
    ),
    Measurement(
        "rp2040-gpio-ack-flash", "fault_in", "response_p50", 2400, 2400, "ns",
        "same, acknowledge before the put, in flash (one cold XIP call)",
        "https://github.com/raspberrypi/pico-sdk/issues/2543",
    ),
    Measurement(
        "rp2350-xip-entry", "irq", "start_max", 300, 300, "cycles",
        "RP2350 entry with XIP misses outstanding (~300 vs 12; worst 4 x miss)",
        "https://github.com/raspberrypi/pico-feedback/issues/479",
    ),
    Measurement(
        "micropython-pyboard-hard", "pin", "response_p50", 8.2, 8.2, "us",
        "Pyboard v1.0 (STM32F405 @168 MHz), MicroPython hard handler",
        "https://github.com/micropython/micropython/issues/2972",
    ),
    Measurement(
        "micropython-pico-hard", "pin17", "response_p50", 20, 25, "us",
        "Pico, MicroPython hard Pin IRQ (typical)",
        "https://github.com/micropython/micropython/issues/6957",
    ),
    Measurement(
        "micropython-pico-soft-before", "pin2", "deferred_mean", 46, 46, "us",
        "Pico, MicroPython soft Pin IRQ, idle loop, before tickless (average)",
        "https://github.com/micropython/micropython/pull/12837",
    ),
    Measurement(
        "micropython-pico-soft-tickless", "pin2", "deferred_mean", 34, 34, "us",
        "same, after the tickless change (average)",
        "https://github.com/micropython/micropython/pull/12837",
    ),
    Measurement(
        "pico-can", "can", "start_max", 10, 10, "us",
        "Pico + MCP2518 CAN handler in RAM, MicroPython atomic sections in flash",
        "https://kentindell.github.io/2021/03/05/pico-priority-inversion/",
    ),
)  # fmt: skip


def predict(m: Measurement, seconds: float | None = None) -> float:
    """The model's value of `m.statistic` for the shipped system, in `m.unit`."""
    system = load_system(m.system)
    result = simulate(system, m.policy, seconds=seconds)
    stats = result.stats[m.line]
    if m.statistic == "start_max":
        cycles: float = max(stats.latencies)
    elif m.statistic == "response_p50":
        cycles = int(nearest_rank(sorted(stats.responses), 0.50))
    elif m.statistic == "deferred_mean":
        cycles = statistics.fmean(stats.deferred)
    else:
        raise ValueError(f"unknown statistic {m.statistic!r}; known: {', '.join(STATISTICS)}")
    if m.unit == "cycles":
        return cycles
    us = system.profile.us(cycles)
    return us * 1000 if m.unit == "ns" else us
