"""The runtime benchmark runs end to end (tiny sizes), and `irqio bench` handles its names.

No timing thresholds here: the speed targets live in the benchmark's own output.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from irqio import bench, cli

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

pytest.importorskip("janus")
pytest.importorskip("culsans")
pytest.importorskip("aiologic")
pytest.importorskip("trio")


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def runtime_json() -> dict[str, Any]:
    module = bench.load(BENCHMARKS, "runtime")
    capture = pytest.MonkeyPatch()
    import io

    out = io.StringIO()
    capture.setattr(sys, "stdout", out)
    try:
        code = module.main(["--smoke", "--json", "--loop", "asyncio"])
    finally:
        capture.undo()
    data: dict[str, Any] = json.loads(out.getvalue())
    data["_exit_code"] = code
    return data


@pytest.mark.timeout(120)
def test_runtime_bench_runs_clean(runtime_json: dict[str, Any]) -> None:
    assert runtime_json["meta"]["errors"] == []
    assert runtime_json["_exit_code"] == 0
    assert runtime_json["meta"]["loops"] == ["asyncio"]


def test_runtime_bench_reports_how_idle_cpus_wait(runtime_json: dict[str, Any]) -> None:
    # The floor of every round trip is a wake of an idle CPU: the meta says how they wait,
    # exactly as sysfs has it (keys whose file is absent are left out).
    idle = runtime_json["meta"]["idle_wake"]
    driver = Path("/sys/devices/system/cpu/cpuidle/current_driver")
    halt_poll = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
    for key, path in (("cpuidle_driver", driver), ("guest_halt_poll_ns", halt_poll)):
        if path.exists():
            assert idle[key] == path.read_text().strip()
        else:
            assert key not in idle


def _libs(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["library"], r["loop"]) for r in rows}


@pytest.mark.timeout(120)
def test_runtime_bench_round_trip_rows(runtime_json: dict[str, Any]) -> None:
    rows = runtime_json["round_trip"]
    libs = {lib for lib, _ in _libs(rows)}
    assert libs == {
        "irqio Flag",
        "irqio Event",
        "irqio Queue",
        "asyncio Event+cst",
        "janus",
        "culsans",
        "aiologic Event",
        "aiologic SimpleQueue",
        "trio",
        "bare threads (no loop)",
    }
    for r in rows:
        assert r["measures"]
        assert r["rounds"] > 0
        assert _positive(r["p50_us"]) and _positive(r["p99_us"])
        assert r["p99_us"] >= r["p50_us"]


@pytest.mark.timeout(120)
def test_runtime_bench_throughput_rows(runtime_json: dict[str, Any]) -> None:
    rows = runtime_json["throughput"]
    assert {lib for lib, _ in _libs(rows)} == {
        "irqio Queue get_batch",
        "irqio Queue get",
        "asyncio Queue+cst",
        "janus",
        "culsans",
        "aiologic SimpleQueue",
        "trio",
    }
    for r in rows:
        assert r["items"] > 0 and _positive(r["items_per_s"]) and _positive(r["seconds"])
        assert r["overruns"] >= 0


@pytest.mark.timeout(120)
def test_runtime_bench_set_cost_rows(runtime_json: dict[str, Any]) -> None:
    rows = runtime_json["set_cost"]
    libs = {lib for lib, _ in _libs(rows)}
    assert "irqio Flag.set, wake due" in libs
    assert "asyncio cst(ev.set)" in libs
    assert {"janus sync_q.put_nowait", "culsans sync_q.put_nowait"} <= libs
    assert {"aiologic SimpleQueue.put", "trio run_sync_soon(ev.set)"} <= libs
    for r in rows:
        assert r["calls"] > 0
        assert _positive(r["ns_per_call_median"]) and _positive(r["ns_per_call_mean"])
        if r["library"].startswith("irqio"):
            assert r["wakes"] >= 0 and r["services"] >= 0
    due = [r for r in rows if r["library"].endswith("wake due")]
    assert due and all(r["wakes"] == 0 for r in due)  # a counted fact, not a timing


@pytest.mark.timeout(120)
def test_runtime_bench_idle_and_wake_latency_rows(runtime_json: dict[str, Any]) -> None:
    idle = runtime_json["idle_cpu"]
    assert {lib for lib, _ in _libs(idle)} == {
        "irqio",
        "asyncio",
        "janus",
        "culsans",
        "aiologic",
        "trio",
    }
    for r in idle:
        assert _positive(r["wall_s"]) and r["cpu_ms"] >= 0
    wl = runtime_json["wake_latency"]
    for lib in ("irqio Flag", "asyncio Event+cst"):
        counts = sorted(r["primitives"] for r in wl if r["library"] == lib)
        assert len(counts) == 3 and counts[0] == 1
        for r in wl:
            assert r["samples"] > 0 and _positive(r["p50_us"])


def test_runtime_bench_without_a_peer_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = bench.load(BENCHMARKS, "runtime")
    monkeypatch.setattr(module.peers, "version", lambda name: None if name == "janus" else "1")
    assert module.main(["--smoke", "--loop", "asyncio"]) == 2
    err = capsys.readouterr().err
    # Verbatim (rich markup would eat "[bench]"), and a command that installs the peers.
    assert "missing peer libraries: janus." in err
    assert "[bench]'" in err and "dev.py irqio bench runtime" in err


def test_wake_latency_pairs_sizes_within_blocks() -> None:
    module = bench.load(BENCHMARKS, "runtime")
    # A host spell: blocks 1-2 run at ~45 µs, blocks 3-4 at ~30, for every size alike. The
    # overall p50s would differ by chance; the paired ratio says the size changes nothing.
    fewest = [[45_000] * 9, [45_500] * 9, [30_000] * 9, [30_200] * 9]
    many = [[45_200] * 9, [45_000] * 9, [30_100] * 9, [30_000] * 9]
    assert module.block_paired_ratio(many, fewest) == pytest.approx(1.0, abs=0.01)
    # A real effect of the size shows through the same spell.
    slower = [[round(x * 1.2) for x in b] for b in fewest]
    assert module.block_paired_ratio(slower, fewest) == pytest.approx(1.2, abs=0.001)
    assert module.block_paired_ratio([[], []], [[], [1]]) is None  # no block with both sides


@pytest.mark.timeout(120)
def test_runtime_bench_wake_latency_verdict_is_the_paired_spread(
    runtime_json: dict[str, Any],
) -> None:
    (verdict,) = [v for v in runtime_json["targets"] if v["target"].startswith("wake latency")]
    rows = [r for r in runtime_json["wake_latency"] if r["library"] == "irqio Flag"]
    ratios = [r["ratio_to_fewest"] for r in sorted(rows, key=lambda r: r["primitives"])]
    assert ratios[0] == 1.0
    assert verdict["value"] == pytest.approx(max(ratios) / min(ratios) - 1.0)
    assert verdict["pass"] == (verdict["value"] <= 0.10)


@pytest.mark.timeout(120)
def test_runtime_bench_has_verdicts(runtime_json: dict[str, Any]) -> None:
    names = {v["target"] for v in runtime_json["targets"]}
    assert any(n.startswith("round trip") for n in names)
    assert any(n.startswith("throughput") for n in names)
    assert any(n.startswith("set()") for n in names)
    assert any(n.startswith("wake latency") for n in names)
    for v in runtime_json["targets"]:
        assert isinstance(v["pass"], bool)


# -- irqio bench ----------------------------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_bench_finds_the_checkout() -> None:
    assert bench.benchmarks_dir() == BENCHMARKS
    assert "runtime" in bench.available(BENCHMARKS)


def test_bench_unknown_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.run(_args("no-such-bench")) == 2
    err = capsys.readouterr().err
    assert "no-such-bench" in err and "runtime" in err


def test_bench_unknown_name_among_known_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "runtime", "nope", "--quick"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_bench_without_benchmarks_folder_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench, "benchmarks_dir", lambda: None)
    assert bench.run(_args()) == 2
    assert "benchmarks" in capsys.readouterr().err


def test_bench_runs_scripts_and_combines_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, code in (("alpha", 0), ("beta", 0)):
        (tmp_path / f"bench_{name}.py").write_text(
            "import json, sys\n"
            "def main(argv=None):\n"
            f"    json.dump({{'name': {name!r}, 'argv': argv}}, sys.stdout)\n"
            f"    return {code}\n"
        )
    monkeypatch.setattr(bench, "benchmarks_dir", lambda: tmp_path)
    assert bench.run(_args("all", "--json", "--quick")) == 0
    combined = json.loads(capsys.readouterr().out)
    assert combined == {
        "alpha": {"name": "alpha", "argv": ["--json", "--quick"]},
        "beta": {"name": "beta", "argv": ["--json", "--quick"]},
    }
    assert bench.run(_args("gamma")) == 2
    assert "alpha, beta" in capsys.readouterr().err
