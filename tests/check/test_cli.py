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
