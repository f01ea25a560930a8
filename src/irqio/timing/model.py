"""The event-driven cycle model of one core.

Time advances from event to event (an arrival, the end of a fetch step, of an exception entry,
tail-chain or exit), never cycle by cycle. Rules, with the reasons:

- A line is taken when it is pending, not masked, and more urgent than the running level (the
  highest active handler's hardware level, or BASEPRI). Ties go to the lower order (NVIC number).
- It is taken only when no flash miss is in flight: an AHB transfer is not abandoned (reference
  §1.1, "Miss stalls IRQs too"). Entry then takes `entry_cycles`.
- Late arrival: the handler chosen is the most urgent one pending at the *end* of the entry.
- Tail-chaining: a handler that returns while another is pending and more urgent than the code
  below goes straight to it in `tail_chain_cycles`; otherwise exit takes `exit_cycles`, and an
  arrival during exit abandons the unstacking and tail-chains (Cortex-M pop preemption).
- A preempted fetch step is fetched again on return (it may have been evicted meanwhile).
- The background VM runs in stretches between its critical sections; its own misses are not
  simulated one by one: at the moment it is preempted a miss is in flight with probability equal
  to the share of time it spends stalled, with a uniform remainder (renewal theory), and its
  fetches pollute the cache as foreign fills (see cache.py).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from irqio.timing.cache import SetAssociativeCache
from irqio.timing.masks import NONE, Mask, section_mask
from irqio.timing.program import Body, Compiler, Layout
from irqio.timing.system import Line, Section, System

VM = -2  # a step of background VM code (statistical, see module docstring)
INF = 1 << 62  # "never": an int, so times stay ints


@dataclass
class LineStats:
    latencies: list[int] = field(default_factory=list)  # arrival -> first handler instruction
    responses: list[int] = field(default_factory=list)  # arrival -> last handler instruction done
    overruns: int = 0  # arrivals while still pending (coalesced, as the NVIC does)
    worst_arrival: int = -1
    worst: int = -1  # the largest latency so far (its arrival is worst_arrival)


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


@dataclass
class _Frame:
    level: int  # hardware level it runs at (0 = background)
    line: Line | None
    body: Body
    pos: int = 0
    started: bool = False  # has the current step's fetch been issued
    rem: int = -1  # remaining execute cycles of a preempted step (-1: the whole step)
    stall_end: int = 0
    step_end: int = 0
    masks: list[Mask] = field(default_factory=list)
    arrival: int = 0
    sampled: bool = False  # VM step: in-flight miss already drawn for this preemption


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
        layout = Layout(system)
        self.compiler = Compiler(system, layout, policy)
        self.bodies = {ln.name: self.compiler.handler(ln.name) for ln in system.lines}
        self.bg_sections = [
            self.compiler.section("background", s) for s in system.background.sections
        ]
        rates = [s.rate_hz for s in system.background.sections]
        self.bg_rate = sum(rates) / p.clock_hz  # section starts per VM cycle
        self.bg_weights = rates
        bg = system.background
        # VM miss model: per 1000 instructions, 1000*cpi execute cycles and m misses of M cycles.
        kcycles = 1000 * bg.cpi + bg.misses_per_kinstr * self.miss
        self.vm_stall_share = bg.misses_per_kinstr * self.miss / kcycles
        self.vm_fills_per_cycle = bg.misses_per_kinstr / kcycles / self.cache.n_sets
        self.levels = {ln.name: system.hw_level(ln) for ln in system.lines}
        # Lines in the order the NVIC prefers them: most urgent first, then lower order.
        self.by_urgency = sorted(system.lines, key=lambda ln: (-self.levels[ln.name], ln.order))
        self.mask_cache: dict[tuple[str, int], Mask] = {}
        self.trace_limit = trace_limit
        self.trace: list[tuple[int, str, str, int]] = []
        self.truncated = False
        self.t = 0
        self.pending: dict[str, int] = {}
        self.mask = NONE
        self.frames: list[_Frame] = []

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

    # -- masks -------------------------------------------------------------------------------
    def _mask_for(self, s: Section, level: int) -> Mask:
        key = (s.resource, level)
        if key not in self.mask_cache:
            self.mask_cache[key] = section_mask(self.system, self.policy, s.resource, level)
        return self.mask_cache[key]

    def _recompute_masks(self) -> None:
        masks = [m for f in self.frames for m in f.masks]
        self.mask = Mask(
            primask=any(m.primask for m in masks),
            basepri=max((m.basepri for m in masks), default=0),
            nvic=frozenset().union(*(m.nvic for m in masks)) if masks else frozenset(),
            pins=frozenset().union(*(m.pins for m in masks)) if masks else frozenset(),
        )
        if self.trace_limit:
            self._record("ceiling", "mask", self._mask_level())

    def _mask_level(self) -> int:
        m = self.mask
        if m.primask:
            return self.p.priority_levels + 1
        return max(
            m.basepri,
            max(
                (
                    self.levels[ln.name]
                    for ln in self.system.lines
                    if m.blocks(ln, self.levels[ln.name])
                ),
                default=0,
            ),
        )

    def _best(self) -> Line | None:
        """The line the NVIC would take now, if any."""
        running = self.frames[-1].level
        for ln in self.by_urgency:
            lvl = self.levels[ln.name]
            if lvl <= running:
                return None
            if ln.name in self.pending and not self.mask.blocks(ln, lvl):
                return ln
        return None

    def _record(self, kind: str, name: str, value: int) -> None:
        if self.trace_limit:
            if len(self.trace) < self.trace_limit:
                self.trace.append((self.t, kind, name, value))
            else:
                self.truncated = True

    # -- steps -------------------------------------------------------------------------------
    def _bg_next(self) -> Body:
        """The VM's next stretch: plain VM code up to its next critical section, then it."""
        if not self.bg_sections:
            return Body([(VM, 1 << 40)])
        run = max(1, round(self.rng.expovariate(self.bg_rate)))
        (i,) = self.rng.choices(range(len(self.bg_sections)), weights=self.bg_weights)
        body = Body([(VM, run)])
        body.extend(self.bg_sections[i])
        return body

    def _start_step(self, f: _Frame) -> None:
        """Issue the current step's fetch at self.t (applying a section mask that begins here)."""
        t = self.t
        if f.rem < 0 and f.pos in f.body.enter:
            f.masks.append(self._mask_for(f.body.enter[f.pos], f.level))
            self._recompute_masks()
        addr, cycles = f.body.steps[f.pos]
        run = cycles if f.rem < 0 else f.rem
        stall = 0
        if addr >= 0 and not self.cache.access(addr):
            stall = self.miss
            self._record("miss", "flash", 1)
        f.started = True
        f.sampled = False
        f.stall_end = t + stall
        f.step_end = t + stall + run
        f.rem = -1

    def _finish_step(self, f: _Frame) -> bool:
        """The current step ended at self.t. Returns False when the body is finished."""
        addr, cycles = f.body.steps[f.pos]
        if addr == VM:
            self.cache.pollute(cycles * self.vm_fills_per_cycle)
        if f.pos in f.body.leave:
            f.masks.pop()
            self._recompute_masks()
        f.pos += 1
        f.started = False
        if f.pos >= len(f.body.steps):
            if f.line is None:  # the background loops forever
                f.body = self._bg_next()
                f.pos = 0
                return True
            return False
        return True

    # -- the loop ----------------------------------------------------------------------------
    def run(self, cycles: int | None = None) -> SimResult:
        until = cycles if cycles is not None else round(self.system.seconds * self.p.clock_hz)
        heap: list[tuple[int, int, str]] = []
        for ln in self.system.lines:
            for t in self._arrivals(ln, until):
                heap.append((t, ln.order, ln.name))
        heapq.heapify(heap)
        stats = {ln.name: LineStats() for ln in self.system.lines}
        self.t = 0
        self.truncated = False
        self.pending = {}
        self.mask = NONE
        self.frames = [_Frame(0, None, self._bg_next())]
        phase, phase_end = "run", 0
        events = 0
        E, X, TC = self.p.entry_cycles, self.p.exit_cycles, self.p.tail_chain_cycles
        self._start_step(self.frames[0])
        want = False
        while True:
            f = self.frames[-1]
            if phase == "run":
                t_local = max(self.t, f.stall_end) if want else f.step_end
            else:
                t_local = phase_end
            t_arr = heap[0][0] if heap else INF
            if t_arr <= t_local:
                if t_arr >= until:
                    break
                self.t = t_arr
                while heap and heap[0][0] == t_arr:
                    _, _, name = heapq.heappop(heap)
                    events += 1
                    if name in self.pending:
                        stats[name].overruns += 1
                    else:
                        self.pending[name] = t_arr
                        self._record("pending", name, 1)
                best = self._best()
                if phase == "run":
                    want = best is not None
                    if want and f.body.steps[f.pos][0] == VM and not f.sampled and f.started:
                        # The VM may be in the middle of a flash miss right now.
                        f.sampled = True
                        if self.rng.random() < self.vm_stall_share:
                            f.stall_end = min(f.step_end, self.t + self.rng.randint(1, self.miss))
                elif phase == "exit" and best is not None:
                    phase, phase_end = "tail", self.t + TC  # pop preemption
                continue
            if t_local >= until:
                break
            self.t = t_local
            events += 1
            if phase == "run":
                if f.started and self.t >= f.step_end:
                    if not self._finish_step(f):
                        self._end_handler(f, stats)
                        self.frames.pop()
                        if self._best() is not None:
                            phase, phase_end = "tail", self.t + TC
                        else:
                            phase, phase_end = "exit", self.t + X
                        continue
                    want = self._best() is not None
                if want:
                    if f.started:  # preempt mid-step: remember what is left of it
                        if f.body.steps[f.pos][0] == VM:
                            done = f.body.steps[f.pos][1] - (f.step_end - self.t)
                            self.cache.pollute(max(0, done) * self.vm_fills_per_cycle)
                            f.body.steps[f.pos] = (VM, f.step_end - self.t)
                        else:
                            f.rem = f.step_end - self.t
                        f.started = False
                    phase, phase_end = "entry", self.t + E
                    want = False
                    continue
                if not f.started:
                    self._start_step(f)
                    want = self._best() is not None
                continue
            if phase in ("entry", "tail"):
                line = self._best()
                if line is None:  # nothing left to take (cannot happen: pending lines stay)
                    phase = "exit"
                    phase_end = self.t
                    continue
                arrival = self.pending.pop(line.name)
                self._record("pending", line.name, 0)
                self._record("active", line.name, 1)
                h = _Frame(self.levels[line.name], line, self.bodies[line.name], arrival=arrival)
                self.frames.append(h)
                phase = "run"
                self._start_step(h)
                start = h.stall_end  # the first instruction runs once its fetch is done
                st = stats[line.name]
                st.latencies.append(start - arrival)
                if start - arrival >= st.worst:  # why: max() here made a run quadratic
                    st.worst, st.worst_arrival = start - arrival, arrival
                want = self._best() is not None
                continue
            # exit finished: return to the frame below
            phase = "run"
            want = self._best() is not None
            if not want and not f.started:
                self._start_step(f)
                want = self._best() is not None
        return SimResult(
            system=self.system,
            policy=self.policy,
            cycles=until,
            events=events,
            stats=stats,
            trace=self.trace,
            trace_truncated=self.truncated,
            cache_hits=self.cache.hits,
            cache_misses=self.cache.misses,
            seed=self.seed,
            pending=dict(self.pending),
        )

    def _end_handler(self, f: _Frame, stats: dict[str, LineStats]) -> None:
        assert f.line is not None  # why: only handler frames finish; the background loops
        stats[f.line.name].responses.append(self.t - f.arrival)
        self._record("active", f.line.name, 0)


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
