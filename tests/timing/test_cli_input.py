"""Bad input to `irqio analyze` / `irqio sim`: one clear line, a distinct exit code, no
traceback, nothing written where it should not be (docs/timing.md, "Exit codes and input
limits")."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from irqio.cli import main
from irqio.timing import sim_command
from irqio.timing.errors import (
    EXIT_BAD_INPUT,
    EXIT_MISSING_EXTRA,
    EXIT_NO_BOUND,
    EXIT_OUTPUT,
    SystemFileError,
)
from irqio.timing.limits import MAX_INSTRUCTIONS, MAX_RUN_EVENTS, MAX_TRACE_TIMES
from irqio.timing.system import parse_system

GOOD = """\
[system]
name = "t"
chip = "rp2040"
policies = ["global"]
seconds = 0.001
[[lines]]
name = "a"
priority = 2
nvic = "TIMER_IRQ_0"
arrival = { kind = "periodic", period_us = 100, jitter_us = 5 }
handler = { instructions = 10, placement = "flash" }
[[lines]]
name = "b"
priority = 1
nvic = "TIMER_IRQ_1"
arrival = { kind = "sporadic", min_gap_us = 50, mean_gap_us = 80 }
handler = { instructions = 10, placement = "ram" }
[background]
name = "bg"
cpi = 1.5
[[background.sections]]
name = "s"
resource = "r"
rate_hz = 1000
instructions = 8
data_loads = 1
placement = "flash"
[resources.r]
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def go(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return go


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything is simulated: the check must come first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated before the input was checked")

    monkeypatch.setattr(sim_command, "Simulator", refuse)


def both(run: Run, path: str, *more: str) -> list[tuple[int, str]]:
    """(exit code, stderr) of analyze and of sim on `path`; each stderr is one line."""
    got = []
    for argv in (("analyze", path, *more), ("sim", path, *more)):
        code, _, err = run(*argv)
        assert err.count("\n") == 1, err
        got.append((code, err))
    return got


def assert_rejected(run: Run, path: str, *words: str) -> None:
    for code, err in both(run, path):
        assert code == EXIT_BAD_INPUT, err
        for w in words:
            assert w in err, err


def test_not_utf8(run: Run, tmp_path: Path, no_simulation: None) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(GOOD.replace('"t"', '"caf\xe9"').encode("latin-1"))
    assert_rejected(run, str(path), "not UTF-8 text (byte 0xe9 at offset")


def test_a_directory_and_an_empty_name(run: Run, tmp_path: Path, no_simulation: None) -> None:
    assert_rejected(run, str(tmp_path), "is a directory")
    assert_rejected(run, "", "empty file name")


def test_arrays_nested_1000_deep(run: Run, tmp_path: Path, no_simulation: None) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 1000 + "]" * 1000 + "\n" + GOOD)
    assert_rejected(run, str(path), "nested too deeply")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this system")
def test_dev_zero_is_read_with_a_limit(run: Run, no_simulation: None) -> None:
    assert_rejected(run, "/dev/zero", "larger than 1,048,576 bytes")


