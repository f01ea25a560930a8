"""The event-driven cycle model of one core.

Time advances from event to event (an arrival, the end of a fetch step, of an exception entry,
tail-chain or exit), never cycle by cycle. Rules, with the reasons:

- A line is taken when it is pending, not masked, and more urgent than the running level (the
  highest active handler's hardware level, or BASEPRI). Ties go to the lower order (NVIC number).
- It is taken only when no flash miss is in flight: an AHB transfer is not abandoned (the AHB
  protocol rules, as raspberrypi/pico-feedback#479 explains for the RP2350; the same is assumed
  of the RP2040). Entry then takes `entry_cycles`.
- Late arrival: the handler chosen is the most urgent one pending at the *end* of the entry.
- Tail-chaining: a handler that returns while another is pending and more urgent than the code
  below goes straight to it in `tail_chain_cycles`; otherwise exit takes `exit_cycles`, and an
  arrival during exit abandons the unstacking and tail-chains (Cortex-M pop preemption).
- A preempted fetch step is fetched again on return (it may have been evicted meanwhile).
- The background VM runs in stretches between its critical sections; its own misses are not
  simulated one by one: at the moment it is preempted a miss is in flight with probability equal
  to the share of time it spends stalled, with a uniform remainder (renewal theory), and its
  fetches pollute the cache as foreign fills (see cache.py).
- Flash transfers outstanding (`ChipProfile.flash_outstanding`, RP2350: 4): when the background
  is preempted mid-miss, entry also waits for the other outstanding transfers, each a whole miss
  (the worst arbitration order, pico-feedback#479).
- Deferred code (`Line.deferred`, a soft IRQ): when a handler returns, its line's deferred code
  is queued for the background, which runs it first thing when it is back between its own steps
  (at the preempted VM step, or before its next stretch if it was inside a critical section);
  its end is timed from the arrival (`LineStats.deferred`).

How it is fast (the loop is the hot path of `sim`, `sweep` and the property test): lines are bits
of an int in the NVIC's order of preference (bit 0 = most urgent, then lower order), so "the line
the NVIC would take" is the lowest set bit of `pending & ~masked & above(running level)`; every
mask is precomputed as the bits it blocks, and the masks in force form one stack of cumulative
ORs (sections nest LIFO across frames: a handler leaves every section it enters before the code
below runs again). The running frame lives in local variables and is saved only when it is
preempted; the cache is run inline on its own lists (same draws, in the same order, as
`SetAssociativeCache.access`). Results are identical to the plain version of this loop for the
same seed; `benchmarks/bench_timing.py` runs both and checks it, and so does
tests/timing/test_model_baseline.py.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field

from irqio.timing.cache import SetAssociativeCache
from irqio.timing.masks import Mask, section_mask
from irqio.timing.program import Body, Compiler, Layout
from irqio.timing.system import Line, Section, System

VM = -2  # a step of background VM code (statistical, see module docstring)
INF = 1 << 62  # "never": an int, so times stay ints

# Phases of the core between steps of code.
_RUN, _ENTRY, _TAIL, _EXIT = 0, 1, 2, 3

# A compiled step: (address, cycles, cache line, cache set, mask pushed here or None, leaves a
# section, the deferred job (line, arrival) whose code ends here or None). Address RAM (-1) and
# VM (-2) fetch nothing.
_Step = tuple[int, int, int, int, "_MaskBits | None", bool, "tuple[int, int] | None"]


@dataclass
class LineStats:
    latencies: list[int] = field(default_factory=list)  # arrival -> first handler instruction
    responses: list[int] = field(default_factory=list)  # arrival -> last handler instruction done
    overruns: int = 0  # arrivals while still pending (coalesced, as the NVIC does)
    worst_arrival: int = -1
    deferred: list[int] = field(default_factory=list)  # arrival -> deferred code done (soft IRQ)
    worst: int = -1  # the largest latency (its arrival is worst_arrival)


@dataclass
class SimResult:
    system: System
    policy: str
    cycles: int
    events: int
    stats: dict[str, LineStats]
    trace: list[tuple[int, str, str, int]]  # (time, kind, name, value)
    trace_truncated: bool
    cache_hits: int
    cache_misses: int
    seed: int = 0  # the seed the run used (the file's unless overridden)
    # Lines still pending when the run ended -> their arrival: a wait no latency sample holds.
    pending: dict[str, int] = field(default_factory=dict)

    def us(self, cycles: float) -> float:
        return self.system.profile.us(cycles)


@dataclass(frozen=True)
class _MaskBits:
    """A section's mask as the lines (bits, in urgency order) it keeps out."""

    mask: Mask
    bits: int


