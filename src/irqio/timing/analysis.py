"""Response-time analysis with blocking, per line and policy: the busy window, every job of it.

The fixed-priority recurrence with release jitter (Joseph & Pandya 1986; Audsley, Burns,
Richardson, Tindell & Wellings 1993; Tindell, Burns & Wellings 1994):

    w = C_i + B_i + Σ_{j∈hp(i)} ⌈(w + J_j) / T_j⌉ C_j

bounds a line's *first* job after a critical instant. When the next arrival of the same line can
come while its handler still runs (jitter, a short period), a later job can wait longer: it
queues behind its own predecessors. So each line is analysed over its level-i busy window
(Lehoczky 1990, "Fixed priority scheduling of periodic task sets with arbitrary deadlines";
Tindell, Burns & Wellings 1994), job by job. Job q (q = 0, 1, ...) is released at
r_q = max(0, q·T_i − J_i) (job 0 late by its whole jitter, the others early) and

    start:  w = q·C_i + F_i + B_i + Σ ⌈(w + J_j)/T_j⌉ C_j ,   S_q = w − r_q
    finish: w = (q+1)·C_i + B_i + Σ ⌈(w + J_j)/T_j⌉ C_j ,     R_q = w − r_q

while the job finishes after the next release (f_q > r_{q+1}); the bounds are the maxima over q.
Latency is measured from a job's own (jittered) arrival, as the simulator measures it.

For interrupt lines the terms are, in cycles:
- C_j of an interfering line: entry + its handler with every flash fetch a miss + exit, plus one
  miss for the line it interrupts re-fetching its evicted line when it resumes.
- C_i, the line's own job: entry + its handler at its worst (a following job tail-chains, which
  costs no more than an entry). F_i: entry + the handler's first fetch (the start bound stops
  at its first instruction).
- The blocking term is one candidate at a time (immediate ceiling protocol: at most one
  lower-priority section delays a line, and only before its busy window's first job starts): a
  section that the policy's mask keeps the line out of, at its worst case (every flash fetch a
  miss), or one in-flight flash miss of lower-priority code. A section that leaves some lower
  lines unmasked may be preempted by them while it keeps our line out; those lines interfere
  for that candidate.
- With an own first cost of one unit the start recurrence is Buttazzo's non-preemptive start
  time plus one (Hard Real-Time Computing Systems, 3rd ed. 2011, Eq. 8.4):
  ⌈(s+1)/T⌉ = ⌊s/T⌋ + 1. tests/timing/test_rta.py checks the book's exercises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from irqio.timing.masks import section_mask
from irqio.timing.program import RAM, Compiler, Layout
from irqio.timing.system import BACKGROUND, Line, System

# The longest busy window analysed, in jobs of all the lines in it. Every fixed-point step adds
# at least one job, so this caps the work; beyond it the line gets no bound (and says why).
MAX_WINDOW_JOBS = 200_000


def response_time(
    c: int,
    b: int,
    interferers: Sequence[tuple[int, int, int]],
    jitter: int = 0,
    limit: int = 10**15,
) -> tuple[int | None, list[int]]:
    """Solve w = c + b + Σ ⌈(w + J_j)/T_j⌉ C_j for interferers (C_j, T_j, J_j) by fixed-point
    iteration from w = c + b: the first job only. Returns (R = w + jitter, the iterates) or
    (None, iterates) when the level is overloaded or w passes `limit`."""
    if sum(cj / tj for cj, tj, _ in interferers) >= 1.0:
        return None, []
    w = c + b
    seen = [w]
    while True:
        nxt = c + b + sum(-(-(w + jj) // tj) * cj for cj, tj, jj in interferers)
        seen.append(nxt)
        if nxt == w:
            return w + jitter, seen
        if nxt > limit:
            return None, seen
        w = nxt


class NoBound(Exception):
    """The busy window does not close (overload) or is too long to analyse; str() says which."""


@dataclass(frozen=True)
class Job:
    """One job of a busy window: released `release` cycles after the window opens."""

    q: int
    release: int
    start: int  # worst start latency from its release
    response: int  # worst response (last instruction done) from its release


def busy_window(
    first: int,
    cost: int,
    period: int,
    jitter: int,
    blocking: int,
    interferers: Sequence[tuple[int, int, int]],
) -> list[Job]:
    """Every job of the level-i busy window of a line with own first cost `first`, own job cost
    `cost`, period (or minimum gap) `period` and release jitter `jitter`, blocked `blocking`
    once, under `interferers` (C_j, T_j, J_j). Raises NoBound when the window does not close."""
    load = cost / period + sum(cj / tj for cj, tj, _ in interferers)
    if load >= 1.0:
        raise NoBound(f"overloaded: utilisation {load:.3f} ≥ 1 at its level")
    # The window is no longer than L with L = B + Σ_k (L/T_k + 1 + J_k/T_k) C_k over every line
    # in it (⌈x⌉ < x + 1), so L ≤ (B + Σ C_k (1 + J_k/T_k)) / (1 − load). Bound the jobs in it.
    everyone = [(cost, period, jitter), *interferers]
    longest = (blocking + sum(ck * (1 + jk / tk) for ck, tk, jk in everyone)) / (1.0 - load)
    jobs_in = sum((longest + jk) / tk + 1 for _, tk, jk in everyone)
    if jobs_in > MAX_WINDOW_JOBS:
        raise NoBound(
            f"busy window too long to analyse: up to {jobs_in:,.0f} jobs "
            f"(at most {MAX_WINDOW_JOBS:,}); utilisation {load:.3f}"
        )

    def solve(own: int, w: int) -> int:
        # Fixed point of w = own + B + I(w), from a w known to be at or below it (monotone).
        while True:
            nxt = own + blocking + sum(-(-(w + jj) // tj) * cj for cj, tj, jj in interferers)
            if nxt == w:
                return w
            w = nxt

    jobs: list[Job] = []
    w_start = w_finish = 0
    q = 0
    while True:
        release = max(0, q * period - jitter)
        w_start = solve(q * cost + first, max(w_start, q * cost + first + blocking))
        w_finish = solve((q + 1) * cost, max(w_finish, w_start))
        jobs.append(Job(q, release, w_start - release, w_finish - release))
        q += 1
        # The window closes when this job is done before the next one is released.
        if w_finish <= max(0, q * period - jitter):
            return jobs


@dataclass(frozen=True)
class Bound:
    line: str
    policy: str
    start: int | None  # worst-case start latency, cycles from the line's arrival
    response: int | None  # worst-case response (handler done), cycles from arrival
    blocking: int  # the blocking term of the worst candidate
    blocked_by: str  # which section (or "in-flight flash miss", or "none") sets it
    start_job: int = 0  # which job of the busy window has the worst start (0 = the first)
    reason: str | None = None  # why there is no bound (start and response are None)


@dataclass(frozen=True)
class _Candidate:
    name: str
    cycles: int
    extra: tuple[Line, ...]  # lower lines that can preempt the blocking section meanwhile


@dataclass(frozen=True)
class _Sections:
    owner: str
    level: int
    sections: tuple[tuple[str, str, int], ...]  # (resource, section name, worst-case cycles)


def analyze(system: System, policy: str) -> list[Bound]:
    p = system.profile
    comp = Compiler(system, Layout(system), policy)
    M = p.flash_miss_cycles
    bodies = {ln.name: comp.handler(ln.name) for ln in system.lines}
    level = {ln.name: system.hw_level(ln) for ln in system.lines}
    wcet = {n: comp.wcet(b) for n, b in bodies.items()}
    cost = {n: p.entry_cycles + wcet[n] + p.exit_cycles + M for n in bodies}
    owners: list[_Sections] = []
    flash_code: dict[str, bool] = {}
    bg_secs = []
    bg_flash = system.background.misses_per_kinstr > 0
    for s in system.background.sections:
        body = comp.section(BACKGROUND, s)
        bg_secs.append((s.resource, s.name, comp.wcet(body)))
        bg_flash = bg_flash or any(a != RAM for a, _ in body.steps)
    owners.append(_Sections(BACKGROUND, 0, tuple(bg_secs)))
    flash_code[BACKGROUND] = bg_flash
    for ln in system.lines:
        secs = tuple(
            (s.resource, s.name, comp.wcet(comp.section(ln.name, s))) for s in ln.handler.sections
        )
        owners.append(_Sections(ln.name, level[ln.name], secs))
        flash_code[ln.name] = any(a != RAM for a, _ in bodies[ln.name].steps)

    out = []
    for ln in system.lines:
        li = level[ln.name]
        hep = [j for j in system.lines if j.name != ln.name and level[j.name] >= li]
        cands = [_Candidate("none", 0, ())]
        if any(flash_code[o.owner] for o in owners if o.level < li):
            # Every transfer outstanding on the flash must finish first (RP2350: up to 4).
            cands.append(_Candidate("in-flight flash miss", M * p.flash_outstanding, ()))
        for o in owners:
            if o.level >= li:
                continue
            for resource, name, cycles in o.sections:
                mask = section_mask(system, policy, resource, o.level)
                if not mask.blocks(ln, li):
                    continue
                extra = tuple(
                    k
                    for k in system.lines
                    if k.name != ln.name
                    and o.level < level[k.name] < li
                    and not mask.blocks(k, level[k.name])
                )
                cands.append(_Candidate(f"{o.owner}/{name}", cycles, extra))
        first_fetch = M if bodies[ln.name].steps[0][0] != RAM else 0
        out.append(
            _bound(
                ln,
                policy,
                cands,
                hep,
                cost,
                first=p.entry_cycles + first_fetch,
                own=p.entry_cycles + wcet[ln.name],
            )
        )
    return out


def _bound(
    ln: Line,
    policy: str,
    cands: list[_Candidate],
    hep: list[Line],
    cost: dict[str, int],
    *,
    first: int,
    own: int,
) -> Bound:
    """The worst start and response over every blocking candidate and every job of its window."""
    worst: tuple[int, int, _Candidate] | None = None  # (start, job, candidate)
    response = 0
    for cand in cands:
        group = [*hep, *cand.extra]
        inter = [(cost[j.name], j.arrival.gap, j.arrival.jitter) for j in group]
        try:
            jobs = busy_window(first, own, ln.arrival.gap, ln.arrival.jitter, cand.cycles, inter)
        except NoBound as exc:
            return Bound(ln.name, policy, None, None, cand.cycles, cand.name, reason=str(exc))
        job = max(jobs, key=lambda j: (j.start, -j.q))
        if worst is None or job.start > worst[0]:
            worst = (job.start, job.q, cand)
        response = max(response, *(j.response for j in jobs))
    assert worst is not None  # why: the "none" candidate is always there
    start, q, cand = worst
    return Bound(ln.name, policy, start, response, cand.cycles, cand.name, start_job=q)


def line_by_name(bounds: list[Bound], name: str) -> Bound:
    return next(b for b in bounds if b.line == name)
