"""What the benchmarks share (benchmarks/benchkit/): the one percentile, the per-call timing
loop, child processes, the peer adapters' bound methods, the install hint.

No timing thresholds: these check definitions and plumbing, never a speed.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from irqio import bench

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
bench.add_to_path(BENCHMARKS)  # as `irqio bench` does before it loads a script

from benchkit import harness, peers, report  # noqa: E402

# -- the percentile -------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    # The ⌈q·n⌉-th smallest sample: p50 of 1..10 is the 5th, p99 of 100 samples the 99th.
    assert harness.percentile(list(range(1, 11)), 0.5) == 5
    hundred = list(range(1, 101))
    assert harness.percentile(hundred, 0.99) == 99
    assert harness.percentile(hundred, 1.0) == 100
    assert harness.percentile(hundred, 0.5) == 50
    # 0.07 * 100 is 7.000000000000001 in floating point: still the 7th, not the 8th.
    assert harness.percentile(hundred, 0.07) == 7
    assert harness.percentile(hundred, 0.0) == 1  # the smallest
    assert harness.percentile(list(range(1, 12)), 0.5) == 6  # odd n: the middle one


def test_percentile_is_always_a_sample_and_ignores_order() -> None:
    samples = [30.5, 1.25, 7.0, 7.0, 99.0, 2.5]
    for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        assert harness.percentile(samples, q) in samples
    assert harness.percentile(samples, 0.5) == harness.percentile(sorted(samples), 0.5) == 7.0


def test_percentile_of_nothing_and_bad_shares() -> None:
    assert math.isnan(harness.percentile([], 0.5))
    for q in (-0.1, 1.5, 50):
        with pytest.raises(ValueError, match="between 0 and 1"):
            harness.percentile([1, 2, 3], q)


# -- per-call timing ------------------------------------------------------------------------


def test_timed_calls_calls_the_given_method_itself() -> None:
    # The bound method is called with exactly its arguments, once per counted call: nothing of
    # the bench's own is in between (a wrapper would be the thing timed).
    got: list[int] = []
    result = harness.timed_calls(got.append, (7,), 3 * harness.CHUNK, 60.0)
    assert result.calls == len(got) == 3 * harness.CHUNK
    assert set(got) == {7}
    counter = itertools.count()
    result = harness.timed_calls(counter.__next__, (), harness.CHUNK, 60.0)
    assert next(counter) == result.calls == harness.CHUNK
    assert result.ns_median > 0 and result.ns_mean > 0


def test_timed_calls_stops_at_its_time_bound() -> None:
    got: list[int] = []
    result = harness.timed_calls(got.append, (1,), 10**9, 0.0)
    assert result.calls == len(got) == harness.CHUNK  # one chunk, then the bound


# -- steps ----------------------------------------------------------------------------------


def test_steps_list_a_failing_step_and_go_on() -> None:
    ran: list[str] = []
    steps = harness.Steps()
    steps.add("first", lambda: ran.append("first"))

    def broken() -> None:
        raise harness.CaseError("no reply within 2 s")

    steps.add("second", broken)
    steps.add("third", lambda: ran.append("third"))
    assert steps.run(None) == ["second: CaseError('no reply within 2 s')"]
    assert ran == ["first", "third"]


# -- child processes ------------------------------------------------------------------------


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "child.py"
    path.write_text(
        f"import sys\nsys.path.insert(0, {str(BENCHMARKS)!r})\n" + textwrap.dedent(body)
    )
    return path


def test_run_child_reads_the_last_json_line(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        import json
        print("starting up", flush=True)
        print(json.dumps({"first": 1}))
        print(json.dumps([1, 2]))  # not an object: not a report
        print(json.dumps({"n": int(sys.argv[1])}))
        print("noise after", file=sys.stderr)
        """,
    )
    run = harness.run_child(harness.this_python(script, "41"), timeout=60.0)
    assert run.record == {"n": 41}
    assert run.returncode == 0 and not run.killed
    assert "starting up" in run.stdout and "noise after" in run.stderr
    assert run.wall_s > 0


def test_run_child_kills_past_its_timeout_and_keeps_what_it_said(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        import json, threading
        print(json.dumps({"phase": "stuck"}), flush=True)
        threading.Event().wait()  # never set: only the kill ends this
        """,
    )
    run = harness.run_child(harness.this_python(script), timeout=2.0)
    assert run.killed and run.returncode is None
    assert run.record == {"phase": "stuck"}


def test_child_report_watchdog_reports_a_hang_once(tmp_path: Path) -> None:
    # The main thread never finishes: the watchdog's record is the one line printed, and the
    # process ends by itself (no kill needed: the run below would say killed).
    script = _script(
        tmp_path,
        """
        import threading
        from benchkit.harness import ChildReport
        report = ChildReport()
        state = {"phase": "setup"}
        watch = report.watchdog(0.3, lambda: {"hang": True, "phase": state["phase"]})
        threading.Thread(target=watch, daemon=True).start()
        state["phase"] = "storm"
        threading.Event().wait()
        """,
    )
    run = harness.run_child(harness.this_python(script), timeout=60.0)
    assert not run.killed and run.returncode == 0
    assert run.record == {"hang": True, "phase": "storm"}
    assert run.stdout.count("\n") == 1


def test_child_report_finish_stands_the_watchdog_down(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        import threading, time
        from benchkit.harness import ChildReport
        report = ChildReport()
        watch = report.watchdog(60.0, lambda: {"hang": True})
        threading.Thread(target=watch, daemon=True).start()
        report.finish(lambda: {"hang": False})
        """,
    )
    run = harness.run_child(harness.this_python(script), timeout=60.0)
    assert run.record == {"hang": False} and run.stdout.count("\n") == 1