class _Frame:
    """A preempted frame: the running frame's locals, saved until it runs again."""

    __slots__ = (
        "arrival",
        "level",
        "line",
        "pos",
        "rem",
        "sampled",
        "stall_end",
        "started",
        "step_end",
        "steps",
    )

    def __init__(self, level: int, line: int, steps: list[_Step], arrival: int) -> None:
        self.level = level
        self.line = line  # urgency index of the handler's line; -1 = background
        self.steps = steps
        self.arrival = arrival
        self.pos = 0
        self.started = False  # has the current step's fetch been issued
        self.rem = -1  # remaining execute cycles of a preempted step (-1: the whole step)
        self.stall_end = 0
        self.step_end = 0
        self.sampled = False  # VM step: in-flight miss already drawn for this preemption


class Simulator:
    def __init__(
        self, system: System, policy: str, seed: int | None = None, trace_limit: int = 0
    ) -> None:
        self.system = system
        self.policy = policy
        p = system.profile
        self.p = p
        self.seed = system.seed if seed is None else seed
        self.rng = random.Random(f"{self.seed}:{policy}:vm")
        self.cache = SetAssociativeCache(
            p.cache.size_bytes,
            p.cache.ways,
            p.cache.line_bytes,
            random.Random(f"{self.seed}:cache"),
        )
        self.miss = p.flash_miss_cycles
        self.levels = {ln.name: system.hw_level(ln) for ln in system.lines}
        # Lines in the order the NVIC prefers them: most urgent first, then lower order.
        self.by_urgency = sorted(system.lines, key=lambda ln: (-self.levels[ln.name], ln.order))
        self.mask_cache: dict[tuple[str, int], _MaskBits] = {}
        layout = Layout(system)
        self.compiler = Compiler(system, layout, policy)
        self.bodies = [
            self._compile(self.compiler.handler(ln.name), self.levels[ln.name])
            for ln in self.by_urgency
        ]
        self.deferred = [
            self._compile(self.compiler.deferred(ln.name), 0) for ln in self.by_urgency
        ]
        self.jobs: list[tuple[int, int]] = []  # deferred code waiting for the background
        self.outstanding_extra = (p.flash_outstanding - 1) * p.flash_miss_cycles
        self.bg_sections = [
            self._compile(self.compiler.section("background", s), 0)
            for s in system.background.sections
        ]
        rates = [s.rate_hz for s in system.background.sections]
        self.bg_rate = sum(rates) / p.clock_hz  # section starts per VM cycle
        self.bg_cum_weights = list(itertools.accumulate(rates))
        self.bg_total = self.bg_cum_weights[-1] + 0.0 if rates else 0.0
        self.bg_hi = len(rates) - 1
        bg = system.background
        # VM miss model: per 1000 instructions, 1000*cpi execute cycles and m misses of M cycles.
        kcycles = 1000 * bg.cpi + bg.misses_per_kinstr * self.miss
        self.vm_stall_share = bg.misses_per_kinstr * self.miss / kcycles
        self.vm_fills_per_cycle = bg.misses_per_kinstr / kcycles / self.cache.n_sets
        self.trace_limit = trace_limit
        self.trace: list[tuple[int, str, str, int]] = []
        self.truncated = False
        self.t = 0

    # -- compiled code -----------------------------------------------------------------------
    def _compile(self, body: Body, level: int) -> list[_Step]:
        """A body as steps with their cache line and set, and the masks they push, precomputed."""
        lb, n_sets = self.cache.line_bytes, self.cache.n_sets
        out: list[_Step] = []
        for i, (addr, cycles) in enumerate(body.steps):
            enter = body.enter.get(i)
            line = addr // lb if addr >= 0 else -1
            out.append(
                (
                    addr,
                    cycles,
                    line,
                    line % n_sets if addr >= 0 else -1,
                    None if enter is None else self._mask_for(enter, level),
                    i in body.leave,
                    None,
                )
            )
        return out

    def _mask_for(self, s: Section, level: int) -> _MaskBits:
        key = (s.resource, level)
        if key not in self.mask_cache:
            mask = section_mask(self.system, self.policy, s.resource, level)
            bits = 0
            for u, ln in enumerate(self.by_urgency):
                if mask.blocks(ln, self.levels[ln.name]):
                    bits |= 1 << u
            self.mask_cache[key] = _MaskBits(mask, bits)
        return self.mask_cache[key]

    def _mask_level(self, masks: list[Mask]) -> int:
        """The level the masks in force keep out, for the trace's `ceiling` row."""
        if any(m.primask for m in masks):
            return self.p.priority_levels + 1
        level = max((m.basepri for m in masks), default=0)
        for ln in self.system.lines:
            lvl = self.levels[ln.name]
            if any(m.blocks(ln, lvl) for m in masks):
                level = max(level, lvl)
        return level

    # -- arrivals ------------------------------------------------------------------------------
    def _arrivals(self, line: Line, until: int) -> list[int]:
        a = line.arrival
        rng = random.Random(f"{self.seed}:arrival:{line.name}")
        out: list[int] = []
        if a.kind == "trace":
            return [t for t in a.times if t < until]
        if a.kind == "periodic":
            k = 0
            while (t := a.offset + k * a.gap) < until:
                out.append(t + (rng.randint(0, a.jitter) if a.jitter else 0))
                k += 1
            return sorted(out)
        t = rng.randint(0, a.mean_gap)  # sporadic: a random phase, then min gap + exponential extra
        extra = a.mean_gap - a.gap
        while t < until:
            out.append(t + (rng.randint(0, a.jitter) if a.jitter else 0))
            t += a.gap + (round(rng.expovariate(1.0 / extra)) if extra > 0 else 0)
        return sorted(out)

    def _record(self, t: int, kind: str, name: str, value: int) -> None:
        if len(self.trace) < self.trace_limit:
            self.trace.append((t, kind, name, value))
        else:
            self.truncated = True

    # -- background ----------------------------------------------------------------------------
    def _bg_next(self) -> list[_Step]:
        """The VM's next stretch: plain VM code up to its next critical section, then it."""
        jobs = self._take_jobs() if self.jobs else []
        if not self.bg_sections:
            return [*jobs, (VM, 1 << 40, -1, -1, None, False, None)]
        run = max(1, round(self.rng.expovariate(self.bg_rate)))
        # What rng.choices(weights=) draws, without building the cumulative weights each time.
        i = bisect.bisect(self.bg_cum_weights, self.rng.random() * self.bg_total, 0, self.bg_hi)
        vm: _Step = (VM, run, -1, -1, None, False, None)
        return [*jobs, vm, *self.bg_sections[i]] if jobs else [vm, *self.bg_sections[i]]

    def _take_jobs(self) -> list[_Step]:
        """The deferred code waiting for the background, in the order the handlers returned; the
        last step of each job carries its (line, arrival), to time it when it is done."""
        steps: list[_Step] = []
        for u, arrival in self.jobs:
            body = self.deferred[u]
            steps += body[:-1]
            steps.append((*body[-1][:6], (u, arrival)))
        self.jobs.clear()
        return steps

    # -- the loop ----------------------------------------------------------------------------
    def run(self, cycles: int | None = None) -> SimResult:
        until = cycles if cycles is not None else round(self.system.seconds * self.p.clock_hz)
        lines = self.by_urgency
        n_lines = len(lines)
        # All arrivals in time order; simultaneous ones are all made pending before any choice.
        merged: list[tuple[int, int, int]] = []
        for u, ln in enumerate(lines):
            merged.extend((t, ln.order, u) for t in self._arrivals(ln, until))
        merged.sort()  # (time, file order): simultaneous arrivals are traced in file order
        arr_t = [t for t, _, _ in merged]
        arr_u = [u for _, _, u in merged]
        n_arr = len(arr_t)
        i_arr = 0
        next_arr = arr_t[0] if n_arr else INF

        levels = [self.levels[ln.name] for ln in lines]
        top = self.p.priority_levels + 2
        # above[level]: the lines whose hardware level is above `level` (they may preempt it).
        above = [sum(1 << u for u in range(n_lines) if levels[u] > lv) for lv in range(top)]
        latencies: list[list[int]] = [[] for _ in lines]
        responses: list[list[int]] = [[] for _ in lines]
        overruns = [0] * n_lines
        deferred: list[list[int]] = [[] for _ in lines]
        has_deferred = [bool(body) for body in self.deferred]
        outstanding_extra = self.outstanding_extra
        self.jobs.clear()
        worst = [-1] * n_lines
        worst_arrival = [-1] * n_lines
        pend_t = [0] * n_lines
        pending = 0
        bodies = self.bodies

        # The masks in force: cum[k] = OR of the first k pushed (cum[0] = nothing masked).
        cum = [0]
        in_force: list[Mask] = []  # for the trace only
        blocked = 0

        # The cache, inline (see SetAssociativeCache.access and _catch_up).
        cache = self.cache
        sets = cache.sets
        seen = cache._seen
        n_ways = cache.ways
        pollution = cache.pollution
        # Foreign lines are never fetched again and never equal a real line (cache.py): one
        # marker, -1, stands for all of them.
        foreigners = [[-1] * k for k in range(n_ways + 1)]
        hits = cache.hits
        misses = cache.misses
        crandom = cache.rng.random
        exp = math.exp

        rng = self.rng
        miss = self.miss
        share = self.vm_stall_share
        fills = self.vm_fills_per_cycle
        E, X, TC = self.p.entry_cycles, self.p.exit_cycles, self.p.tail_chain_cycles
        tracing = self.trace_limit > 0
        self.trace = []
        self.truncated = False
        record = self._record
        names = [ln.name for ln in lines]

        stack: list[_Frame] = []  # preempted frames, innermost last
        # The running frame, in locals.
        c_level = 0
        c_above = above[0]
        c_line = -1
        c_steps = self._bg_next()
        c_n = len(c_steps)
        c_pos = 0
        c_started = False
        c_rem = -1
        c_stall_end = 0
        c_step_end = 0
        c_sampled = False
        c_arrival = 0

        phase, phase_end = _RUN, 0
        events = 0
        t = 0
        want = False
        start_now = True  # issue the fetch of c_steps[c_pos] at t (the loop's "start step")
        entering = -1  # the line whose handler's first step is being started, if any
        while True:
            if start_now:
                # -- start step: issue the fetch of c_steps[c_pos] at t -------------------------
                # Reached only with `want` false or on entry: a mask pushed here masks more, so
                # `want` stays false (entry recomputes it below).
                start_now = False
                addr, cyc, cline, cidx, enter, _, _ = c_steps[c_pos]
                if c_rem < 0:
                    if enter is not None:
                        cum.append(cum[-1] | enter.bits)
                        blocked = cum[-1]
                        if tracing:
                            in_force.append(enter.mask)
                            record(t, "ceiling", "mask", self._mask_level(in_force))
                else:
                    cyc = c_rem
                c_stall_end = t
                if addr >= 0:
                    ways = sets[cidx]
                    mu = pollution - seen[cidx]
                    if mu > 0.0:
                        seen[cidx] = pollution
                        # Poisson(mu) foreign fills by inversion, capped at the ways (cache.py)
                        r = crandom()
                        p = exp(-mu)
                        acc = p
                        k = 0
                        while r > acc and k < n_ways:
                            k += 1
                            p *= mu / k
                            acc += p
                        if k:
                            ways[0:0] = foreigners[k]
                            del ways[n_ways:]
                    if cline in ways:
                        if ways[0] != cline:
                            ways.remove(cline)
                            ways.insert(0, cline)
                        hits += 1
                    else:
                        ways.insert(0, cline)
                        del ways[n_ways:]
                        misses += 1
                        c_stall_end = t + miss
                        if tracing:
                            record(t, "miss", "flash", 1)
                c_started = True
                c_sampled = False
                c_step_end = c_stall_end + cyc
                c_rem = -1
                if entering >= 0:
                    # The handler's first instruction runs once its first fetch is done.
                    u = entering
                    entering = -1
                    latency = c_stall_end - c_arrival
                    latencies[u].append(latency)
                    if latency >= worst[u]:
                        worst[u] = latency
                        worst_arrival[u] = c_arrival
                    want = (pending & ~blocked & c_above) != 0

            if phase == _RUN and not want and c_started:
                end = c_step_end
                if end < next_arr and end < until and (c_line < 0 or c_pos + 1 < c_n):
                    # -- fast path: steps that end before anything else happens (no arrival, no
                    # handler return): finish each, start the next, as the general path does.
                    c_sampled = False  # (the step about to start is not sampled)
                    while True:
                        t = end
                        events += 1
                        addr, cyc, _, _, _, leave, job = c_steps[c_pos]
                        if addr == VM:
                            pollution += cyc * fills
                        if leave:
                            cum.pop()
                            blocked = cum[-1]
                            if tracing:
                                in_force.pop()
                                record(t, "ceiling", "mask", self._mask_level(in_force))
                        if job is not None:
                            deferred[job[0]].append(t - job[1])
                        c_pos += 1
                        if c_pos >= c_n:  # the background loops forever
                            c_steps = self._bg_next()
                            c_n = len(c_steps)
                            c_pos = 0
                        if pending and pending & ~blocked & c_above:
                            c_started = False
                            phase, phase_end = _ENTRY, t + E
                            break
                        addr, cyc, cline, cidx, enter, _, _ = c_steps[c_pos]
                        if enter is not None:
                            cum.append(cum[-1] | enter.bits)
                            blocked = cum[-1]
                            if tracing:
                                in_force.append(enter.mask)
                                record(t, "ceiling", "mask", self._mask_level(in_force))
                        c_stall_end = t
                        if addr >= 0:
                            ways = sets[cidx]
                            mu = pollution - seen[cidx]
                            if mu > 0.0:
                                seen[cidx] = pollution
                                r = crandom()
                                p = exp(-mu)
                                acc = p
                                k = 0
                                while r > acc and k < n_ways:
                                    k += 1
                                    p *= mu / k
                                    acc += p
                                if k:
                                    ways[0:0] = foreigners[k]
                                    del ways[n_ways:]
                            if cline in ways:
                                if ways[0] != cline:
                                    ways.remove(cline)
                                    ways.insert(0, cline)
                                hits += 1
                            else:
                                ways.insert(0, cline)
                                del ways[n_ways:]
                                misses += 1
                                c_stall_end = t + miss
                                if tracing:
                                    record(t, "miss", "flash", 1)
                        end = c_stall_end + cyc
                        c_step_end = end
                        if end >= next_arr or end >= until or (c_line >= 0 and c_pos + 1 >= c_n):
                            break
                    continue

            if phase == _RUN:
                t_local = (t if t > c_stall_end else c_stall_end) if want else c_step_end
            else:
                t_local = phase_end

            if next_arr <= t_local:
                # -- arrivals -----------------------------------------------------------------
                if next_arr >= until:
                    break
                t = next_arr
                while i_arr < n_arr and arr_t[i_arr] == t:
                    u = arr_u[i_arr]
                    i_arr += 1
                    events += 1
                    bit = 1 << u
                    if pending & bit:
                        overruns[u] += 1
                    else:
                        pending |= bit
                        pend_t[u] = t
                        if tracing:
                            record(t, "pending", names[u], 1)
                next_arr = arr_t[i_arr] if i_arr < n_arr else INF
                cand = pending & ~blocked & c_above
                if phase == _RUN:
                    want = cand != 0
                    if want and c_started and not c_sampled and c_steps[c_pos][0] == VM:
                        # The VM may be in the middle of a flash miss right now.
                        c_sampled = True
                        if rng.random() < share:
                            end = t + rng.randint(1, miss) + outstanding_extra
                            c_stall_end = end if end < c_step_end else c_step_end
                elif phase == _EXIT and cand:
                    phase, phase_end = _TAIL, t + TC  # pop preemption
                continue

            if t_local >= until:
                break
            t = t_local
            events += 1

            if phase == _RUN:
                if c_started and t >= c_step_end:
                    # -- finish step ----------------------------------------------------------
                    step = c_steps[c_pos]
                    if step[0] == VM:
                        pollution += step[1] * fills
                    if step[5]:
                        cum.pop()
                        blocked = cum[-1]
                        if tracing:
                            in_force.pop()
                            record(t, "ceiling", "mask", self._mask_level(in_force))
                    if step[6] is not None:
                        deferred[step[6][0]].append(t - step[6][1])
                    c_pos += 1
                    c_started = False
                    if c_pos >= c_n:
                        if c_line < 0:  # the background loops forever
                            c_steps = self._bg_next()
                            c_n = len(c_steps)
                            c_pos = 0
                        else:
                            # -- the handler returns ------------------------------------------
                            responses[c_line].append(t - c_arrival)
                            if tracing:
                                record(t, "active", names[c_line], 0)
                            if has_deferred[c_line]:
                                self.jobs.append((c_line, c_arrival))
                            f = stack.pop()
                            c_level, c_line, c_arrival = f.level, f.line, f.arrival
                            c_steps = f.steps
                            c_above = above[c_level]
                            c_n = len(c_steps)
                            c_pos, c_started, c_rem = f.pos, f.started, f.rem
                            c_stall_end, c_step_end, c_sampled = f.stall_end, f.step_end, f.sampled
                            if self.jobs and c_line < 0 and c_steps[c_pos][0] == VM:
                                # Back in the VM between bytecodes: deferred code runs first.
                                c_steps[c_pos:c_pos] = self._take_jobs()
                                c_n = len(c_steps)
                            if pending & ~blocked & c_above:
                                phase, phase_end = _TAIL, t + TC
                            else:
                                phase, phase_end = _EXIT, t + X
                            continue
                    want = (pending & ~blocked & c_above) != 0
                if want:
                    if c_started:  # preempt mid-step: remember what is left of it
                        step = c_steps[c_pos]
                        if step[0] == VM:
                            done = step[1] - (c_step_end - t)
                            if done > 0:  # (adding 0.0 would change nothing)
                                pollution += done * fills
                            c_steps[c_pos] = (VM, c_step_end - t, -1, -1, None, False, None)
                        else:
                            c_rem = c_step_end - t
                        c_started = False
                    phase, phase_end = _ENTRY, t + E
                    want = False
                    continue
                if not c_started:
                    start_now = True
                continue

            if phase == _EXIT:
                # exit finished: return to the frame below
                phase = _RUN
                want = (pending & ~blocked & c_above) != 0
                if not want and not c_started:
                    start_now = True
                continue

            # -- entry or tail-chain done: take the most urgent line now (late arrival) ------
            cand = pending & ~blocked & c_above
            if not cand:  # nothing left to take (cannot happen: pending lines stay)
                phase = _EXIT
                phase_end = t
                continue
            u = (cand & -cand).bit_length() - 1
            pending &= ~(1 << u)
            if tracing:
                record(t, "pending", names[u], 0)
                record(t, "active", names[u], 1)
            f = _Frame(c_level, c_line, c_steps, c_arrival)
            f.pos, f.started, f.rem = c_pos, c_started, c_rem
            f.stall_end, f.step_end, f.sampled = c_stall_end, c_step_end, c_sampled
            stack.append(f)
            c_level, c_line, c_steps, c_arrival = levels[u], u, bodies[u], pend_t[u]
            c_above = above[c_level]
            c_n = len(c_steps)
            c_pos, c_rem = 0, -1
            phase = _RUN
            start_now = True
            entering = u

        cache.pollution = pollution
        cache.hits = hits
        cache.misses = misses
        self.t = t
        stats = {}
        for ln in self.system.lines:
            u = lines.index(ln)
            stats[ln.name] = LineStats(
                latencies[u], responses[u], overruns[u], worst_arrival[u], deferred[u], worst[u]
            )
        return SimResult(
            system=self.system,
            policy=self.policy,
            cycles=until,
            events=events,
            stats=stats,
            trace=self.trace,
            trace_truncated=self.truncated,
            cache_hits=hits,
            cache_misses=misses,
            seed=self.seed,
            pending={names[u]: pend_t[u] for u in range(n_lines) if pending >> u & 1},
        )


def simulate(
    system: System,
    policy: str,
    seconds: float | None = None,
    seed: int | None = None,
    trace_limit: int = 0,
) -> SimResult:
    sim = Simulator(system, policy, seed=seed, trace_limit=trace_limit)
    cycles = None if seconds is None else round(seconds * system.profile.clock_hz)
    return sim.run(cycles)
