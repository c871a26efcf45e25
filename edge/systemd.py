"""systemd's service notification protocol (sd_notify), for the device's services.

``READY=1`` tells systemd a ``Type=notify`` service is up; ``WATCHDOG=1`` must then come
at least every ``WatchdogSec`` or systemd kills and restarts the service. Each service
pings only while it is really working (frames still arriving, the page still beating, the
sync loop still turning), so a hang becomes a restart instead of a dead gate. Outside
systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable


def notify(state: str) -> bool:
    """Send one notification; False when not running under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True


def watchdog_period_s() -> float | None:
    """How often to ping: half of ``WatchdogSec``; None when no watchdog is set for us."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


def sleep_pinging(seconds: float, healthy: Callable[[], bool] = lambda: True) -> None:
    """Sleep, pinging the watchdog on the way while ``healthy()`` (long waits such as a
    sync backoff must not look like a hang)."""
    period = watchdog_period_s()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if period is not None and healthy():
            notify("WATCHDOG=1")
        time.sleep(min(left, period or left))
