"""Visitors at the hub: registered at the gate's screen, synced with the checks, closed
when they leave; the ledger and who is still inside per site, names masked for a
manager, in full only for an administrator, and every full view recorded. Both
databases; the page in Chromium on a phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from core.bundle import DeviceBundle
from edge.kiosk.app import create_kiosk_app
from edge.kiosk.runtime import Kiosk
from edge.store import CheckStore
from hub import queries
from hub.auth import create_user
from hub.core.db import name_views, visitors
from hub.registry import Site
from hub.server import BackgroundHub
from sync.agent import SyncAgent
from tests.browser import chromium
from tests.conftest import ADMIN_PASSWORD, log_in, running_kiosk
from tests.kiosk_helpers import LOGIN, FrameFeed, SettableSensor

BOTH_DATABASES = True


@pytest.fixture
def gate(bundle: DeviceBundle, store: CheckStore) -> Iterator[tuple[Kiosk, FrameFeed, SettableSensor]]:
    with running_kiosk(bundle, store) as kiosk:
        yield kiosk


def test_visitors_reach_the_hub_masked_for_managers_and_every_full_view_is_recorded(
    gate: tuple[Kiosk, FrameFeed, SettableSensor],
    bundle: DeviceBundle,
    store: CheckStore,
    site: Site,
    hub_app: FastAPI,
    hub_engine: Engine,
    live_hub: BackgroundHub,
) -> None:
    kiosk = gate[0]
    with TestClient(create_kiosk_app(kiosk)) as screen:
        assert screen.post("/api/login", json=LOGIN).status_code == 200
        for name, phone in (("李四", "138 0013 8000"), ("王小明", "13900139000")):
            screen.post("/api/looked", json={"category": "visitor", "symptoms": []})
            checked = screen.post(
                "/api/manual", json={"kind": "name_phone", "name": name, "phone": phone, "temp_c": 36.5}
            )
            body = {"name": name, "phone": phone, "host": "3号楼 201", "purpose": "送货", "escort": "王保安"}
            assert screen.post(f"/api/checks/{checked.json()['seq']}/register", json=body).status_code == 200
        agent = SyncAgent(bundle, store)
        assert agent.push().visitors == 2
        assert agent.push().visitors == 0  # nothing new: nothing sent
        first = screen.get("/api/visitors").json()[-1]
        assert screen.post(f"/api/visitors/{first['id']}/leave").status_code == 200
    assert agent.push().visitors == 1  # the closing goes too
    with hub_engine.connect() as conn:
        held = {r.name: r for r in conn.execute(select(visitors))}
    assert (
        set(held) == {"李四", "王小明"}
        and held["李四"].left_ms is not None
        and held["王小明"].left_ms is None
    )
    assert held["李四"].phone == "138 0013 8000" and held["李四"].gate == bundle.gate
    today = queries.site_today(site)
    (day,) = queries.daily(hub_engine, [site.id], today, today)
    assert (day.visitors, day.exits, day.checks, day.by_category) == (2, 1, 2, {"visitor": 2})

    create_user(hub_engine, "王经理", ADMIN_PASSWORD, "manager", [site.id])
    manager = TestClient(hub_app)
    assert log_in(manager, "王经理", ADMIN_PASSWORD).status_code == 303
    page = manager.get(f"/sites/{site.id}/visitors").text
    assert "李*" in page and "王**" in page and "李四" not in page and "138****8000" in page
    assert 'id="inside-count">1<' in page
    assert manager.get(f"/sites/{site.id}/visitors?full=1").status_code == 403
    admin = TestClient(hub_app)
    create_user(hub_engine, "admin", ADMIN_PASSWORD, "admin")
    assert log_in(admin, "admin", ADMIN_PASSWORD).status_code == 303
    assert "李四" in admin.get(f"/sites/{site.id}/visitors?full=1").text
    with hub_engine.connect() as conn:
        viewed = conn.execute(select(name_views)).all()
    assert [(v.username, v.site_id) for v in viewed] == [("admin", site.id)]
    assert "admin" in manager.get(f"/sites/{site.id}/visitors").text  # who looked, for all to see

    with chromium() as browser:
        phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        phone.goto(f"{live_hub.url}/login")
        phone.fill("input[name=username]", "王经理")
        phone.fill("input[name=password]", ADMIN_PASSWORD)
        phone.click("button[type=submit]")
        phone.wait_for_selector("#today")
        phone.goto(f"{live_hub.url}/sites/{site.id}/visitors")
        names = phone.eval_on_selector_all("#ledger [data-k=name]", "cells => cells.map(c => c.textContent)")
        assert sorted(names) == ["李*", "王**"]
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert phone.locator("#show-full").count() == 0  # a manager is not offered the names
