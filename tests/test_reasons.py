"""One table of reasons: a reason added in one place is shown by the kiosk, sent first by
the agent when urgent, counted by the hub and alerted when marked so."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from core import reasons
from core.bundle import DeviceBundle
from core.reasons import Reason
from edge.kiosk.app import create_kiosk_app
from edge.kiosk.runtime import Kiosk
from edge.policy import Decision
from edge.station import GateStation
from edge.store import CheckStore
from hub.core.db import alerts, daily_counts
from tests.hub_helpers import make_batch, make_check, post
from tests.kiosk_helpers import SettableSensor

NO_MASK = Reason(
    "no_mask", "未戴口罩，禁止通行", "No mask: entry refused", urgent=True, alert=True, metric="no_masks"
)


@pytest.fixture
def with_no_mask(monkeypatch: pytest.MonkeyPatch) -> Reason:
    monkeypatch.setitem(reasons.REASONS, NO_MASK.code, NO_MASK)  # the one place
    return NO_MASK


def test_a_new_reason_is_counted_and_alerted_by_the_hub(
    with_no_mask: Reason, client: TestClient, device: DeviceBundle, hub_engine: Engine
) -> None:
    refused = make_check(1, verdict="deny", reason="no_mask")
    assert post(client, device, make_batch(device, 0, [refused, make_check(2)])).status_code == 200
    with hub_engine.connect() as conn:
        counts = dict(conn.execute(select(daily_counts.c.metric, daily_counts.c.n)).all())
        raised = list(conn.scalars(select(alerts.c.reason)))
    assert counts["no_masks"] == 1 and counts["deny:no_mask"] == 1 and counts["checks"] == 2
    assert raised == ["no_mask"]
    overview = client.get("/").text
    assert "未戴口罩，禁止通行" in overview  # the alert, in the manager's words


def test_a_new_reason_is_shown_by_the_kiosk_and_sent_first(
    with_no_mask: Reason, offline_bundle: DeviceBundle, store: CheckStore
) -> None:
    decision = Decision("deny", "no_mask")
    assert (decision.text_zh, decision.text_en, decision.urgent) == (NO_MASK.zh, NO_MASK.en, True)
    gate = Kiosk(GateStation(offline_bundle, store), SettableSensor())
    with TestClient(create_kiosk_app(gate)) as page:
        html = page.get("/").text
    found = re.search(r'<script id="config" type="application/json">(.*?)</script>', html, re.S)
    assert found and json.loads(found.group(1))["reasons"]["no_mask"] == [NO_MASK.zh, NO_MASK.en]
