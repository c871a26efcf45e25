"""A district officer's pages in Chromium, on a desktop (1366×768) and a phone (390×844):
they open on their district, read its numbers by street and by category, see the site
without a gate in the late list, and drill down to a street and a site — readable at
both sizes, all in Chinese. Screenshot: docs/dashboard-region.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from edge.store import CheckStore
from hub import rollups
from hub.auth import create_user
from hub.regions import create_region
from hub.registry import create_site, enrol_device
from hub.server import BackgroundHub
from sync.agent import SyncAgent
from tests.browser import chromium, keep_screenshot
from tests.sync_helpers import fill
from tests.test_dashboard_pages import SIZES, assert_readable


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_a_district_officer_reads_the_district_and_drills_down(
    hub_app: FastAPI, hub_engine: Engine, tmp_path: Path, size: str
) -> None:
    city = create_region(hub_engine, "某市")
    district = create_region(hub_engine, "东城区", city.id)
    street = create_region(hub_engine, "和平街道", district.id)
    other = create_region(hub_engine, "西城区", city.id)
    school = create_site(hub_engine, "和平小学", "Asia/Shanghai", region_id=street.id, category_id="school")
    market = create_site(hub_engine, "和平菜市场", "Asia/Shanghai", region_id=street.id, category_id="market")
    create_site(hub_engine, "西城银行", "Asia/Shanghai", region_id=other.id, category_id="bank")
    create_user(hub_engine, "东城区防控办", "officer password", "officer", region_ids=[district.id])
    with BackgroundHub(hub_app) as hub:
        bundle = enrol_device(hub_engine, school.id, "校门", hub.url)
        store = CheckStore(tmp_path / "gate.db")
        fill(store, bundle.device_id, 20, urgent_every=10, gate="校门")
        SyncAgent(bundle, store).push()
        rollups.fold(hub_engine)
        with chromium() as browser:
            width, height = SIZES[size]
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            page.goto(f"{hub.url}/login")
            page.fill("input[name=username]", "东城区防控办")
            page.fill("input[name=password]", "officer password")
            page.click("button[type=submit]")
            page.wait_for_selector("#region-total")
            assert page.url.endswith(f"/regions/{district.id}")  # their district is home
            assert page.locator(f'#trail a[href^="/regions/{city.id}"]').count() == 0  # not theirs
            assert_readable(page, "region page")
            assert page.locator('#region-total [data-k="sites"]').inner_text() == "2"
            assert page.locator('#region-total [data-k="checks"]').inner_text() == "20"
            assert page.locator('#region-total [data-k="fevers"]').inner_text() == "2"
            # The gate recorded neither itinerary cards nor masks: no admission was complete.
            admitted = page.locator('#region-total [data-k="admitted"]').inner_text()
            assert (
                int(admitted) > 0 and page.locator('#region-total [data-k="complete"]').inner_text() == "0%"
            )
            assert page.locator('#region-total [data-k="no_gates"]').inner_text() == "1"
            assert (
                page.locator(f'#children tr[data-part="{street.id}"] [data-k="checks"]').inner_text() == "20"
            )
            assert page.locator('#categories tr[data-part="school"] [data-k="checks"]').inner_text() == "20"
            assert "和平菜市场" in page.locator("#late").inner_text()
            assert "无在用设备" in page.locator("#late").inner_text()
            assert page.locator("#region-alerts tr.alert").count() == 2
            assert "西城" not in page.inner_text("body")
            shot = "dashboard-region.png" if size == "desktop" else f"dashboard-region-{size}.png"
            page.screenshot(path=str(tmp_path / shot), full_page=True)

            page.click(f'#children a[href^="/regions/{street.id}"]')
            page.wait_for_selector("#region-total")
            assert "和平街道" in page.locator("#trail").inner_text()
            assert_readable(page, "street page")
            page.click(f'#late a[href="/sites/{market.id}"]')
            page.wait_for_selector("#trend")
            assert "和平菜市场" in page.inner_text("body")
            answer = page.goto(f"{hub.url}/regions/{city.id}")
            assert answer is not None and answer.status == 404  # above their district
    if size == "desktop":
        keep_screenshot(tmp_path / "dashboard-region.png")
