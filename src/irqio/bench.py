"""`irqio bench`: run the benchmark scripts of the checkout, side by side with peer libraries.

The scripts live in the repository's `benchmarks/` folder (`bench_<name>.py`, each with
`main(argv) -> int` taking `--json` and `--quick`), next to `src/`. irqio installed editable
from a checkout finds them there; an installed wheel has no `benchmarks/` and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

DEFAULT = "runtime"


def benchmarks_dir() -> Path | None:
    """The checkout's `benchmarks/` folder, or None when irqio is not run from a checkout."""
    package = Path(__file__).resolve().parent  # .../src/irqio
    if package.parent.name != "src":
        return None
    folder = package.parent.parent / "benchmarks"
    return folder if folder.is_dir() else None


def available(folder: Path) -> list[str]:
    """Names of the benchmark scripts in `folder` (`bench_runtime.py` -> `runtime`)."""
    return sorted(p.stem[len("bench_") :] for p in folder.glob("bench_*.py") if p.is_file())


def add_to_path(folder: Path) -> None:
    """Put `folder` on `sys.path`: the scripts import what they share (`benchmarks/benchkit/`)
    by name, as a script run directly does from its own folder."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def load(folder: Path, name: str) -> ModuleType:
    """Load `folder/bench_NAME.py` as a module."""
    add_to_path(folder)
    path = folder / f"bench_{name}.py"
    spec = importlib.util.spec_from_file_location(f"irqio_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run: runtime, storm, ceiling, explorer, timing, ... or all "
        f"(default: {DEFAULT}); each is benchmarks/bench_NAME.py",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable results on stdout")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")


def _error(message: str) -> int:
    print(f"irqio bench: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    folder = benchmarks_dir()
    if folder is None:
        return _error(
            "the benchmarks are not installed: they live in the benchmarks/ folder of an irqio "
            "checkout (git clone, then `python3 dev.py irqio bench`, or "
            "`pip install -e '.[bench]'` and `irqio bench`)"
        )
    names: list[str] = list(args.names) or [DEFAULT]
    found = available(folder)
    if "all" in names:
        names = found
    unknown = [n for n in names if n not in found]
    if unknown:
        return _error(
            f"no benchmark named {', '.join(map(repr, unknown))}; available: "
            f"{', '.join(found) or '(none)'}, or all"
        )
    if not names:
        return _error(f"no benchmark scripts in {folder}")
    names = list(dict.fromkeys(names))  # run each once, in the order given
    argv = (["--json"] if args.json else []) + (["--quick"] if args.quick else [])
    if args.json and len(names) > 1:
        return _run_json(folder, names, argv)
    code = 0
    for name in names:
        code = max(code, _run_one(folder, name, argv))
    return code


def _run_one(folder: Path, name: str, argv: list[str]) -> int:
    try:
        module = load(folder, name)
    except Exception as exc:
        print(f"irqio bench: bench_{name}.py failed to load: {exc!r}", file=sys.stderr)
        return 1
    main = getattr(module, "main", None)
    if not callable(main):
        print(f"irqio bench: bench_{name}.py has no main(argv)", file=sys.stderr)
        return 1
    result = main(list(argv))
    return int(result or 0)


def _run_json(folder: Path, names: list[str], argv: list[str]) -> int:
    """Several benchmarks with --json: one JSON object on stdout, keyed by benchmark name."""
    combined: dict[str, Any] = {}
    code = 0
    for name in names:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            one = _run_one(folder, name, argv)
        code = max(code, one)
        text = buffer.getvalue()
        try:
            combined[name] = json.loads(text)
        except ValueError:
            combined[name] = {"exit_code": one, "output": text}
    json.dump(combined, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return code
