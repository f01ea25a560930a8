"""The seed's story, live: ceilings keep the urgent line at its idle latency; critical()
delays it by about the section length. Bounded: at most 3 attempts of about 1 s per mode.

On a loaded 2-core machine the OS deschedules the main thread for a few ms at a time (measured
here at load 3: idle p99 of 5 ms), which lands in whichever mode is running. So: the p99
relation gets up to three attempts; if noise spoils all three, the relation on p50 decides
(critical() >= 0.2 section, resource <= max(2x idle, 0.1 section) and < critical()/2). It still
fails if ceilings did not work: the resource row would then sit next to the critical() row.
"""

from __future__ import annotations

from irqio.demo.ceiling import MODES, StoryResult, run_story, story_holds


def _attempt(seed: int) -> dict[str, StoryResult]:
    results = {mode: run_story(mode, seconds=1.0, max_pends=300, seed=seed) for mode in MODES}
    for res in results.values():
        assert res.latency.count >= 50, f"too few samples in {res.mode}: {res.latency}"
    crit = results["critical"].stats.line("urgent")
    # blame names critical() as the holder, with a worst wait of about the section length
    assert crit.blame and crit.blame[0].holder == "critical()"
    assert crit.blame[0].worst_ns >= 0.5 * 2_000_000
    assert results["resource"].stats.line("urgent").blame == []
    return results


def test_ceiling_vs_critical_latency() -> None:
    verdicts = []
    results: dict[str, StoryResult] = {}
    for seed in (1, 2, 3):
        results = _attempt(seed)
        ok, verdict = story_holds(results, "p99")
        verdicts.append(verdict)
        if ok:
            return
    ok, verdict = story_holds(results, "p50")
    assert ok, "; ".join([*verdicts, verdict])
