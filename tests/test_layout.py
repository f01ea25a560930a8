"""The package's shape: no import cycles among the modules that make up the core, each of them
imports alone in a fresh interpreter, and the repository stands on its own (no tracked file
points at a path of a development machine or at notes that are not in the repository)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
CORE_PACKAGES = ("irqio/runtime", "irqio/controller", "irqio/kernel")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def core_modules() -> dict[str, Path]:
    found = {"irqio._compat": SRC / "irqio/_compat.py"}
    for package in CORE_PACKAGES:
        for path in sorted((SRC / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def module_level_imports(path: Path, known: set[str]) -> set[str]:
    """irqio modules imported when `path` is imported: module level, outside `if TYPE_CHECKING`
    blocks and outside functions (a function-level import runs later, not at import time)."""
    out: set[str] = set()

    def target(name: str) -> None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name.startswith("irqio"):
            out.add(name)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target(alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    target(full if full in known else node.module)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return out


def test_no_import_cycles_in_the_core() -> None:
    modules = core_modules()
    known = set(modules)
    graph = {name: module_level_imports(path, known) - {name} for name, path in modules.items()}
    # A package's own __init__ importing its submodules is how packages export; a submodule
    # importing a sibling does not import its parent's exports, so drop child -> parent edges.
    for name, edges in graph.items():
        graph[name] = {e for e in edges if not name.startswith(e + ".")}
    seen: dict[str, int] = {}  # 1 = on the path, 2 = done

    def walk(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                walk(nxt, [*path, nxt])
        seen[node] = 2

    for name in sorted(graph):
        if name not in seen:
            walk(name, [name])


def test_the_graph_sees_real_imports() -> None:
    # The check above is only worth something if it finds the imports that exist.
    modules = core_modules()
    edges = module_level_imports(modules["irqio.runtime.primitives"], set(modules))
    assert "irqio.runtime.counters" in edges and "irqio._compat" in edges
    edges = module_level_imports(modules["irqio.controller.core"], set(modules))
    assert "irqio.controller.errors" in edges
    assert "irqio.controller.delivery" not in edges  # CPython-only: imported at creation


@pytest.mark.parametrize("module", sorted(core_modules()))
def test_each_core_module_imports_alone(module: str) -> None:
    if module in ("irqio.controller.micropython", "irqio.runtime.ports.micropython"):
        pytest.skip("MicroPython only (tests/micropython imports it there)")
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


# References a reader of the repository cannot follow: a path of the machine the project was
# developed on, its unpublished notes, and section numbers into them. Cite the public source
# (datasheet, paper, upstream file or issue by URL) or the repo's own docs instead. The patterns
# are built from pieces so that this file does not match them itself.
_SECTION = "\N{SECTION SIGN}"
DANGLING = re.compile(
    "|".join(
        (
            re.escape("/" + "work/"),
            re.escape("shared" + "/reference"),
            re.escape("DESIGN" + ".md"),
            # also across a line break inside a comment: "(reference\n# §1.1)"
            r"\bref(?:erence)?(?:\s|#|/|\*)*" + _SECTION,
        )
    ),
    re.IGNORECASE,
)


def tracked_files() -> list[Path]:
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / name for name in done.stdout.decode().split("\0") if name]


def dangling_references(path: Path) -> list[str]:
    """`line: text` for each line of `path` that cites something outside the repository."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
        return []  # binary files, submodules, files deleted in the work tree
    lines = text.splitlines()
    numbers = sorted({text.count("\n", 0, hit.start()) + 1 for hit in DANGLING.finditer(text)})
    return [f"{number}: {lines[number - 1].strip()}" for number in numbers]


def test_the_pattern_finds_what_it_should_and_only_that() -> None:
    for bad in (
        "see /" + "work/shared/notes.md",
        "(" + "reference " + _SECTION + "1.1)",
        "# ref " + _SECTION + "0",
        "Reference" + _SECTION + "2.2",
        "(the reference\n  # " + _SECTION + "1.1)",
        "as in DESIGN" + ".md",
        "../shared" + "/reference/facts.md",
    ):
        assert DANGLING.search(bad), bad
    for fine in (
        "RP2040 datasheet " + _SECTION + "2.6.3.1",
        "Arm Cortex-M0+ TRM DDI0484C " + _SECTION + "3.6.1",
        "micropython/micropython: shared/runtime/mpirq.c",
        "the preface " + _SECTION + "2 of the reference manual",
        "https://github.com/micropython/micropython/issues/6995",
    ):
        assert not DANGLING.search(fine), fine


def test_no_tracked_file_cites_what_a_reader_cannot_see(tmp_path: Path) -> None:
    found = {
        str(path.relative_to(ROOT)): hits
        for path in tracked_files()
        if (hits := dangling_references(path))
    }
    assert not found, "references that lead outside the repository:\n" + "\n".join(
        f"  {name}:{hit}" for name, hits in sorted(found.items()) for hit in hits
    )
    # The scan reads what it is given: a file with such a line is reported.
    planted = tmp_path / "planted.md"
    planted.write_text("fine\nsee DESIGN" + ".md\nthe reference\n" + _SECTION + "1.1\n")
    assert dangling_references(planted) == ["2: see DESIGN" + ".md", "3: the reference"]


def test_tracked_symlinks_stay_inside_the_repository() -> None:
    for path in tracked_files():
        if path.is_symlink():
            target = path.resolve()
            assert target.is_relative_to(ROOT), f"{path.relative_to(ROOT)} -> {target}"
            assert target.exists(), f"{path.relative_to(ROOT)} -> {target}: missing"
