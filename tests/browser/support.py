"""Helpers of the browser tier: host processes, free ports, plain HTTP, JWTs, Chromium.

Everything waits on conditions with deadlines (wait_for), never on bare sleeps.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

HOST_BIN = os.environ.get("PLEXUS_HOST_BIN", "build/bin/plexus-host")
PLUGIN_DIR = os.environ.get("PLEXUS_PLUGIN_DIR", "build/plugins")
TEST_PLUGIN_DIR = os.environ.get("PLEXUS_TEST_PLUGIN_DIR", "build/tests/fixture_plugins")
SOURCE_DIR = os.environ.get("PLEXUS_SOURCE_DIR", ".")
SCREENSHOTS = os.environ.get("PLEXUS_CONSOLE_SCREENSHOTS", "")


def wait_for(condition, timeout=30.0, interval=0.1, what="condition"):
    """Polls `condition` until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # pylint: disable=broad-except
            last = e
        time.sleep(interval)  # polling interval of a deadline-bounded wait
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last})" if last else ""))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None):
    """(status, parsed JSON or text, headers) of one request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, hdrs = e.code, e.read(), e.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed, hdrs


def jwt_hs256(secret, claims):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


class Host:
    """A plexus-host child process serving `config` on `port`."""

    def __init__(self, config, port, env=None, name="host"):
        self.port = port
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        full = dict(os.environ)
        full.update(env or {})
        full["PLEXUS_HTTP_PORT"] = str(port)
        self.log = tempfile.NamedTemporaryFile(prefix=f"plexus-{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([HOST_BIN, "--config", config], env=full, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=60, check=None):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}: {self.output()[-2000:]}")
            status, body, _ = http("GET", self.url + "/health/ready")
            return status == 200 and (check is None or check(body))
        wait_for(ready, timeout, what=f"{self.name} ready")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()


class Blackhole:
    """A TCP listener that accepts connections and never answers (a peer that hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def chromium(width=1280, height=800):
    """Debian's Chromium, headless, through Debian's chromium-driver; a fresh profile each time."""
    profile = tempfile.mkdtemp(prefix="plexus-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_window_size(width, height)
    driver.profile_dir = profile
    return driver


def quit_browser(driver):
    profile = getattr(driver, "profile_dir", None)
    driver.quit()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name):
    """Saves docs screenshots when PLEXUS_CONSOLE_SCREENSHOTS names a directory."""
    if not SCREENSHOTS:
        return
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"console-{name}.png"))


def page_errors(driver):
    """Script errors and CSP violations the page logged (failed requests are expected: 401, 504)."""
    return [e["message"] for e in driver.get_log("browser")
            if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
