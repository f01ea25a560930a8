"""Collect the scenarios in a file, as pytest collects tests."""

from __future__ import annotations

import importlib.util
import os
import sys

from irqio.check.scenario import Scenario


class CollectError(Exception):
    """The file cannot be loaded or holds no scenario; the message says which."""


def collect(path: str) -> list[Scenario]:
    """Import `path` and return its scenarios (one per declared port), in file order."""
    if not os.path.isfile(path):
        raise CollectError(f"{path}: no such file")
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
    if not found:
        raise CollectError(f"{path}: no scenarios (functions decorated with @irqio.check.scenario)")
    return found
