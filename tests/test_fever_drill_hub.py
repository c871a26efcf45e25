"""The fever drill reaches the hub: the gate's re-test, disposition and the people present
around it, followed through at the hub from the checks the sync agent sent."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from core.bundle import DeviceBundle
from edge.kiosk.app import create_kiosk_app
from edge.kiosk.runtime import Kiosk
from edge.store import CheckStore
from gatecheck.samples import render_frame
from hub.core.db import alerts, daily_counts
from sync.agent import SyncAgent
from tests.conftest import running_kiosk
from tests.kiosk_helpers import LOGIN, FrameFeed, SettableSensor

BOTH_DATABASES = True


@pytest.fixture
def gate(bundle: DeviceBundle, store: CheckStore) -> Iterator[tuple[Kiosk, FrameFeed, SettableSensor]]:
    """A gate screen whose hub is live."""
    with running_kiosk(bundle, store) as kiosk:
        yield kiosk


def shown(kiosk: Kiosk, feed: FrameFeed, payload: str) -> dict[str, Any]:
    count = kiosk.station.store.count()
    feed.show(render_frame(payload))
    deadline = time.monotonic() + 10
    while kiosk.station.store.count() == count:
        assert time.monotonic() < deadline, "the camera loop stored no check"
        time.sleep(0.01)
    with kiosk.lock:
        return kiosk.station.store.rows()[-1]


def test_a_fever_case_is_followed_through_at_the_hub(
    gate: tuple[Kiosk, FrameFeed, SettableSensor],
    bundle: DeviceBundle,
    store: CheckStore,
    hub_engine: Engine,
    client: TestClient,
    signed: Any,
    later: Callable[[float], None],
) -> None:
    kiosk, feed, sensor = gate
    neighbours = [shown(kiosk, feed, signed(f"p-queue-{n}")) for n in range(2)]
    sensor.celsius = 38.1
    first = shown(kiosk, feed, signed("p-case"))
    with TestClient(create_kiosk_app(kiosk)) as screen:
        assert screen.post("/api/login", json=LOGIN).status_code == 200
        later(301)
        fever = screen.post(
            f"/api/holds/{first['seq']}/retest", json={"method": "ear", "temp_c": 38.3}
        ).json()
        assert fever["reason"] == "fever"
        done = screen.post(
            f"/api/fevers/{fever['seq']}/ack", json={"action": "fever_clinic", "note": "家属陪同"}
        )
        assert done.status_code == 200, done.text
    later(-301)  # back to the hub's time before syncing (requests are signed with it)

    agent = SyncAgent(bundle, store)
    while store.backlog():
        agent.push()

    cases = f"/api/v1/sites/{bundle.site_id}/fevers/{bundle.device_id}"
    case = client.get(f"{cases}/{fever['seq']}")
    assert case.status_code == 200, case.text
    body = case.json()
    assert (body["retest_method"], body["temp_c"], body["first_seq"], body["first_temp_c"]) == (
        "ear", 38.3, first["seq"], 38.1,
    )  # fmt: skip
    assert body["disposition"] == "fever_clinic" and body["disposition_ms"] >= body["event_ms"]
    assert body["present"] == sorted(n["holder"] for n in neighbours)  # not the person themself
    assert (
        client.get(f"/api/v1/sites/{bundle.site_id}/fevers/{bundle.device_id}/{first['seq']}").status_code
        == 404
    )
    with hub_engine.connect() as conn:
        counts = dict(conn.execute(select(daily_counts.c.metric, daily_counts.c.n)).all())
        raised = conn.scalars(select(alerts.c.reason)).all()
    # The disposition is a record, not another check: 4 checks (2 admitted, 1 re-measure, 1 fever).
    assert (counts["checks"], counts["fevers"], counts["denied"], counts["remeasure"]) == (4, 1, 1, 1)
    assert raised == ["fever"]