def test_find_interpreter_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRQIO_TEST_INTERPRETER", "/opt/somewhere/micropython")
    found = harness.find_interpreter("no-such-binary-here", env="IRQIO_TEST_INTERPRETER")
    assert found == "/opt/somewhere/micropython"
    monkeypatch.delenv("IRQIO_TEST_INTERPRETER")
    assert harness.find_interpreter("no-such-binary-here", env="IRQIO_TEST_INTERPRETER") is None
    assert harness.find_interpreter("no-such-binary-here", Path(sys.executable).name)


def test_idle_wake_config_is_what_sysfs_says() -> None:
    driver = Path("/sys/devices/system/cpu/cpuidle/current_driver")
    found = harness.idle_wake_config()
    if driver.exists():
        assert found["cpuidle_driver"] == driver.read_text().strip()
    else:
        assert "cpuidle_driver" not in found


# -- the peer adapters ----------------------------------------------------------------------


def _bench_code(fn: Callable[..., object]) -> bool:
    """`fn` is a Python function or method written in benchmarks/ (a wrapper of the bench's)."""
    code = getattr(fn, "__code__", None)
    return code is not None and Path(code.co_filename).resolve().is_relative_to(BENCHMARKS)


def _library_calls(made: peers.Signal | peers.Channel) -> list[Callable[..., object]]:
    """What the thread (or a signal handler) calls each time: timed per call in the rows."""
    if isinstance(made, peers.Signal):
        return [made.send]
    return [made.put, made.bound_put()]


def test_asyncio_adapters_hand_back_the_librarys_own_methods() -> None:
    pytest.importorskip("janus")
    pytest.importorskip("culsans")
    pytest.importorskip("aiologic")
    pytest.importorskip("anyio")

    async def build() -> list[tuple[str, Any]]:
        loop = asyncio.get_running_loop()
        ev = peers.asyncio_event()
        assert ev.send == loop.call_soon_threadsafe  # and its argument is the Event's set
        made: list[tuple[str, Any]] = [
            ("irqio Flag", peers.irqio_flag()),
            ("irqio Event", peers.irqio_event()),
            ("irqio Queue", peers.irqio_queue(8)),
            ("irqio Queue put_nowait", peers.irqio_queue(8, offer=False)),
            ("asyncio Event", ev),
            ("asyncio Queue", peers.asyncio_queue()),
            ("asyncio Queue direct", peers.asyncio_queue(threadsafe=False)),
            ("janus", peers.mixed_queue("janus")),
            ("culsans blocking", peers.mixed_queue("culsans", 4, blocking=True)),
            ("aiologic SimpleQueue", peers.aiologic_queue()),
            ("aiologic Event", peers.aiologic_event()),
            ("aiologic REvent", peers.aiologic_revent()),
            ("anyio", peers.anyio_stream()),
            ("anyio from_thread", peers.anyio_stream(from_thread=True)),
        ]
        for _, m in made:
            if m.release is not None:
                await m.release()
        return made

    for name, made in asyncio.run(build()):
        for fn in _library_calls(made):
            assert not _bench_code(fn), f"{name}: {fn!r} is a wrapper of the bench's own"


def test_trio_adapters_hand_back_the_librarys_own_methods() -> None:
    trio = pytest.importorskip("trio")

    async def build() -> list[Any]:
        token = trio.lowlevel.current_trio_token()
        made = [peers.trio_event(), peers.trio_channel(), peers.trio_channel(threadsafe=False)]
        assert made[0].send == token.run_sync_soon
        return made

    for made in trio.run(build):
        for fn in _library_calls(made):
            assert not _bench_code(fn), repr(fn)


def test_a_channel_put_reaches_its_get() -> None:
    async def go() -> list[Any]:
        channel = peers.asyncio_queue()
        put = channel.bound_put()
        put("a")
        channel.put(*channel.head, "b")
        return [await channel.get(), await channel.get()]

    assert asyncio.run(go()) == ["a", "b"]


def test_irqio_channel_counts_refused_offers() -> None:
    async def go() -> tuple[list[object], int]:
        channel = peers.irqio_queue(2)
        said = [channel.put(i) for i in range(3)]
        assert channel.refused is not None
        return said, channel.refused()

    said, refused = asyncio.run(go())
    assert said == [True, True, False] and refused == 1


# -- the install hint -----------------------------------------------------------------------


def test_install_hint_prints_verbatim_and_names_a_working_command() -> None:
    out = io.StringIO()
    console = Console(file=out, width=60)
    report.print_verbatim(console, report.install_hint(["janus", "trio"], "storm"))
    text = out.getvalue()
    assert "janus, trio" in text
    assert "[bench]'" in text  # not eaten as rich markup
    assert "dev.py irqio bench storm" in text  # dev.py installs the dev extra, peers included
    assert "\n" not in text.rstrip("\n")  # one line, however narrow the console
