"""`irqio sim` and `irqio analyze` through the real CLI entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from irqio.cli import main

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "pico-can.toml")


def test_analyze_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", EXAMPLE, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    can = data["policies"]["global"]["can"]
    assert 7.0 <= can["start_us"] <= 13.0
    assert can["blocked_by"].startswith("background/atomic")
    assert data["policies"]["source-mask"]["can"]["start_us"] <= 1.0


def test_analyze_table_and_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", EXAMPLE, "--variant", "bank-trap"]) == 0
    out = capsys.readouterr().out
    assert "button" in out and "bank-trap" in out


def test_sim_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    code = main(
        [
            "sim",
            EXAMPLE,
            "--policy",
            "global",
            "--policy",
            "pin-mask",
            "--seconds",
            "0.05",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["policies"]) == {"global", "pin-mask"}
    assert data["policies"]["global"]["lines"]["can"]["count"] > 100
    from vcd.reader import TokenKind, tokenize

    with (out / "pico-can-global.vcd").open("rb") as f:
        kinds = {tok.kind for tok in tokenize(f)}
    assert TokenKind.CHANGE_SCALAR in kinds and TokenKind.VAR in kinds
    trace = json.loads((out / "pico-can-pin-mask.trace.json").read_text())
    spans = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    assert spans and all(e["dur"] >= 0 for e in spans)
    for name in (
        "pico-can-latency.png",
        "pico-can-global-worst.png",
        "pico-can-pin-mask-worst.png",
    ):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The report page: every line and policy, and every link points at a file written.
    page = (out / "index.html").read_text()
    assert str(out / "index.html") in data["files"]
    for word in ("global", "pin-mask", "can", "bound µs"):
        assert word in page
    import re

    linked = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(linked) == 7  # 3 plots, 2 VCDs, 2 traces
    assert all((out / name).is_file() for name in linked)
    assert "class=over" not in page  # no simulated worst case above its bound


def test_sim_records_seed_duration_and_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import irqio

    out = tmp_path / "report"
    argv = ["sim", EXAMPLE, "--policy", "ram", "--seconds", "0.01", "--seed", "7", "--out"]
    assert main([*argv, str(out), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["run"]
    assert run == {
        "system": "pico-can",
        "variant": None,
        "chip": "rp2040",
        "clock_hz": 125_000_000,
        "seed": 7,
        "seconds": 0.01,
        "irqio_version": irqio.__version__,
    }
    trace = json.loads((out / "pico-can-ram.trace.json").read_text())
    assert trace["metadata"] == {**run, "policy": "ram"}
    header = (out / "pico-can-ram.vcd").read_text().split("$enddefinitions")[0]
    described = f"irqio {irqio.__version__} sim pico-can on rp2040 at 125 MHz: seed 7, 0.01 s"
    assert described in header and "policy ram" in header
    assert f"$version irqio {irqio.__version__} $end" in header
    assert "today" not in header  # a real date, not the word
    page = (out / "index.html").read_text()
    for shown in (f"<dt>irqio</dt><dd>{irqio.__version__}</dd>", "<dt>seed</dt><dd>7</dd>"):
        assert shown in page
    assert "<dt>simulated</dt><dd>0.01 s per policy</dd>" in page


def test_sim_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", EXAMPLE, "--policy", "source-mask", "--seconds", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "source-mask" in out and "can" in out


def test_bad_input_is_one_clear_error(
    write_toml: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_toml(
        '[system]\nname = "x"\nchip = "rp2040"\nbogus = 1\n[background]\nname = "b"\n[[lines]]\n'
    )
    for cmd in ("sim", "analyze"):
        assert main([cmd, str(bad)]) == 2
        err = capsys.readouterr().err
        assert str(bad) in err and "system.bogus" in err and "allowed:" in err
        assert "Traceback" not in err


def test_basepri_refused_on_rp2040(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", EXAMPLE, "--policy", "basepri", "--seconds", "0.01"]) == 2
    assert "no BASEPRI" in capsys.readouterr().err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "/nonexistent.toml"]) == 2
    assert "file not found" in capsys.readouterr().err
