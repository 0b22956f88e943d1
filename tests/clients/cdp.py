"""Headless chromium driven over the DevTools protocol (a websocket): load a page, run
JavaScript in it (typing into its forms, clicking its buttons, reading its DOM), take a
screenshot. Only what the console's tests need."""

import base64
import itertools
import json
import os
import re
import signal
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, width=1280, height=1100):
        assert CHROMIUM is not None, "chromium is not installed: bash tests/setup.sh installs it"
        self.profile = tempfile.TemporaryDirectory(prefix="rill-cdp-")
        self.ws = None
        # Its stderr goes to a file (a pipe nobody reads could fill and stall it).
        self.log = Path(self.profile.name) / "chromium.stderr"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--hide-scrollbars", "--no-first-run", f"--window-size={width},{height}",
                 "--remote-debugging-port=0", f"--user-data-dir={self.profile.name}/profile",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                # Its own process group: chromium's renderer, zygote and utility processes
                # outlive a kill of the first one, still writing into the profile.
                start_new_session=True,
            )
        try:
            self._connect()
        except BaseException:
            self.close()
            raise
        self.ids = itertools.count(1)

    def _connect(self):
        port = None
        deadline = time.monotonic() + 30
        while port is None:
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", self.log.read_text(errors="replace"))
            if match:
                port = int(match.group(1))
                break
            assert self.proc.poll() is None, "chromium exited before it listened: " + self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, "chromium never printed its DevTools address"
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            pages = [t for t in json.load(answer) if t["type"] == "page"]
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30)

    def call(self, method, **params):
        """One DevTools command; its result (events meanwhile are skipped)."""
        id_ = next(self.ids)
        self.ws.send(json.dumps({"id": id_, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == id_:
                assert "error" not in message, message["error"]
                return message["result"]

    def goto(self, url):
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href.startsWith({json.dumps(url.split('?')[0])}) && document.readyState === 'complete'")

    def js(self, expression):
        """The value of `expression` in the page (a promise is awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression, timeout_s=30):
        """Waits until `expression` is truthy in the page (a DOM node counts: it is tested in
        the page, not as the JSON it would come back as)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.js(f"Boolean({expression})"):
                return
            assert time.monotonic() < deadline, f"never true: {expression}"
            time.sleep(0.2)

    def type(self, selector, text):
        self.js(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(text)}")

    def click(self, selector):
        self.js(f"document.querySelector({json.dumps(selector)}).click()")

    def text(self, selector):
        return self.js(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        try:
            if self.ws is not None:
                self.ws.close()
        finally:
            self._kill_every_process()
            self._remove_profile()

    def _kill_every_process(self):
        """Kills chromium's process group and waits until none of it is left (up to 10 s)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def _remove_profile(self):
        """Removes the profile; a file a dying process wrote meanwhile is removed on the next try."""
        for _ in range(20):
            try:
                shutil.rmtree(self.profile.name)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        self.profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
