"""The kiosk-browser service: Chromium full-screen on the gate's display, supervised.

Chromium cannot speak to systemd's watchdog, so this small supervisor starts it and pings
the watchdog only while the gate page's script keeps beating (``/api/heartbeat``, seen via
``/api/health``). A crashed, frozen or blank browser therefore gets restarted by systemd
within ``WatchdogSec``; a closed one ends the service, which ``Restart=always`` restarts.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path
from types import FrameType

import httpx

from edge import systemd

CHROMIUM_FLAGS = (
    "--kiosk",
    "--no-first-run",
    "--noerrdialogs",
    "--disable-infobars",
    "--disable-session-crashed-bubble",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate",
    "--password-store=basic",
    "--autoplay-policy=no-user-gesture-required",  # the verdict beeps
)
START_GRACE_S = 60.0
"""How long the page may take to load and beat for the first time."""


class BrowserError(Exception):
    """The gate page never came up or Chromium could not start."""


def wait_for_page(url: str, timeout_s: float) -> None:
    """Block until the kiosk server answers (it starts in parallel after a boot)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url.rstrip('/')}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise BrowserError(f"the gate page at {url} did not answer within {timeout_s:g} s")
        time.sleep(1)


def page_alive(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url.rstrip('/')}/api/health", timeout=2).json().get("page_alive"))
    except (httpx.HTTPError, ValueError):
        return False


def supervise(url: str, chromium: str, profile: Path, extra_args: tuple[str, ...] = ()) -> int:
    """Run Chromium on ``url`` until it exits; returns its exit status."""
    profile.mkdir(parents=True, exist_ok=True)
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra_args, url]
    try:
        browser = subprocess.Popen(command)
    except OSError as exc:
        raise BrowserError(
            f"cannot start {chromium}: {exc.strerror}; install it (apt-get install chromium)"
        ) from exc

    def stop(signum: int, frame: FrameType | None) -> None:
        browser.terminate()

    signal.signal(signal.SIGTERM, stop)
    systemd.notify("READY=1")
    started = time.monotonic()
    period = systemd.watchdog_period_s() or 5.0
    while browser.poll() is None:
        if time.monotonic() - started < START_GRACE_S or page_alive(url):
            systemd.notify("WATCHDOG=1")
        with contextlib.suppress(subprocess.TimeoutExpired):
            browser.wait(timeout=period)
    return browser.returncode
