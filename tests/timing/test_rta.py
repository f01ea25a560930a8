"""Response-time analysis against a published worked example, and the blocking rule."""

from __future__ import annotations

from irqio.timing.analysis import response_time


def test_burns_wellings_worked_example_exactly() -> None:
    # A. Burns & A. Wellings, "Real-Time Systems and Programming Languages" (3rd ed. 2001 §13.5,
    # 4th ed. 2009 §11.5), the response-time analysis example: three tasks, priorities by rate,
    #   a: T=7,  C=3   b: T=12, C=3   c: T=20, C=5
    # Published: R_a = 3, R_b = 6, R_c = 20, with c's iterates 5, 11, 14, 17, 20, 20.
    ra, _ = response_time(3, 0, [])
    rb, _ = response_time(3, 0, [(3, 7, 0)])
    rc, iterates = response_time(5, 0, [(3, 7, 0), (3, 12, 0)])
    assert (ra, rb, rc) == (3, 6, 20)
    assert iterates == [5, 11, 14, 17, 20, 20]


def test_blocking_term_enters_once() -> None:
    # The same task c with one lower-priority critical section of 2 (ICPP: blocked at most once,
    # before it starts): w = 5 + 2 + ⌈w/7⌉3 + ⌈w/12⌉3
    #   7 -> 7+3+3 = 13 -> 7+6+6 = 19 -> 7+9+6 = 22 -> 7+12+6 = 25 -> 7+12+9 = 28 -> 28.
    rc, iterates = response_time(5, 2, [(3, 7, 0), (3, 12, 0)])
    assert iterates == [7, 13, 19, 22, 25, 28, 28]
    assert rc == 28


def test_jitter_terms() -> None:
    # Tindell, Burns & Wellings 1994: w = C + B + Σ ⌈(w + J_j)/T_j⌉ C_j, R = w + J_i.
    # b with a's jitter 2: w = 3 + ⌈(w+2)/7⌉3 -> 3, 6, 9 (⌈11/7⌉ = 2), 9; R = 9 + own jitter 1.
    rb, iterates = response_time(3, 0, [(3, 7, 2)], jitter=1)
    assert iterates == [3, 6, 9, 9]
    assert rb == 10


def test_overload_is_unbounded() -> None:
    assert response_time(1, 0, [(5, 10, 0), (5, 10, 0)])[0] is None
