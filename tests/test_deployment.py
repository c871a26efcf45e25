"""The device's services as systemd sees them: unit files that verify, and the sd_notify
protocol (READY, WATCHDOG) spoken by the real processes over a real datagram socket."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.bundle import DeviceBundle
from edge.service_units import render_units, write_units
from tests.browser import CHROMIUM
from tests.hub_process import free_port

GATECHECK = Path(sys.executable).with_name("gatecheck")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not available")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    units = render_units(GATECHECK, tmp_path / "home", "root", Path("/usr/bin/env"))
    assert set(units) >= {
        "gatecheck-edge.service",
        "gatecheck-sync.service",
        "gatecheck-kiosk-browser.service",
    }
    for name in ("gatecheck-edge.service", "gatecheck-sync.service", "gatecheck-kiosk-browser.service"):
        assert (
            "Restart=always" in units[name] and "WatchdogSec=" in units[name] and "Type=notify" in units[name]
        )
    paths = write_units(units, tmp_path / "units")
    result = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", "--man=no", *map(str, paths)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    # The check can fail: a unit whose program is missing does not verify.
    broken = write_units(
        render_units(tmp_path / "missing", tmp_path, "root", Path("/usr/bin/env")), tmp_path / "bad"
    )
    result = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", "--man=no", *map(str, broken)], capture_output=True, text=True
    )
    assert result.returncode != 0 and "missing" in result.stderr


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket; collects what services send."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.5)
        self.messages: list[str] = []

    def wait_for(self, message: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while message not in self.messages:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {message!r} within {timeout_s} s; got {self.messages}")
            try:
                self.messages.extend(self.sock.recv(4096).decode().split("\n"))
            except TimeoutError:
                continue

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"gc-notify-{os.getpid()}-{time.monotonic_ns()}"
    folder.mkdir()
    receiver = NotifySocket(folder / "notify.sock")
    yield receiver
    receiver.close()
    shutil.rmtree(folder)


def service(args: list[str], notify: NotifySocket, watchdog_s: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(int(watchdog_s * 1e6))}
    return subprocess.Popen(
        [str(GATECHECK), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_gate_and_browser_services_report_ready_and_feed_the_watchdog(
    notify_socket: NotifySocket, offline_bundle: DeviceBundle, tmp_path: Path
) -> None:
    offline_bundle.save(tmp_path / "device.json")
    frames = tmp_path / "frames"
    frames.mkdir()
    port = free_port()
    gate = service(
        ["edge", "kiosk", "--device", str(tmp_path / "device.json"), "--db", str(tmp_path / "edge.db"),
         "--source", str(frames), "--port", str(port), "--thermometer", "none"],
        notify_socket, watchdog_s=1.0,
    )  # fmt: skip
    try:
        notify_socket.wait_for("READY=1")
        notify_socket.messages.clear()
        notify_socket.wait_for("WATCHDOG=1", timeout_s=5)
        health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()
        assert health == {"camera_alive": True, "page_alive": False}  # no screen yet
        if not CHROMIUM.exists():
            pytest.skip("Debian chromium not installed")
        notify_socket.messages.clear()
        browser = service(
            ["edge", "browser", "--url", f"http://127.0.0.1:{port}/", "--chromium", str(CHROMIUM),
             "--profile", str(tmp_path / "profile"), "--chromium-arg=--headless",
             "--chromium-arg=--no-sandbox", "--chromium-arg=--disable-gpu"],
            notify_socket, watchdog_s=2.0,
        )  # fmt: skip
        try:
            notify_socket.wait_for("READY=1")
            notify_socket.wait_for("WATCHDOG=1", timeout_s=10)
            deadline = time.monotonic() + 30
            while not httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()["page_alive"]:
                assert time.monotonic() < deadline, "the page in Chromium never sent its heartbeat"
                time.sleep(0.5)
        finally:
            stop(browser)
        assert browser.returncode is not None
    finally:
        stop(gate)
    notify_socket.wait_for("STOPPING=1", timeout_s=5)


INSTALL = Path(__file__).resolve().parents[1] / "scripts" / "install-device.sh"


def test_install_script_sets_up_from_the_bundle_and_enables_every_service(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text("{}")
    result = subprocess.run(
        ["bash", str(INSTALL), "--dry-run", str(bundle), "--thermometer", "mlx90614"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    steps = result.stdout.splitlines()
    init = next(i for i, s in enumerate(steps) if " edge init " in s)
    assert f"--bundle {bundle}" in steps[init] and steps[init].endswith("--thermometer mlx90614")
    enabled = " ".join(s for s in steps if "systemctl enable" in s)
    for unit in ("gatecheck-edge.service", "gatecheck-sync.service", "gatecheck-kiosk-browser.service"):
        assert unit in enabled
    assert "gatecheck-purge.timer" in enabled
    assert (
        init
        < next(i for i, s in enumerate(steps) if "install-units" in s)
        < steps.index("+ systemctl daemon-reload")
    )
    missing = subprocess.run(
        ["bash", str(INSTALL), str(tmp_path / "nope.json")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "cannot read bundle" in missing.stderr
