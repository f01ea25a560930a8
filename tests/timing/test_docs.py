"""docs/timing.md shows what the code prints: every `console` block is run and its output
compared, every `python` block is run as a doctest, the system-file block loads and analyses,
and the numbers quoted in the results' prose are numbers the shown output contains."""

from __future__ import annotations

import doctest
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from irqio.cli import main
from irqio.timing.analysis import analyze
from irqio.timing.system import parse_system

DOC = Path(__file__).resolve().parents[2] / "docs" / "timing.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = [
    (m.group(1), m.group(2), TEXT[: m.start()].count("\n") + 1)
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", TEXT, re.S | re.M)
]
BOX = re.compile(r"[\u2500-\u257f]")  # box drawing: the table's frame, not its content


def commands() -> list[tuple[str, str, int]]:
    """(command, the output shown under it, line) for every `$ ` line of the console blocks."""
    out = []
    for lang, body, line in BLOCKS:
        if lang == "console":
            for part in re.split(r"^\$ ", body, flags=re.M)[1:]:
                cmd, _, shown = part.partition("\n")
                out.append((cmd, shown, line))
    return out


def cells(text: str) -> list[list[str]]:
    """The words of each line, frame and spacing aside (the console width may change)."""
    return [line.split() for line in BOX.sub(" ", text).splitlines() if line.strip()]


def test_the_page_has_blocks_of_every_kind() -> None:
    langs = [lang for lang, _, _ in BLOCKS]
    assert {"console", "python", "toml", "text"} <= set(langs)
    assert set(langs) <= {"console", "python", "toml", "text"}, "a block no test runs"
    assert len(commands()) >= 2


@pytest.mark.slow  # the pico-can block simulates 2 s under four policies (~4 s)
@pytest.mark.parametrize(
    ("cmd", "shown", "line"), commands(), ids=[f"line {line}: {cmd}" for cmd, _, line in commands()]
)
def test_console_block(cmd: str, shown: str, line: int, capsys: pytest.CaptureFixture[str]) -> None:
    argv = shlex.split(cmd)
    assert argv[0] == "irqio", f"docs/timing.md:{line}: only irqio commands are run"
    assert main(argv[1:]) == 0
    assert cells(capsys.readouterr().out) == cells(shown), f"docs/timing.md:{line}: {cmd}"


@pytest.mark.parametrize(
    ("body", "line"),
    [(body, line) for lang, body, line in BLOCKS if lang == "python"],
    ids=[f"line {line}" for lang, _, line in BLOCKS if lang == "python"],
)
def test_python_block(body: str, line: int) -> None:
    test = doctest.DocTestParser().get_doctest(body, {}, f"docs/timing.md:{line}", str(DOC), line)
    assert test.examples, f"docs/timing.md:{line}: a python block shows >>> examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0, f"docs/timing.md:{line} (doctest output above)"


def test_the_system_file_block_is_a_system() -> None:
    (body,) = [body for lang, body, _ in BLOCKS if lang == "toml"]
    system = parse_system(tomllib.loads(body), "docs/timing.md")
    assert [ln.name for ln in system.lines] == ["can"]
    assert parse_system(tomllib.loads(body), "docs/timing.md", "bank-trap").line("button")
    for policy in system.policies:
        assert all(b.start is not None for b in analyze(system, policy))


def test_numbers_in_the_results_prose_are_in_the_shown_output() -> None:
    section = TEXT[TEXT.index("## The result") : TEXT.index("## The model")]
    prose = re.sub(r"^```.*?^```", "", section, flags=re.S | re.M)
    quoted = set(re.findall(r"\b(\d+\.\d\d) µs", prose))
    shown = {word for _, out, _ in commands() for row in cells(out) for word in row}
    assert quoted, "the results section quotes numbers"
    assert quoted <= shown, sorted(quoted - shown)
