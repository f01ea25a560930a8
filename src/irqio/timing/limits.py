"""The largest inputs the timing model runs, and why each limit is where it is.

Every number of a system file is checked against these before any work starts, and the error
says the limit, so a typo (`instructions = 2147483648`, `seconds = 1e30`) is a one-line message
instead of a hang or an exhausted memory.
"""

from __future__ import annotations

# A system file is a few KiB (pico-can.toml: 7 KiB). Reading stops after this many bytes, so
# /dev/zero or a log file given by mistake costs nothing.
MAX_FILE_BYTES = 1 << 20

# Code is compiled to one fetch step per cache line visited, and the simulator walks the steps:
# work and memory grow with the instruction count (10^7 instructions: ~20 s, ~500 MB). An
# interrupt handler or critical section of 100,000 instructions already runs ~1 ms at 100 MHz.
MAX_INSTRUCTIONS = 100_000
MAX_DATA_LOADS = 10_000  # const loads per section: one fetch step each
MAX_FOOTPRINT_BYTES = 1 << 32  # a 32-bit address space

# A run's work is its events: every arrival and background section entry, and every fetch step
# of the code they run. The simulator does ~0.3-1 M events per second: bound one policy's run
# (budget.py estimates it before the run and says how many seconds fit).
MAX_RUN_EVENTS = 10_000_000
MAX_TRACE_TIMES = 2_000_000  # times of a `trace` arrival (all drawn before the run)

# Times: periods, gaps, jitter, offsets, trace times and simulated seconds.
MAX_SECONDS = 3600.0

# Background sections: entered at least once in 1000 s (a rarer one never runs in a run), at
# most once per cycle.
MIN_RATE_HZ = 0.001

# Chips: microcontrollers run between kHz (low-power clocks) and a few GHz.
MIN_CLOCK_HZ = 1_000
MAX_CLOCK_HZ = 10_000_000_000

# Cycles per instruction (handler, section, VM code): 1 (every instruction one cycle) to 100.
MAX_CPI = 100.0
# Flash misses of the VM's own code per 1000 instructions: at most one per instruction.
MAX_MISSES_PER_KINSTR = 1000.0
