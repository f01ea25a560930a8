"""`irqio check`: verdicts and exit codes (0 safe, 1 broken, 2 bad input), no tracebacks."""

import subprocess
import sys
from pathlib import Path

import pytest

from irqio.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "check"


def test_broken_example_exits_1_with_the_counterexample(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "-q", str(EXAMPLES / "check_then_act_flag.py")])
    out = capsys.readouterr().out
    assert code == 1
    assert "BROKEN" in out and "hand_written_flag" in out
    assert "check_then_act_flag.py:35" in out and "if not self.state:" in out
    assert "replay: isr@" in out


def test_safe_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "safe.py"
    f.write_text(
        "import irqio\n"
        "from irqio.check import scenario\n\n"
        "@scenario\n"
        "def one_flag(s):\n"
        "    flag = irqio.Flag()\n"
        "    woke = []\n\n"
        "    async def main():\n"
        "        await flag.wait()\n"
        "        woke.append(1)\n\n"
        "    s.run(main)\n"
        "    s.handler(flag.set)\n"
        "    s.at_end(lambda: woke == [1], 'woke')\n"
    )
    assert main(["check", "-q", str(f)]) == 0
    out = capsys.readouterr().out
    assert "SAFE" in out and "one_flag" in out and "1 safe, 0 broken" in out


def test_replay_option(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(EXAMPLES / "check_then_act_flag.py")
    assert main(["check", "-q", path, "--replay", "isr@0"]) == 0
    assert main(["check", "-q", path, "--replay", "nobody@3"]) == 2
    assert "nobody" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("x = 1\n", "no scenarios"), ("import nope_nope\n", "raised")],
)
def test_bad_input_exits_2_without_traceback(
    tmp_path: Path, content: str | None, message: str
) -> None:
    f = tmp_path / "input.py"
    if content is not None:
        f.write_text(content)
    proc = subprocess.run(
        [sys.executable, "-m", "irqio", "check", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


SAFE_FILE = (
    "import irqio\n"
    "from irqio.check import scenario\n\n"
    "@scenario\n"
    "def one_flag(s):\n"
    "    flag = irqio.Flag()\n"
    "    woke = []\n\n"
    "    async def main():\n"
    "        await flag.wait()\n"
    "        woke.append(1)\n\n"
    "    s.run(main)\n"
    "    s.handler(flag.set)\n"
    "    s.at_end(lambda: woke == [1], 'woke')\n"
)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "irqio", *args], capture_output=True, text=True, timeout=120,
        cwd=cwd,
    )  # fmt: skip


def test_a_directory_is_searched_for_scenarios(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "flags.py").write_text(SAFE_FILE)
    (tmp_path / "unrelated.py").write_text("raise SystemExit('never imported')\n")
    proc = _cli("check", "-q", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "SAFE  one_flag" in proc.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _cli("check", str(empty))
    assert proc.returncode == 2 and "no scenarios" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "0"], "--runs must be 1 or more"),
        (["--runs", "-5"], "--runs must be 1 or more"),
        (["--seed", "1", "--mode", "exhaustive"], "--seed/--runs apply to --mode random"),
        (["--replay", "isr@1", "--seed", "3"], "--replay gives one"),
        (["-j", "0"], "-j/--jobs must be 1 or more"),
        (["--depth", "2"], "--depth applies to --mode pct"),
    ],
)
def test_bad_options_exit_2_with_one_line(args: list[str], message: str) -> None:
    proc = _cli("check", str(EXAMPLES / "check_then_act_flag.py"), *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_seed_alone_implies_random_mode_and_the_seed_is_printed() -> None:
    proc = _cli("check", "-q", str(EXAMPLES / "check_then_act_flag.py"), "--seed", "7",
                "--runs", "50")  # fmt: skip
    assert "--seed/--runs imply --mode random" in proc.stderr
    assert "hand_written_flag  kernel port, random" in proc.stdout
    assert "seed 7: rerun this search with --mode random --seed 7" in proc.stdout


def test_random_mode_without_a_seed_prints_the_one_it_drew() -> None:
    proc = _cli("check", "-q", str(EXAMPLES / "check_then_act_flag.py"), "--mode", "random",
                "--runs", "20")  # fmt: skip
    line = next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith("seed "))
    seed = line.split()[1].rstrip(":")
    assert seed.isdigit() and f"--seed {seed}" in line


