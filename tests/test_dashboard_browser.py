"""The site managers' dashboard in a real browser: log in, read the numbers, open a site,
export the CSV, switch language. Screenshots: docs/dashboard-*.png."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from edge.store import CheckStore
from hub.auth import create_user
from hub.registry import Site, enrol_device
from hub.server import BackgroundHub
from sync.agent import SyncAgent
from tests.browser import chromium, keep_screenshot
from tests.sync_helpers import fill


def test_manager_reads_todays_numbers_and_exports_csv(
    tmp_path: Path, hub_app: FastAPI, hub_engine: Engine, site: Site
) -> None:
    create_user(hub_engine, "wang", "manager password", "manager", [site.id])
    with BackgroundHub(hub_app) as hub:
        for gate, n in (("北门 North gate", 40), ("南门 South gate", 25)):
            bundle = enrol_device(hub_engine, site.id, gate, hub.url)
            store = CheckStore(tmp_path / f"{gate[:2]}.db")
            fill(store, bundle.device_id, n, urgent_every=10, gate=gate)
            SyncAgent(bundle, store).push()
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.goto(f"{hub.url}/")
            assert page.url.endswith("/login")
            page.fill("input[name=username]", "wang")
            page.fill("input[name=password]", "manager password")
            page.click("button[type=submit]")
            page.wait_for_selector("#today")
            row = page.locator(f'#today tr[data-site="{site.id}"]')
            assert row.locator('[data-k="checks"]').inner_text() == "65"
            assert row.locator('[data-k="fevers"]').inner_text() == "6"
            assert row.locator('[data-k="denied"]').inner_text() == "6"
            assert page.locator("#alerts tr.alert").count() == 6
            page.screenshot(path=str(tmp_path / "dashboard-overview.png"), full_page=True)

            page.click(f'a[href="/sites/{site.id}"]')
            page.wait_for_selector("#trend")
            assert page.locator("#per-gate").inner_text().count("gate") == 2
            assert page.locator("#devices tr").count() == 3  # header + two gates
            page.screenshot(path=str(tmp_path / "dashboard-site.png"), full_page=True)

            with page.expect_download() as download:
                page.click("#export")
            rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
            assert rows[-1]["核验人次"] == "65" and rows[-1]["体温异常"] == "6"  # the page's language
            assert rows[-1]["出入口:北门 North gate"] == "40"

            page.goto(f"{hub.url}/?lang=en")
            assert "Today across my sites" in page.inner_text("body")
            page.goto(f"{hub.url}/")
            assert "Today across my sites" in page.inner_text("body")  # the choice is remembered
    for name in ("dashboard-overview.png", "dashboard-site.png"):
        keep_screenshot(tmp_path / name)
