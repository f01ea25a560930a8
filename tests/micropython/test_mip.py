"""What a MicroPython user installs: `mip.install("github:OWNER/irqio")` reads package.json at the
repository's root. The list names every module the core needs on a board, and nothing that is
CPython's only; the unix port's own mip installs it (over HTTP on 127.0.0.1, from this checkout)
and the installed copy runs inside MicroPython's asyncio with nothing else on the path."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.micropython.conftest import CPYTHON_ONLY, ROOT, SCRIPTS

PACKAGE = ROOT / "package.json"


def _core_modules() -> set[str]:
    src = ROOT / "src" / "irqio"
    found = {"__init__.py", "_compat.py"}
    for package in ("runtime", "controller", "kernel"):
        for path in (src / package).rglob("*.py"):
            found.add(str(path.relative_to(src)))
    return found - CPYTHON_ONLY


def test_package_json_lists_the_core_and_nothing_cpython_only() -> None:
    data = json.loads(PACKAGE.read_text())
    assert set(data) == {"urls", "deps", "version"}
    listed = {}
    for dest, source in data["urls"]:
        assert dest.startswith("irqio/") and source == "src/" + dest  # relative: survives forks
        assert (ROOT / source).is_file(), source
        listed[dest[len("irqio/") :]] = source
    assert set(listed) == _core_modules()
    import irqio

    assert data["version"] == irqio.__version__


@pytest.fixture()
def served_checkout() -> Iterator[str]:
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(ROOT)
    )  # the checkout, as GitHub's raw files would serve it
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/package.json"
    finally:
        server.shutdown()
        server.server_close()


def test_mip_installs_it_and_it_runs(
    micropython_unix: Path, served_checkout: str, tmp_path: Path
) -> None:
    target = tmp_path / "lib"
    install = subprocess.run(
        [
            str(micropython_unix),
            "-c",
            f"import mip; mip.install({served_checkout!r}, target={str(target)!r})",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert install.returncode == 0 and "Done" in install.stdout, install.stdout + install.stderr
    assert (target / "irqio" / "runtime" / "ports" / "micropython.py").is_file()
    assert not (target / "irqio" / "timing").exists()
    # Only the installed copy on the path: not the checkout's src/.
    env = dict(os.environ, MICROPYPATH=f".frozen:{target}")
    run = subprocess.run(
        [str(micropython_unix), str(SCRIPTS / "cancel.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0 and "MICROPYTHON-OK" in run.stdout, run.stdout + run.stderr
    assert "cancel waiting 3 2 woke [0, 2] cancelled [1]" in run.stdout
