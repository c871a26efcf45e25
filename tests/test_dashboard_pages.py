"""The dashboard as a manager reads it, on a desktop (1366×768) and a phone (390×844):
nothing wider than the screen, no English on the Chinese pages, a silent site never
shows zero for today, a quiet gate is flagged offline, sites come most urgent first, an
unknown page is a page (not JSON). Screenshots: docs/dashboard-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page
from sqlalchemy import Engine, update

from edge.store import CheckStore
from hub.auth import create_user
from hub.core.db import device_status
from hub.registry import create_site, enrol_device
from hub.server import BackgroundHub
from sync.agent import SyncAgent
from tests.browser import chromium, keep_screenshot
from tests.sync_helpers import fill

SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
ALLOWED_LATIN = ("gatecheck", "English", "CSV", "PDF", "Excel", "UTC")
"""Latin words a Chinese page may show: the product's name, the language switch, file
types and the zone's offset."""


@pytest.fixture
def dashboard(tmp_path: Path, hub_app: FastAPI, hub_engine: Engine) -> Iterator[tuple[str, dict[str, str]]]:
    """Three sites of one manager: busy (with fevers), silent (a gate that never
    reported), quiet (a gate last heard from two hours ago)."""
    sites = {
        name: create_site(hub_engine, name, "Asia/Shanghai").id
        for name in ("阳光花园", "静安小学", "东门菜市场")
    }
    create_user(hub_engine, "王经理", "manager password", "manager", list(sites.values()))
    with BackgroundHub(hub_app) as hub:
        for name, n in (("阳光花园", 30), ("东门菜市场", 12)):
            bundle = enrol_device(hub_engine, sites[name], "北门", hub.url)
            store = CheckStore(tmp_path / f"{bundle.device_id}.db")
            fill(store, bundle.device_id, n, urgent_every=10 if name == "阳光花园" else 0, gate="北门")
            SyncAgent(bundle, store).push()
            if name == "东门菜市场":
                with hub_engine.begin() as conn:
                    conn.execute(
                        update(device_status)
                        .where(device_status.c.device_id == bundle.device_id)
                        .values(last_seen_ms=device_status.c.last_seen_ms - 2 * 3_600_000)
                    )
        enrol_device(hub_engine, sites["静安小学"], "校门", hub.url)
        yield hub.url, sites


def log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", "王经理")
    page.fill("input[name=password]", "manager password")
    page.click("button[type=submit]")
    page.wait_for_selector("#today")


def assert_readable(page: Page, what: str) -> None:
    """No sideways scrolling; every control big enough to hit; no English (Chinese page)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{what}: {width} px wide"  # type: ignore[index]
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, a.button, header a')]
          .filter((el) => el.checkVisibility() && el.type !== 'hidden')
          .map((el) => [el.textContent.trim() || el.name, el.getBoundingClientRect().height])
          .filter(([, h]) => h < 43.5)"""
    )
    assert not small, f"{what}: controls under 44 px: {small}"
    text = page.inner_text("body")
    for word in ALLOWED_LATIN:
        text = text.replace(word, "")
    words = [w for w in text.split() if not w.startswith("dev-")]  # device ids are ids, not English
    english = [w for w in words if sum(c.isascii() and c.isalpha() for c in w) >= 3]
    assert not english, f"{what}: English on the Chinese page: {english[:10]}"


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_overview_is_a_worklist_that_never_shows_a_false_zero(
    dashboard: tuple[str, dict[str, str]], size: str, tmp_path: Path
) -> None:
    url, sites = dashboard
    with chromium() as browser:
        width, height = SIZES[size]
        page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
        page.goto(f"{url}/login")
        assert_readable(page, "login")
        log_in(page, url)
        assert_readable(page, "overview")

        silent = page.locator(f'#today tr[data-site="{sites["静安小学"]}"]')
        assert "今日暂无数据" in silent.inner_text() and "从未联系" in silent.inner_text()
        assert silent.locator('[data-k="checks"]').count() == 0  # no zero to misread
        quiet = page.locator(f'#today tr[data-site="{sites["东门菜市场"]}"]')
        assert "离线" in quiet.locator('[data-k="offline"]').inner_text()
        busy = page.locator(f'#today tr[data-site="{sites["阳光花园"]}"]')
        assert busy.locator('[data-k="checks"]').inner_text() == "30"
        order = page.eval_on_selector_all("#today tr[data-site]", "rows => rows.map(r => r.dataset.urgency)")
        assert order == ["alerts_open", "offline", "offline"]  # fevers open, then silent gates
        assert "离线" in silent.locator('[data-k="offline"]').inner_text()  # never heard from
        assert page.locator("#alerts tr.alert").count() == 3
        assert "剩" in page.locator("#alerts tr.alert td.due").first.inner_text()  # time left to report
        page.screenshot(path=str(tmp_path / f"dashboard-overview-{size}.png"), full_page=True)

        page.click(f'a[href="/sites/{sites["东门菜市场"]}"]')
        page.wait_for_selector("#trend")
        assert_readable(page, "site page")
        assert page.locator("#devices [data-k=offline]").count() == 1
        assert "在用" in page.locator("#devices").inner_text()
        assert page.locator("#trend text").filter(has_text="12").count() >= 1  # the count axis
        page.screenshot(path=str(tmp_path / f"dashboard-site-{size}.png"), full_page=True)

        page.goto(f"{url}/sites/{sites['静安小学']}")
        assert "今日暂无数据" in page.locator("#site-today").inner_text()

        missing = page.goto(f"{url}/sites/no-such-site")
        assert missing is not None and missing.status == 404
        assert "页面不存在" in page.inner_text("body") and "detail" not in page.content()
        assert_readable(page, "not found")
    if size == "phone":
        keep_screenshot(tmp_path / "dashboard-overview-phone.png")
        keep_screenshot(tmp_path / "dashboard-site-phone.png")
