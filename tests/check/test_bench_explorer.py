"""The explorer bench's shared races are real races: irqio finds each bug and passes each fixed
program; and the bench runs end to end (small sizes, irqio alone)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _module(name: str):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("program", ["lost_update", "check_then_act", "publish_after_signal",
                                     "two_preemptions"])  # fmt: skip
def test_irqio_finds_each_race_and_passes_its_fix(program: str) -> None:
    races = _module("explorer_races")
    assert races.run_irqio(program, "buggy")["found"] is True
    assert races.run_irqio(program, "fixed")["found"] is False


def test_the_two_preemption_race_needs_two_preemptions() -> None:
    races = _module("explorer_races")
    from irqio.check import Scenario, Setup, explore

    one, two, ok = races.PLAIN["two_preemptions"]["buggy"]

    def build(s: Setup) -> None:
        st = races.State()
        s.task(lambda: one(st))
        s.thread(lambda: two(st), "t2")
        s.at_end(lambda: ok(st), "the invariant")

    sc = Scenario(build, "two", 1, modules=["@scenario", "explorer_races"])
    assert explore(sc, preemptions=1).ok
    assert not explore(sc, preemptions=2).ok


def test_the_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _module("bench_explorer")
    assert bench.main(["--quick", "--json", "--part", "alone"]) == 0
    data = json.loads(capsys.readouterr().out)
    alone = data["alone"]
    assert [r["verdicts"][0] == r["verdicts"][1] for r in alone["reduction"]] == [True, True]
    assert alone["jobs"]["identical"] is True
    assert all(r["schedules_per_s"] > 0 for r in alone["speed"])
