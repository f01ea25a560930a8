"""The package's shape: no import cycles among the modules that make up the core, and each of
them imports alone in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
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
