"""irqio sweep: the --vary grammar, variants written into a system file, serial and Ray runs."""

from __future__ import annotations

import copy
import csv
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from irqio.cli import main
from irqio.timing.sweep import ValidateTask, VariantTask, collect, run_serial, run_task
from irqio.timing.sweep_params import SweepSpecError, apply, grid, parse_vary, sample


def pico_data() -> dict[str, Any]:
    text = (resources.files("irqio.timing") / "systems" / "pico-can.toml").read_text()
    return tomllib.loads(text)


# -- the grammar ----------------------------------------------------------------------------------
def test_ranges_lists_and_stars() -> None:
    assert parse_vary("background.atomic.instructions=16..64:16").values == (16, 32, 48, 64)
    assert parse_vary("cpi=1..2:0.25").values == (1.0, 1.25, 1.5, 1.75, 2.0)
    assert parse_vary("cpi=1..1.3:0.1").values == (1.0, 1.1, 1.2, 1.3)  # no 1.2000000000000002
    assert parse_vary("policy=global,ram").values == ("global", "ram")
    assert parse_vary("policy=*").values == ("global", "ram", "basepri", "source-mask", "pin-mask")
    assert parse_vary("variant=*", file_variants=("bank-trap",)).values == ("none", "bank-trap")
    p = parse_vary("cpi=1..2")
    assert p.continuous and (p.low, p.high, p.integer) == (1.0, 2.0, True)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("cpi", "expected PATH=VALUES"),
        ("cpi=2..1:1", "low end is above the high end"),
        ("cpi=1..2:0", "step must be > 0"),
        ("cpi=a..b:1", "LOW..HIGH[:STEP] with numbers"),
        ("lines.can.priority=*", "`*` needs a parameter with a known set of values"),
        ("lines..priority=1", "empty name between dots"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(SweepSpecError, match=says.replace("[", r"\[").replace("*", r"\*")):
        parse_vary(spec)


def test_a_grid_needs_steps_and_a_sample_is_seeded() -> None:
    params = [parse_vary("lines.can.priority=1,2,3"), parse_vary("cpi=1..2")]
    with pytest.raises(SweepSpecError, match="needs --sample"):
        list(grid(params))
    a, b = sample(params, 20, seed=7), sample(params, 20, seed=7)
    assert a == b and a != sample(params, 20, seed=8)
    assert {p["lines.can.priority"] for p in a} <= {1, 2, 3}
    assert all(1.0 <= p["cpi"] <= 2.0 for p in a)
    points = list(grid([parse_vary("policy=global,ram"), parse_vary("cpi=1,2")]))
    assert points == [  # the first parameter varies slowest
        {"policy": "global", "cpi": 1},
        {"policy": "global", "cpi": 2},
        {"policy": "ram", "cpi": 1},
        {"policy": "ram", "cpi": 2},
    ]


# -- writing values into the file ----------------------------------------------------------------
def test_paths_by_name_index_glob_family_and_shorthand() -> None:
    data = pico_data()
    apply(data, "background.atomic.instructions", 99)  # family: atomic_sched, atomic_gc, ...
    sections = {s["name"]: s["instructions"] for s in data["background"]["sections"]}
    assert [n for n, v in sections.items() if v == 99] == [
        "atomic_sched",
        "atomic_gc",
        "atomic_ringbuf",
        "atomic_stdio",
    ]
    assert sections["can_rx_pop"] == 16
    apply(data, "background.sections.atomic_g*.data_loads", 7)  # glob, array key spelled out
    assert [s.get("data_loads") for s in data["background"]["sections"]][:2] == [4, 7]
    apply(data, "lines[0].priority", 2)
    apply(data, "lines.timer.mp_sched_schedule.instructions", 5)  # `sections` left out
    apply(data, "lines.usb.arrival.jitter_us", 0)
    apply(data, "cpi", 2)  # a key of [system]
    assert data["lines"][0]["priority"] == 2
    assert data["lines"][1]["sections"][0]["instructions"] == 5
    assert data["lines"][2]["arrival"]["jitter_us"] == 0
    assert data["system"]["cpi"] == 2


def test_a_path_that_leads_nowhere_lists_what_is_there() -> None:
    with pytest.raises(SweepSpecError, match="names: can, timer, usb"):
        apply(pico_data(), "lines.cna.priority", 1)
    with pytest.raises(SweepSpecError, match=r"keys there: .*background"):
        apply(pico_data(), "backgrund.atomic.instructions", 1)


# -- running ------------------------------------------------------------------------------------
def tasks_over(specs: list[str], seconds: float = 0.02) -> list[VariantTask]:
    data = pico_data()
    points = list(grid([parse_vary(s, file_variants=("bank-trap",)) for s in specs]))
    return [
        VariantTask(i, data, "systems/pico-can.toml", p, (), seconds, None)
        for i, p in enumerate(points)
    ]


def test_the_global_bound_grows_with_the_atomic_sections_and_the_simulation_stays_below() -> None:
    tasks = tasks_over(["background.atomic.instructions=16..64:16", "policy=global,source-mask"])
    out = collect(run_serial(tasks))
    assert not out.failed
    can = [r for r in out.rows if r["line"] == "can"]
    glob = [r["bound_start_cycles"] for r in can if r["policy"] == "global"]
    assert glob == sorted(glob) and len(set(glob)) == 4  # each cold line adds a miss
    ceiling = {r["bound_start_cycles"] for r in can if r["policy"] == "source-mask"}
    assert len(ceiling) == 1  # the ceiling keeps the CAN out of every atomic section
    assert all(r["within_bound"] for r in out.rows)


def test_a_failed_variant_is_reported_and_the_others_run() -> None:
    tasks = tasks_over(["lines.can.priority=3,9"])
    results = run_serial(tasks)
    out = collect(results)
    assert [i for i, _ in out.failed] == [1]
    assert "allowed 1..4" in out.failed[0][1]
    assert len(results[0]) == 4 * 3  # the good variant: 4 policies x 3 lines


def test_same_seed_same_rows_and_the_seed_matters() -> None:
    task = tasks_over(["cpi=1.5"], seconds=0.05)[0]
    again = copy.deepcopy(task)
    other = VariantTask(0, task.data, task.path, task.point, (), 0.05, 12345)
    assert run_task(task) == run_task(again)
    assert run_task(task) != run_task(other)


def test_ray_gives_the_rows_a_serial_run_gives() -> None:
    ray = pytest.importorskip("ray")
    from irqio.timing.sweep import run_ray

    tasks = tasks_over(["background.atomic.instructions=16,48", "variant=*"])
    tasks.append(VariantTask(len(tasks), tasks[0].data, "p.toml", {"lines.can.priority": 9}))
    seen: list[int] = []
    try:
        got = run_ray(tasks, workers=2, progress=lambda i, rows: seen.append(i))
    finally:
        ray.shutdown()
    assert got == run_serial(tasks)
    assert sorted(seen) == list(range(len(tasks)))
    assert "allowed 1..4" in got[-1][0]["error"]  # failed in a worker, reported, not raised


def test_validate_tasks_run_random_systems_within_their_bounds() -> None:
    rows = [r for i in range(6) for r in run_task(ValidateTask(i, seed=3))]
    assert {r["system"] for r in rows} == set(range(6))
    assert not any(r["error"] for r in rows)
    assert all(r["within_bound"] for r in rows)
    assert rows == [r for i in range(6) for r in run_task(ValidateTask(i, seed=3))]


# -- the command --------------------------------------------------------------------------------
def test_sweep_command_writes_the_table_and_a_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    code = main(
        [
            "sweep",
            "pico-can",
            "--vary",
            "background.atomic.instructions=16,64",
            "--vary",
            "policy=global,pin-mask",
            "--seconds",
            "0.02",
            "--serial",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "pico-can.csv").open()))
    assert len(rows) == 2 * 2 * 3
    assert {r["policy"] for r in rows} == {"global", "pin-mask"}
    assert (tmp_path / "pico-can-background.atomic.instructions.png").stat().st_size > 1000
    assert "worst start latency of can" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["pico-can"], "nothing to vary"),
        (["pico-can", "--vary", "lines.cna.priority=1"], "no element named 'cna'"),
        (["nope.toml", "--vary", "cpi=1"], "file not found"),
        ([], "give a system FILE"),
        (["pico-can", "--validate", "3"], "give no FILE"),
        (["--validate", "0"], "must be >= 1"),
        (["pico-can", "--vary", "cpi=1", "--line", "x"], "no such line"),
    ],
)
def test_sweep_command_usage_errors(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", *argv, "--serial", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_sweep_command_failed_variants_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sweep", "pico-can", "--vary", "lines.can.priority=3,9", "--seconds", "0.01"]
    assert main([*argv, "--serial", "--out", str(tmp_path), "--json"]) == 3
    assert "allowed 1..4" in capsys.readouterr().out


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--validate", "8", "--serial", "--out", str(tmp_path)]) == 0
    assert "validated 8 random systems" in capsys.readouterr().out
    assert (tmp_path / "validate.csv").exists()


