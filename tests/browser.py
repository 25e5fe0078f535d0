"""A headless Chromium driven through the Chrome DevTools Protocol (one websocket, websocket-client),
for the report's browser tests. The system's Chromium is used as it is (nothing is downloaded);
the network is blocked (`Network.setBlockedURLs`) and every request the page starts is recorded,
with console errors, uncaught exceptions and failed loads, so a test can assert there were none.

    with Browser.start() as b:            # None when no Chromium is installed: Browser.find()
        page = b.open(path)               # waits for window.reportReady
        page.eval("1 + 1"); page.screenshot(tmp_path / "x.png")
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import websocket

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, proc: subprocess.Popen, profile: str, ws: websocket.WebSocket) -> None:
        self.proc, self.profile, self.ws = proc, profile, ws
        self._ids = itertools.count(1)
        self.events: list[dict] = []

    @classmethod
    def start(cls, executable: str) -> "Browser":
        profile = tempfile.mkdtemp(prefix="cryptotrain-chromium-")
        proc = subprocess.Popen([executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                 "--disable-default-apps", "--disable-extensions", "--mute-audio",
                                 "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.is_file() or len(port_file.read_text().split()) < 2:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"{executable} did not start (no DevToolsActivePort)")
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60, suppress_origin=True)
        return cls(proc, profile, ws)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        cid = next(self._ids)
        msg = {"id": cid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == cid:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def open(self, path: Path, width: int = 1400, height: int = 900, timeout: float = 60) -> "Page":
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable", session=session)
        # every scheme a page could fetch from outside the file itself is refused
        self.call("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]},
                  session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=session)
        self.events.clear()
        self.call("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
        deadline = time.monotonic() + timeout
        while page.eval("window.reportReady === undefined ? null : window.reportReady") is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path}: the report did not finish drawing in {timeout:.0f} s")
            time.sleep(0.1)
        return page

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser, self.session = browser, session

    def eval(self, expression: str):
        res = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                     "awaitPromise": True}, session=self.session)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression[:80]}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def problems(self, own: Path) -> list[str]:
        """Console errors, uncaught exceptions, failed loads and every request other than the file
        itself and data: URLs, seen since the page was opened."""
        own_url = Path(own).resolve().as_uri()
        out = []
        for ev in self.browser.events:
            if ev.get("sessionId") != self.session:
                continue
            m, p = ev["method"], ev["params"]
            if m == "Network.requestWillBeSent" and p["request"]["url"] != own_url \
                    and not p["request"]["url"].startswith("data:"):
                out.append(f"request {p['request']['url'][:120]}")
            elif m == "Network.loadingFailed":
                out.append(f"failed load: {p.get('errorText')} {p.get('blockedReason', '')}")
            elif m == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description')}")
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry']['text']}")
        return out

    def screenshot(self, path: Path) -> Path:
        full = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = self.browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                            "clip": {"x": 0, "y": 0, "width": full[0], "height": full[1],
                                                                     "scale": 1}}, session=self.session)
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return Path(path)
