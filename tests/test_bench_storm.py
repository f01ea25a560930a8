"""The signal-storm benchmark runs end to end (tiny storms) and its parent survives a hung child.

Structure only, and irqio's own row: nothing lost, no hang. No speed is asserted, and no peer's
result: what the peers do under the storm is the benchmark's output, not a test. The trio rows
(a child of their own, under trio.run) are checked for bookkeeping: every call accounted for.
"""

from __future__ import annotations

import io
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from irqio import bench

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

pytestmark = [
    pytest.mark.skipif(
        not hasattr(signal, "SIGRTMIN") or not hasattr(signal, "pthread_kill"),
        reason="needs POSIX real-time signals and pthread_kill",
    ),
]

# irqio's rows, the documented asyncio path, one peer that deadlocks in its handler (so the hang
# path runs too), and trio's rows (their own child setup): ~6 s. The full list of cases runs in
# `irqio bench storm`. Each text picks the cases whose key contains it ("_" stands for "-").
CASES = ["irqio", "call_soon_threadsafe", "janus", "trio"]
TRIO_ROWS = {"trio run_sync_soon", "trio send_nowait (direct)"}


@pytest.fixture(scope="module")
def storm() -> Any:
    return bench.load(BENCHMARKS, "storm")


@pytest.fixture(scope="module")
def storm_json(storm: Any) -> dict[str, Any]:
    pytest.importorskip("janus")
    pytest.importorskip("trio")
    argv = ["--smoke", "--json", "--sender", "thread"]
    for c in CASES:
        argv += ["--case", c]
    capture = pytest.MonkeyPatch()
    out = io.StringIO()
    capture.setattr(sys, "stdout", out)
    try:
        code = storm.main(argv)
    finally:
        capture.undo()
    data: dict[str, Any] = json.loads(out.getvalue())
    data["_exit_code"] = code
    return data


KEYS = {
    "case",
    "key",
    "sender",
    "calls",
    "received",
    "refused",
    "lost",
    "left_queued",
    "gone",
    "max_depth",
    "latency_p50_ms",
    "latency_max_ms",
    "stranded",
    "hang",
    "errors",
    "wall_s",
    "verdict",
    "handler_does",
    "consumer_does",
}


@pytest.mark.timeout(60)
def test_storm_bench_rows(storm: Any, storm_json: dict[str, Any]) -> None:
    rows = storm_json["cases"]
    names = {r["case"] for r in rows}
    picked = [c for c in storm.CASES.values() if any(s.replace("_", "-") in c.key for s in CASES)]
    assert names == {c.label for c in picked}
    assert {r["key"] for r in rows} == {c.key for c in picked}
    assert {"irqio Queue.offer", "irqio Flag.set", "janus sync_q.put_nowait"} <= names
    assert names >= TRIO_ROWS
    for r in rows:
        assert set(r) >= KEYS, KEYS - set(r)
        assert r["sender"] == "thread"
        assert isinstance(r["hang"], bool)
        assert r["wall_s"] > 0
        assert r["verdict"]
        if not r["hang"]:
            assert r["calls"] > 0, r  # the storm reached the handler
            assert isinstance(r["stranded"], bool)
            assert r["max_depth"] >= 1
        else:
            assert r["hang_where"]
    meta = storm_json["meta"]
    assert meta["mode"] == "smoke" and meta["senders"] == ["thread"]
    assert meta["errors"] == [] and storm_json["_exit_code"] == 0


@pytest.mark.timeout(60)
def test_storm_bench_irqio_keeps_everything(storm_json: dict[str, Any]) -> None:
    rows = {r["case"]: r for r in storm_json["cases"]}
    for name in ("irqio Queue.offer", "irqio SignalSource → Queue.offer"):
        q = rows[name]
        assert q["hang"] is False and q["stranded"] is False
        assert q["lost"] == 0 and q["gone"] == 0 and q["left_queued"] == 0
        assert q["received"] + q["refused"] == q["calls"]
        assert q["errors"] == {} and q["verdict"] == "ok"
    assert rows["irqio SignalSource → Queue.offer"]["max_depth"] == 1  # no handler: no nesting
    f = rows["irqio Flag.set"]
    assert f["hang"] is False and f["stranded"] is False and f["errors"] == {}
    assert f["lost"] is None  # a flag coalesces: wakes are not comparable with sets
    assert 0 < f["received"] <= f["calls"]


@pytest.mark.timeout(60)
def test_storm_bench_trio_rows_account_for_every_call(storm_json: dict[str, Any]) -> None:
    rows = {r["case"]: r for r in storm_json["cases"]}
    assert "run_sync_soon" in rows["trio run_sync_soon"]["handler_does"]
    for name in TRIO_ROWS:
        r = rows[name]
        assert r["sender"] == "thread" and r["lost"] is not None  # a queue row, not a flag
        if r["hang"] or r["crash"]:
            continue  # what trio does is the bench's output; the accounting below needs an end
        assert r["calls"] > 0 and r["refused"] == 0  # an unbounded channel refuses nothing
        assert r["received"] + r["refused"] + r["lost"] == r["calls"]
        # Every call is received, still queued, or gone (a duplicate would count twice).
        assert r["lost"] == r["left_queued"] + r["gone"] - r["duplicates"], r
        assert isinstance(r["stranded"], bool)
        assert "trio/" in r["consumer_parked_at"]  # the trio task's frames were read


@pytest.mark.timeout(60)
def test_storm_parent_kills_a_trio_child_past_its_hard_timeout(storm: Any) -> None:
    pytest.importorskip("trio")
    # The trio child's sender alone runs for SMOKE.storm (0.15 s), so a 0.1 s bound always
    # ends it: the parent's hard kill covers the trio setup as it does the asyncio one.
    assert storm.SMOKE.storm > 0.1
    rec = storm.run_case("trio-run-sync-soon", "thread", "smoke", storm.SMOKE, hard=0.1)
    assert rec["hang"] is True and rec["killed"] is True
    assert storm.verdict(rec) == "hang"


@pytest.mark.timeout(60)
def test_storm_parent_kills_a_child_past_its_hard_timeout(storm: Any) -> None:
    pytest.importorskip("anyio")
    # anyio's from_thread.run_sync blocks in the very first handler call (it waits for the loop
    # it interrupted), so the child hangs every time; janus needs a re-entered handler, which a
    # short storm on a loaded machine does not always produce. The child's own watchdog would
    # report after a few seconds; the parent's bound is shorter.
    case = "anyio-run-sync"
    rec = storm.run_case(case, "thread", "smoke", storm.SMOKE, hard=1.0)
    assert rec["hang"] is True and rec["killed"] is True
    assert rec["key"] == case and rec["case"] == "anyio from_thread.run_sync"
    assert storm.verdict(rec) == "hang"


def test_storm_case_filter_matches_keys_and_says_when_nothing_does(
    storm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = [c.key for c in storm.selected(["aiologic"])]
    assert keys == [k for k in storm.CASES if k.startswith("aiologic")] and len(keys) == 3
    assert [c.key for c in storm.selected(["call_soon_threadsafe"])] == [
        "asyncio-call-soon-threadsafe"
    ]
    assert storm.main(["--smoke", "--case", "no-such-library"]) == 2
    err = capsys.readouterr().err
    assert "no-such-library" in err and "irqio-queue-offer" in err


def test_storm_is_listed_by_irqio_bench() -> None:
    assert "storm" in bench.available(BENCHMARKS)