def test_ray_that_cannot_start_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("no GCS at 10.0.0.9:6379")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    argv = [
        "sweep",
        "pico-can",
        "--vary",
        "cpi=1",
        "--ray",
        "10.0.0.9:6379",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot start the cluster at 10.0.0.9:6379" in err and "--serial" in err
    assert "Traceback" not in err


def test_policy_star_is_the_policies_the_chip_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sweep", "pico-can", "--vary", "policy=*", "--seconds", "0.01", "--serial"]
    assert main([*argv, "--out", str(tmp_path), "--json"]) == 0  # no basepri on the RP2040
    rows = list(csv.DictReader((tmp_path / "pico-can.csv").open()))
    assert {r["policy"] for r in rows} == {"global", "ram", "source-mask", "pin-mask"}


def test_a_variant_too_big_to_simulate_fails_alone() -> None:
    # 10^6 instructions per atomic section at 250 Hz each: more work than a run may hold.
    tasks = tasks_over(["background.atomic.instructions=64,1000000"], seconds=0.01)
    out = collect(run_serial(tasks))
    assert [i for i, _ in out.failed] == [1]
    assert all(r["error"] == "" for r in out.rows if r["variant"] == 0)


def test_parquet_beside_the_csv_when_pyarrow_is_there(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from irqio.timing.sweep_output import write_table

    rows = collect(run_serial(tasks_over(["lines.can.priority=3,9"], seconds=0.01))).rows
    written = write_table(rows, tmp_path, "t")
    assert [p.name for p in written] == ["t.csv", "t.parquet"]
    table = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert len(table) == len(rows)
    assert table[0]["policy"] == rows[0]["policy"] and table[-1]["error"] == rows[-1]["error"]
