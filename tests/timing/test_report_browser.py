"""`irqio sim --out DIR` writes a page a browser opens offline: load it in real headless Chromium
(the Debian package `chromium`; .ci/run installs it) and check that it loads with no console
error, requests nothing from the network, and shows every image.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages ending in NUL on fds 3 and 4), so no client library or websocket is needed.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from irqio.cli import main

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_S = 60.0
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
    "--window-size=1200,900",
]


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, user_data_dir: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def fds_3_and_4() -> None:  # runs in the child before exec: Chromium reads 3, writes 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds_3_and_4,
            # why: close_fds would close 3 and 4 after preexec_fn; Python's own fds are
            # non-inheritable (PEP 446), so nothing else leaks into Chromium.
            close_fds=False,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.deadline = time.monotonic() + TIMEOUT_S

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"Chromium said nothing for {TIMEOUT_S:g} s")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed its debugging pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        result: dict[str, Any] = json.loads(message)
        return result

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Call `method` and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                assert "error" not in reply, (method, reply["error"])
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, EOFError, TimeoutError, AssertionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "pico-can"
    argv = ["sim", "pico-can", "--variant", "bank-trap", "--policy", "global"]
    argv += ["--policy", "pin-mask", "--seconds", "0.05", "--out", str(out)]
    assert main(argv) == 0
    return out / "index.html"


@pytest.mark.slow  # Chromium and a small simulation with its plots: ~5 s, bounded by TIMEOUT_S
def test_the_report_opens_offline_in_chromium(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        reason = (
            f"{CHROMIUM} not found: the HTML report was NOT checked in a browser. "
            "Install it with `apt-get install -y chromium` (.ci/run does this on CI)."
        )
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    report: Path = request.getfixturevalue("report")  # simulated only when it can be checked
    chrome = DevTools(tmp_path / "profile")
    try:
        target = chrome.send("Target.createTarget", url="about:blank")["targetId"]
        session = chrome.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            chrome.send(f"{domain}.enable", session)
        chrome.send("Page.navigate", session, url=report.as_uri())
        chrome.wait_for("Page.loadEventFired")
        images = chrome.send(
            "Runtime.evaluate",
            session,
            returnByValue=True,
            expression="[...document.images].map(i => [i.getAttribute('src'), i.complete, "
            "i.naturalWidth])",
        )["result"]["value"]
        size = chrome.send("Page.getLayoutMetrics", session)["cssContentSize"]
        shot = chrome.send(
            "Page.captureScreenshot",
            session,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        )
    finally:
        chrome.close()
    import base64

    (tmp_path / "report.png").write_bytes(base64.b64decode(shot["data"]))

    errors = [
        e["params"]
        for e in chrome.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    requested = [
        e["params"]["request"]["url"]
        for e in chrome.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested and all(url.startswith("file://") for url in requested), requested
    assert [e for e in chrome.events if e.get("method") == "Network.loadingFailed"] == []
    # Every plot the page shows has loaded: the latency CDFs and one timeline per policy.
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert sorted(src for src, _, _ in images) == pngs and len(pngs) == 3
    assert all(complete and width > 0 for _, complete, width in images), images