def test_a_huge_file(run: Run, tmp_path: Path, no_simulation: None) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(GOOD + "#" * (1 << 20))
    assert_rejected(run, str(path), "larger than 1,048,576 bytes")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("cpi = 1.5", "cpi = {}", "background.cpi"),
        ('policies = ["global"]', 'policies = ["global"]\ncpi = {}', "system.cpi"),
        ("period_us = 100", "period_us = {}", "lines[0].arrival.period_us"),
        ("jitter_us = 5", "jitter_us = {}", "lines[0].arrival.jitter_us"),
        ("min_gap_us = 50", "min_gap_us = {}", "lines[1].arrival.min_gap_us"),
        ("mean_gap_us = 80", "mean_gap_us = {}", "lines[1].arrival.mean_gap_us"),
        ("seconds = 0.001", "seconds = {}", "system.seconds"),
        ("rate_hz = 1000", "rate_hz = {}", "background.sections[0].rate_hz"),
    ],
)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_inf_and_nan(
    run: Run,
    write_toml: Callable[[str], Path],
    no_simulation: None,
    old: str,
    new: str,
    key: str,
    value: str,
) -> None:
    assert old in GOOD
    path = write_toml(GOOD.replace(old, new.format(value)))
    assert_rejected(run, str(path), f"{key}: got {value}", "finite")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("rate_hz = 1000", "rate_hz = 0", ("rate_hz: must be >= 0.001 (got 0)",)),
        ("rate_hz = 1000", "rate_hz = 1e-300", ("rate_hz: must be >= 0.001 (got 1e-300)",)),
        ("instructions = 10,", "instructions = 2147483648,", (f"<= {MAX_INSTRUCTIONS:,}",)),
        ("instructions = 8", "instructions = 10000000", (f"<= {MAX_INSTRUCTIONS:,}",)),
        ("data_loads = 1", "data_loads = 10000000", ("data_loads: must be <= 10,000",)),
        ("seconds = 0.001", "seconds = 1e30", ("system.seconds: must be <= 3,600",)),
        (
            'policies = ["global"]',
            'policies = ["global"]\nclock_hz = 1000000000000000000000',
            ("system.clock_hz: must be <= 10,000,000,000",),
        ),
        ("period_us = 100", "period_us = 1e300", ("period_us: must be <= 3,600,000,000",)),
        ('name = "a"', 'name = "a\\u001b[2J"', ("lines[0].name", "'\\x1b'", "printable")),
        ('name = "t"', 'name = "t\\u202e"', ("system.name", "'\\u202e'")),
        ('name = "bg"', "name = 7", ("background.name: must be a non-empty string",)),
        ("[resources.r]", '[resources.r]\n"k\\u001b[31m" = 1', ("resources.r.k\\x1b[31m",)),
    ],
)
def test_numbers_and_names_out_of_bounds(
    run: Run,
    write_toml: Callable[[str], Path],
    no_simulation: None,
    old: str,
    new: str,
    words: tuple[str, ...],
) -> None:
    assert old in GOOD
    path = write_toml(GOOD.replace(old, new, 1))
    for code, err in both(run, str(path)):
        assert code == EXIT_BAD_INPUT, err
        assert "\x1b" not in err and "\u202e" not in err  # escape sequences never reach a terminal
        for w in words:
            assert w in err, err


@pytest.mark.parametrize("seconds", ["inf", "nan", "0", "-1", "1e-12"])
def test_bad_seconds_option(run: Run, write_toml: Callable[[str], Path], seconds: str) -> None:
    code, _, err = run("sim", str(write_toml(GOOD)), "--seconds", seconds)
    assert code == EXIT_BAD_INPUT and "--seconds" in err


def test_a_run_too_long_for_the_simulator(
    run: Run, write_toml: Callable[[str], Path], no_simulation: None
) -> None:
    # Line b may arrive every 50 µs: an hour is 72 M arrivals.
    code, _, err = run("sim", str(write_toml(GOOD)), "--seconds", "3600")
    assert code == EXIT_BAD_INPUT
    assert f"the simulator runs at most {MAX_RUN_EVENTS:,} per policy (here about" in err
    assert "--seconds: 3600 s of this system is about" in err
    # The file's own seconds are checked the same way.
    code, _, err = run("sim", str(write_toml(GOOD.replace("seconds = 0.001", "seconds = 3600"))))
    assert code == EXIT_BAD_INPUT and "system.seconds: 3600 s of this system" in err


def test_a_trace_too_long() -> None:
    # A file cannot hold that many (1 MiB); parse_system's callers (sweeps) can.
    data = tomllib.loads(GOOD)
    data["lines"][0]["arrival"] = {
        "kind": "trace",
        "times_cycles": list(range(MAX_TRACE_TIMES + 1)),
    }
    with pytest.raises(SystemFileError, match="times_cycles: at most 2,000,000 times"):
        parse_system(data, "big.toml")


def test_markup_in_names_is_printed_as_is(run: Run, write_toml: Callable[[str], Path]) -> None:
    path = write_toml(GOOD.replace('name = "a"', 'name = "[/][bold]a"'))
    for argv in (("analyze", str(path)), ("sim", str(path))):
        code, out, err = run(*argv)
        assert code == 0, err
        assert "[/][bold]a" in out


OVERLOADED = GOOD.replace("period_us = 100, jitter_us = 5", "period_us = 0.1")


