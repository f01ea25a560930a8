"""Response-time analysis with blocking, per line and policy.

The recurrence is the fixed-priority one with release jitter (Joseph & Pandya 1986; Audsley,
Burns, Richardson, Tindell & Wellings 1993; Tindell, Burns & Wellings 1994 — reference §2.3):

    w = C_i + B_i + Σ_{j∈hp(i)} ⌈(w + J_j) / T_j⌉ C_j ,   R_i = w + J_i

For interrupt lines (reference §2.2) the terms are, in cycles:
- C_j of an interfering line: entry + its handler with every flash fetch a miss + exit, plus one
  miss for the line it interrupts re-fetching its evicted line when it resumes.
- The blocking term is one candidate at a time (immediate ceiling protocol: at most one
  lower-priority section delays a line, and only before it starts): a section that the policy's
  mask keeps the line out of, at its worst case (every flash fetch a miss), or one in-flight
  flash miss of lower-priority code. A section that leaves some lower lines unmasked may be
  preempted by them while it keeps our line out; those lines interfere for that candidate.
- The start bound stops at the handler's first instruction: entry plus its first fetch. With
  an own cost of one unit it is Buttazzo's non-preemptive start time plus one (Hard Real-Time
  Computing Systems, 3rd ed. 2011, Eq. 8.4): ⌈(s+1)/T⌉ = ⌊s/T⌋ + 1. tests/timing/test_rta.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from irqio.timing.masks import section_mask
from irqio.timing.program import RAM, Compiler, Layout
from irqio.timing.system import BACKGROUND, System


def response_time(
    c: int,
    b: int,
    interferers: Sequence[tuple[int, int, int]],
    jitter: int = 0,
    limit: int = 10**15,
) -> tuple[int | None, list[int]]:
    """Solve w = c + b + Σ ⌈(w + J_j)/T_j⌉ C_j for interferers (C_j, T_j, J_j) by fixed-point
    iteration from w = c + b. Returns (R = w + jitter, the iterates) or (None, iterates) when
    the level is overloaded or w passes `limit`."""
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


@dataclass(frozen=True)
class Bound:
    line: str
    policy: str
    start: int | None  # worst-case start latency, cycles from the line's arrival
    response: int | None  # worst-case response (handler done), cycles from arrival
    blocking: int  # the blocking term of the worst candidate
    blocked_by: str  # which section (or "in-flight flash miss", or "none") sets it


@dataclass(frozen=True)
class _Candidate:
    name: str
    cycles: int
    extra: tuple[str, ...]  # lower lines that can preempt the blocking section meanwhile


def analyze(system: System, policy: str) -> list[Bound]:
    p = system.profile
    comp = Compiler(system, Layout(system), policy)
    M = p.flash_miss_cycles
    bodies = {ln.name: comp.handler(ln.name) for ln in system.lines}
    level = {ln.name: system.hw_level(ln) for ln in system.lines}
    wcet = {n: comp.wcet(b) for n, b in bodies.items()}
    cost = {n: p.entry_cycles + wcet[n] + p.exit_cycles + M for n in bodies}
    owners: list[tuple[str, int, list[tuple[str, int, bool]]]] = []  # (owner, level, sections)
    bg_secs = []
    for s in system.background.sections:
        body = comp.section(BACKGROUND, s)
        bg_secs.append(
            (s.resource + ":" + s.name, comp.wcet(body), any(a != RAM for a, _ in body.steps))
        )
    owners.append((BACKGROUND, 0, bg_secs))
    flash_code = {
        BACKGROUND: system.background.misses_per_kinstr > 0 or any(f for *_, f in bg_secs)
    }
    for ln in system.lines:
        secs = []
        for s in ln.handler.sections:
            body = comp.section(ln.name, s)
            secs.append((s.resource + ":" + s.name, comp.wcet(body), False))
        owners.append((ln.name, level[ln.name], secs))
        flash_code[ln.name] = any(a != RAM for a, _ in bodies[ln.name].steps)

    out = []
    for ln in system.lines:
        li = level[ln.name]
        hep = [j for j in system.lines if j.name != ln.name and level[j.name] >= li]
        cands = [_Candidate("none", 0, ())]
        if any(flash_code[o] for o, lv, _ in owners if lv < li):
            cands.append(_Candidate("in-flight flash miss", M, ()))
        for owner, lv, secs in owners:
            if lv >= li:
                continue
            for key, cycles, _ in secs:
                resource = key.split(":", 1)[0]
                mask = section_mask(system, policy, resource, lv)
                if not mask.blocks(ln, li):
                    continue
                extra = tuple(
                    k.name
                    for k in system.lines
                    if k.name != ln.name
                    and level[k.name] < li
                    and level[k.name] > lv
                    and not mask.blocks(k, level[k.name])
                )
                cands.append(_Candidate(f"{owner}/{key.split(':', 1)[1]}", cycles, extra))
        first_fetch = M if bodies[ln.name].steps[0][0] != RAM else 0
        worst_start: tuple[bool, int, _Candidate] | None = None
        worst_resp: tuple[bool, int] = (False, 0)
        for cand in cands:
            group = hep + [system.line(n) for n in cand.extra]
            inter = [(cost[j.name], j.arrival.gap, j.arrival.jitter) for j in group]
            start, _ = response_time(p.entry_cycles + first_fetch, cand.cycles, inter)
            resp, _ = response_time(p.entry_cycles + wcet[ln.name], cand.cycles, inter)
            # Unbounded (None) sorts above every number.
            candidate = (start is None, start or 0, cand)
            if worst_start is None or candidate[:2] > worst_start[:2]:
                worst_start = candidate
            worst_resp = max(worst_resp, (resp is None, resp or 0))
        assert worst_start is not None  # why: the "none" candidate is always there
        unbounded, start_cycles, cand = worst_start
        out.append(
            Bound(
                ln.name,
                policy,
                None if unbounded else start_cycles,
                None if worst_resp[0] else worst_resp[1],
                cand.cycles,
                cand.name,
            )
        )
    return out


def analyze_all(system: System) -> dict[str, list[Bound]]:
    return {policy: analyze(system, policy) for policy in system.policies}


def line_by_name(bounds: list[Bound], name: str) -> Bound:
    return next(b for b in bounds if b.line == name)
