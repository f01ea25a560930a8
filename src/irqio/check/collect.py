"""Collect the scenarios in files and directories, as pytest collects tests.

Collecting a file imports it (runs it, as `import` does) and takes every `@scenario` at its top
level, in file order. A directory is searched recursively for `.py` files that mention
`scenario` (hidden folders, `__pycache__`, virtual environments, `conftest.py` and
`__init__.py` are skipped); files there that define none are passed over.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from irqio.check.scenario import Scenario

_SKIP_DIRS = {"__pycache__", "node_modules", "build", "dist", "venv", "site-packages"}
_SKIP_FILES = {"conftest.py", "__init__.py", "setup.py", "__main__.py"}


class CollectError(Exception):
    """The path cannot be loaded or holds no scenario; the message says which."""


def collect_paths(paths: list[str]) -> list[Scenario]:
    """The scenarios of every file and directory in `paths`, in order."""
    found: list[Scenario] = []
    for path in paths:
        if os.path.isdir(path):
            files = _python_files(path)
            before = len(found)
            for file in files:
                found += collect(file, required=False)
            if len(found) == before:
                raise CollectError(
                    f"{path}: no scenarios in any .py file under it (functions decorated with "
                    "@irqio.check.scenario)"
                )
        else:
            found += collect(path)
    return found


def _python_files(folder: str) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in _SKIP_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(files):
            if not name.endswith(".py") or name in _SKIP_FILES:
                continue
            path = os.path.join(root, name)
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    if "scenario" not in f.read():
                        continue
            except OSError:
                continue
            out.append(path)
    return out


def collect(path: str, required: bool = True) -> list[Scenario]:
    """Import `path` and return its scenarios (one per declared port), in file order."""
    if not os.path.exists(path):
        raise CollectError(f"{path}: no such file or directory")
    if not os.path.isfile(path):
        raise CollectError(f"{path}: not a file")
    if not path.endswith(".py"):
        raise CollectError(f"{path}: not a Python file")
    full = os.path.abspath(path)
    name = "irqio_check_" + os.path.splitext(os.path.basename(full))[0]
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise CollectError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(full)
    sys.path.insert(0, folder)  # helpers beside the file import as they would under pytest
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise CollectError(f"{path}: importing it raised {type(error).__name__}: {error}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    found: list[Scenario] = []
    seen: set[int] = set()
    for value in vars(module).values():
        if isinstance(value, Scenario) and id(value) not in seen:
            seen.add(id(value))
            found.extend(value.variants())
    found.sort(key=lambda sc: sc.build.__code__.co_firstlineno)
    if not found and required:
        raise CollectError(f"{path}: no scenarios (functions decorated with @irqio.check.scenario)")
    return found
