"""A network camera that drops and comes back: the kiosk shows the loss at once, keeps
the watchdog fed while it reconnects, and checks people again when the stream returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from core.bundle import DeviceBundle
from edge.camera import reconnecting
from edge.kiosk.app import create_kiosk_app
from edge.kiosk.runtime import Kiosk
from edge.station import GateStation
from edge.store import CheckStore
from gatecheck.samples import render_frame
from tests.kiosk_helpers import SettableSensor
from tests.mjpeg import MjpegCamera


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_dropped_stream_is_shown_reopened_and_checks_resume(
    offline_bundle: DeviceBundle, store: CheckStore, signed: Any
) -> None:
    camera = MjpegCamera(render_frame(signed("p-before"))).start()
    gate = Kiosk(GateStation(offline_bundle, store), SettableSensor())
    thread = gate.start_camera(reconnecting(camera.url, None, gate.camera_lost, gate.stopping, waits=(0.2,)))
    try:
        with TestClient(create_kiosk_app(gate)) as api:
            wait_until(lambda: store.count() == 1)
            assert api.get("/api/state").json()["status"]["camera"] == "ok"

            camera.stop()  # the camera reboots
            wait_until(lambda: gate.camera.state == "error")
            status = api.get("/api/state").json()["status"]
            assert status["camera"] == "error" and camera.url.split("/video")[0] in status["camera_detail"]
            assert thread.is_alive() and api.get("/api/health").json()["camera_alive"] is True

            camera.image = render_frame(signed("p-after"))
            camera.start()  # back, same address
            wait_until(lambda: store.count() == 2)
            assert gate.camera.state == "ok" and gate.camera_alive()
            assert [r["reason"] for r in store.rows()] == ["ok", "ok"]
    finally:
        gate.stopping.set()
        camera.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_camera_loop_that_died_of_an_error_stops_the_watchdog(
    offline_bundle: DeviceBundle, store: CheckStore
) -> None:
    gate = Kiosk(GateStation(offline_bundle, store), SettableSensor())

    def broken() -> Any:
        raise RuntimeError("driver crashed")
        yield  # a generator that fails on its first frame

    thread = gate.start_camera(broken())
    thread.join(timeout=5)
    assert gate.camera.state == "error" and not gate.camera_alive()
