"""Run the app as people do: `streamlit run app.py` on a free loopback port, seen through Debian's
Chromium driven by Playwright. Shared by the end-to-end tests and benchmarks/app.py."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Navigation label -> the page's title, as a person sees them.
PAGES = {"Home": "Reading facial emotions", "Quiz": "Emotion quiz", "Progress": "Your progress",
         "Your photo": "Your photo", "Live mirror": "Live mirror", "With someone": "Practise with someone",
         "Class sessions": "Class sessions", "Classes": "Classes", "Practice decks": "Practice decks",
         "Train": "Train a model", "About the model": "About the model"}
FINGER = 44  # px: WCAG 2.5.5's and the platforms' comfortable touch target, on touch and narrow screens
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download can't run here
# Headless as root on a closed network: without these Chromium retries blocked connections forever.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def app_server(env: dict | None = None, timeout: float = 60, runner: tuple[str, ...] = ("-m", "streamlit")):
    """Start `streamlit run app.py` headless on loopback; yields (url, seconds until it answered). `runner`:
    what runs Streamlit's command line (a benchmark runs it beside work of its own in the same process)."""
    port = free_port()
    command = [sys.executable, *runner, "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    env = os.environ | (env or {})
    log = open(env.get("FER_E2E_LOG", os.devnull), "ab")
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, timeout)
        yield url, started
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_until_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f} s")


def wait_for_log(path: str, text: str, timeout: float = 60) -> None:
    """Until the server's log (FER_E2E_LOG) says `text`."""
    deadline = time.monotonic() + timeout
    while text not in Path(path).read_text(errors="replace"):
        assert time.monotonic() < deadline, f"the server never logged {text!r}"
        time.sleep(0.2)


def settled(page) -> None:
    """Wait until the page's script run has finished, as a person waits for a page to finish drawing.
    A title shows while the rest is still on its way: Enter in a form whose button has not arrived
    submits nothing, and a click merged into a run in progress can lose its trigger."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()


@contextmanager
def chromium():
    """A headless Debian Chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
