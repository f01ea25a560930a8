"""NVIC rules on tiny systems whose exact cycle answers are worked out by hand.

RP2040 profile: entry 15 cycles, exit 10, tail-chain 6, flash miss 56, 4 instructions per line.
cpi = 1 and a background with no critical sections and no flash misses of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from irqio.timing import load_system
from irqio.timing.model import simulate

HEAD = """
[system]
name = "tiny"
chip = "rp2040"
cpi = 1
policies = ["global", "source-mask", "pin-mask"]
[background]
name = "idle"
"""


def line(
    name: str,
    prio: int,
    times: list[int],
    instructions: int,
    placement: str = "ram",
    extra: str = "",
) -> str:
    return f"""
[[lines]]
name = "{name}"
priority = {prio}
nvic = "IRQ_{name.upper()}"
arrival = {{ kind = "trace", times_cycles = {times} }}
handler = {{ instructions = {instructions}, placement = "{placement}" }}
{extra}
"""


def run(
    write: Callable[[str], Path], body: str, policy: str = "global"
) -> dict[str, tuple[list[int], list[int]]]:
    system = load_system(write(HEAD + body))
    result = simulate(system, policy, seconds=1e-5)  # 1250 cycles
    return {n: (s.latencies, s.responses) for n, s in result.stats.items()}


def test_entry_latency_alone(write_toml: Callable[[str], Path]) -> None:
    got = run(write_toml, line("a", 1, [100], 10))
    assert got["a"] == ([15], [25])  # starts at 115, ends at 125


def test_preemption(write_toml: Callable[[str], Path]) -> None:
    # L from 0: starts 15. H arrives 50: entry to 65, runs 10 to 75, exit 10 to 85.
    # L ran 35 of 100 cycles before; 65 left -> ends at 150.
    got = run(write_toml, line("low", 1, [0], 100) + line("high", 2, [50], 10))
    assert got["high"] == ([15], [25])
    assert got["low"] == ([15], [150])


def test_tail_chaining(write_toml: Callable[[str], Path]) -> None:
    # H at 0 starts 15, ends 25; L (arrived at 5) is pending: tail-chain 6 -> starts at 31.
    got = run(write_toml, line("low", 1, [5], 10) + line("high", 2, [0], 10))
    assert got["high"] == ([15], [25])
    assert got["low"] == ([26], [36])


def test_late_arrival(write_toml: Callable[[str], Path]) -> None:
    # L arrives at 0 and its entry runs 0..15; H arrives at 5, during that entry, and takes it
    # over: H starts at 15 (latency 10). Then L tail-chains at 25 + 6 = 31.
    got = run(write_toml, line("low", 1, [0], 10) + line("high", 2, [5], 10))
    assert got["high"] == ([10], [20])
    assert got["low"] == ([31], [41])


def test_equal_priority_does_not_preempt(write_toml: Callable[[str], Path]) -> None:
    # A at 0 runs 15..115; B (same priority) arrives at 20 and waits: tail-chain -> 121.
    got = run(write_toml, line("a", 2, [0], 100) + line("b", 2, [20], 10))
    assert got["b"] == ([101], [111])


def test_exit_is_abandoned_for_a_new_arrival(write_toml: Callable[[str], Path]) -> None:
    # A runs 15..25 then exits 25..35; B arrives at 30, during the exit: tail-chain 30..36.
    got = run(write_toml, line("a", 1, [0], 10) + line("b", 1, [30], 10))
    assert got["b"] == ([6], [16])


SECTION_LOW = """
[[lines.sections]]
name = "s"
resource = "r"
instructions = 8
placement = "flash"
"""


def masked_system(
    policy: str, write: Callable[[str], Path]
) -> dict[str, tuple[list[int], list[int]]]:
    # low: handler of 8 flash instructions around a section of 8 flash instructions (all cold):
    #   arrives 0, entry to 15, line 1 miss to 71 + 4 cycles -> 75 (latency 71)
    #   section at 75: line miss to 131 + 4 -> 135, line miss to 191 + 4 -> 195: mask released
    #   last plain line: miss 195..251 + 4 -> 255.
    # high uses r too (so the section keeps it out); urgent does not use r.
    body = (
        line("low", 1, [0], 8, "flash", SECTION_LOW)
        + line(
            "high", 2, [80], 10, "ram", SECTION_LOW.replace('"flash"', '"ram"').replace("8", "2")
        )
        + line("urgent", 3, [80], 10)
        + "[resources.r]\n"
    )
    return run(write, body, policy)


def test_global_mask_and_flash_misses(write_toml: Callable[[str], Path]) -> None:
    got = masked_system("global", write_toml)
    assert got["low"][0] == [71]
    # Both wait for the section end at 195; urgent goes first: 195 + 15 = 210 -> latency 130.
    assert got["urgent"][0] == [130]
    # urgent ends 220, high tail-chains: 226 -> latency 146.
    assert got["high"][0] == [146]


def test_in_flight_miss_is_not_abandoned(write_toml: Callable[[str], Path]) -> None:
    # source-mask: the section disables the NVIC lines at or below ceiling 2 (low, high), not
    # urgent. urgent arrives at 80 during the miss 75..131: entry starts at 131 -> starts 146.
    got = masked_system("source-mask", write_toml)
    assert got["urgent"][0] == [66]
    # high stays masked until 195 (+ urgent's preemption of 10 + entry/exit): urgent runs
    # 146..156, exits to 166, the section resumes and re-fetches its line (still cached: hit),
    # 4 - (135 - 131)... the step had 4 cycles left at 131 -> ends 170; next line 170: miss to 226
    # + 4 -> 230 releases the mask; high: 230 + 15 = 245 -> latency 165.
    assert got["high"][0] == [165]