def test_an_overloaded_system_has_no_bound(run: Run, write_toml: Callable[[str], Path]) -> None:
    path = str(write_toml(OVERLOADED))
    code, out, err = run("analyze", path)
    assert code == EXIT_NO_BOUND
    assert "∞" not in out and "no bound" in out
    assert "no bound for a under global: overloaded: utilisation" in err
    code, out, err = run("analyze", path, "--json")
    assert code == EXIT_NO_BOUND
    a = json.loads(out)["policies"]["global"]["a"]
    assert a["start_cycles"] is None and a["no_bound_reason"].startswith("overloaded")


def test_sim_shows_overruns_and_starved_lines(run: Run, write_toml: Callable[[str], Path]) -> None:
    code, out, err = run("sim", str(write_toml(OVERLOADED)))
    assert code == EXIT_NO_BOUND
    assert "lost" in out
    # a arrives every 0.1 µs (12 cycles) and its entry alone takes 15: most arrivals are lost,
    # and b, below it, never runs.
    assert "a under global:" in err and "arrivals came while it was still pending" in err
    assert "b under global: starved, still waiting after" in err


def test_out_is_a_file(
    run: Run, write_toml: Callable[[str], Path], tmp_path: Path, no_simulation: None
) -> None:
    target = tmp_path / "report"
    target.write_text("keep me")
    for out in (target, target / "sub"):
        code, _, err = run("sim", str(write_toml(GOOD)), "--out", str(out))
        assert code == EXIT_OUTPUT, err
        assert f"--out {out}:" in err
    assert target.read_text() == "keep me"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_out_is_not_writable(
    run: Run, write_toml: Callable[[str], Path], tmp_path: Path, no_simulation: None
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # Root writes into read-only directories; sysfs refuses even root.
    target = Path("/sys/irqio-report") if os.geteuid() == 0 else locked / "report"
    if os.geteuid() == 0 and not Path("/sys").is_dir():
        pytest.skip("running as root without /sys: no place root cannot write")
    try:
        code, _, err = run("sim", str(write_toml(GOOD)), "--out", str(target))
    finally:
        locked.chmod(0o700)
    assert code == EXIT_OUTPUT and f"--out {target}: cannot write there (" in err
    assert not target.exists() and list(locked.iterdir()) == []


@pytest.mark.parametrize("module", ["vcd", "matplotlib"])
def test_a_missing_extra_is_reported_before_simulating(
    run: Run,
    write_toml: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_simulation: None,
    module: str,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    out = tmp_path / "report"
    code, _, err = run("sim", str(write_toml(GOOD)), "--out", str(out))
    assert code == EXIT_MISSING_EXTRA
    extra = {"vcd": "trace", "matplotlib": "plot"}[module]
    assert f"pip install 'irqio[{extra}]'" in err and "python3 dev.py irqio sim" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute", "..", "a/../../b", ".hidden"])
def test_file_names_from_the_system_name_stay_in_out(
    run: Run, write_toml: Callable[[str], Path], tmp_path: Path, name: str
) -> None:
    out = tmp_path / "deep" / "report"
    before = set(tmp_path.rglob("*"))
    path = write_toml(GOOD.replace('name = "t"', json.dumps(name).join(["name = ", ""])))
    code, stdout, err = run("sim", str(path), "--out", str(out), "--json")
    assert code == 0, err
    written = {Path(f) for f in json.loads(stdout)["files"]}
    assert written and all(f.parent == out for f in written)
    assert all(not f.name.startswith(".") for f in written)
    new = set(tmp_path.rglob("*")) - before
    assert new <= written | {out, out.parent, path}


def test_progress_goes_to_stderr(
    run: Run, write_toml: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws its bar as on a terminal
    code, out, err = run("sim", str(write_toml(GOOD)))
    assert code == 0
    assert "simulating 0.001 s per policy" in err and "simulating" not in out


def test_an_escape_sequence_in_the_out_path_is_not_printed(
    run: Run, write_toml: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "re\x1b[2Jport"
    code, stdout, err = run("sim", str(write_toml(GOOD)), "--out", str(out))
    assert code == 0, err
    assert "\x1b" not in stdout and "re\\x1b[2Jport/index.html" in stdout
    assert (out / "index.html").is_file()