def test_a_scenario_that_raises_while_built_exits_3(tmp_path: Path) -> None:
    f = tmp_path / "bad.py"
    f.write_text(
        "from irqio.check import scenario\n\n@scenario\ndef broken_world(s):\n"
        "    raise RuntimeError('no such device')\n"
    )
    proc = _cli("check", str(f))
    assert proc.returncode == 3
    assert "broken_world raised while building its world: RuntimeError: no such device" in (
        proc.stderr
    )
    assert "bad.py:5" in proc.stderr and "Traceback" not in proc.stderr


def test_tracing_a_module_that_defines_no_code_exits_3(tmp_path: Path) -> None:
    (tmp_path / "reexport.py").write_text("from irqio.primitives import Flag as Flag\n")
    f = tmp_path / "uses_reexport.py"
    f.write_text(SAFE_FILE.replace("@scenario\n", "@scenario(modules=['reexport'])\n"))
    proc = _cli("check", str(f), cwd=tmp_path)
    assert proc.returncode == 3
    assert "'reexport' (to trace) defines no function or class of its own" in proc.stderr


def test_json_output(tmp_path: Path) -> None:
    import json

    proc = _cli("check", "--json", str(EXAMPLES / "check_then_act_flag.py"))
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    (one,) = data["scenarios"]
    assert one["verdict"] == "BROKEN" and one["replay"].startswith("isr@")
    assert one["schedule"][0]["where"].endswith("check_then_act_flag.py:35")
    assert data["summary"] == {"safe": 0, "broken": 1, "total": 1}


def test_version() -> None:
    import irqio

    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"irqio {irqio.__version__}"


def test_help_says_the_files_are_imported() -> None:
    proc = _cli("check", "--help")
    assert "imported" in proc.stdout and "130 interrupted" in proc.stdout


def test_ctrl_c_stops_summarises_and_exits_130(tmp_path: Path) -> None:
    # The third schedule of the second scenario is interrupted (as Ctrl-C would, from the
    # task code that is running): no verdict for it, the first one's is kept.
    f = tmp_path / "interrupted.py"
    f.write_text(
        SAFE_FILE + "\nruns = [0]\n\n@scenario\ndef interrupted(s):\n"
        "    flag = irqio.Flag()\n\n"
        "    def task():\n"
        "        runs[0] += 1\n"
        "        if runs[0] == 4:\n"
        "            raise KeyboardInterrupt\n"
        "        flag.set()\n\n"
        "    s.task(task)\n    s.handler(flag.set)\n"
    )
    proc = _cli("check", str(f))
    assert proc.returncode == 130
    assert "SAFE  one_flag" in proc.stdout
    assert "interrupted" not in proc.stdout.replace("interrupted.py", "")
    assert "interrupted; 1 of 2 scenario(s) finished (one_flag SAFE)" in proc.stderr
    assert "interrupted: stopped after" in proc.stderr and "no verdict for it" in proc.stderr
    assert "BROKEN" not in proc.stdout + proc.stderr


def test_progress_is_honest_at_two_preemptions() -> None:
    import sched_queue_two_handlers as sq

    from irqio.check import explore

    seen: list[tuple[int, int, int]] = []
    explore(sq.same_priority, progress=lambda done, total, runs: seen.append((done, total, runs)))
    dones = [d for d, _, _ in seen]
    total = seen[-1][1]
    assert dones == sorted(dones) and dones[-1] == total  # it ends full, never earlier
    assert any(0 < d < total for d in dones)  # and it is partly full on the way
    assert seen[-1][2] > total  # schedules outnumber first placements at two preemptions
