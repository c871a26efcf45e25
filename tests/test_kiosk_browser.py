"""The gate screen in headless Debian Chromium, with the hub unreachable throughout:
checks decoded by the camera loop appear within 500 ms, the guard's actions are stored
with their id. Screenshots: docs/kiosk-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from core.bundle import DeviceBundle
from core.reasons import reason
from edge.kiosk.app import create_kiosk_app
from edge.kiosk.runtime import Kiosk
from edge.station import GateStation
from edge.store import CheckStore
from gatecheck.samples import recolour, render_frame
from hub.server import BackgroundHub
from tests.browser import chromium, keep_screenshot
from tests.conftest import fill_disk
from tests.kiosk_helpers import GUARD_ID, GUARD_PIN, FrameFeed, SettableSensor

Gate = tuple[Kiosk, FrameFeed, SettableSensor]
SHOWN_WITHIN_S = 0.5


@pytest.fixture
def page(kiosk: Gate) -> Iterator[Page]:
    with BackgroundHub(create_kiosk_app(kiosk[0])) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page.goto(server.url)
        page.wait_for_selector("body.live")
        yield page


def present(page: Page, feed: FrameFeed, payload: str) -> dict[str, Any]:
    """Show a code to the camera; return what the page displayed and how long it took."""
    before = page.evaluate("window.gatecheckShown ? window.gatecheckShown.seq : 0")
    started = time.monotonic()
    feed.show(render_frame(payload))
    page.wait_for_function(f"window.gatecheckShown && window.gatecheckShown.seq > {before}", timeout=5000)
    elapsed = time.monotonic() - started
    overlay = page.locator("#verdict")
    return {
        "elapsed": elapsed,
        "verdict": overlay.get_attribute("data-verdict"),
        "seq": int(overlay.get_attribute("data-seq") or 0),
        "text": overlay.inner_text(),
    }


def log_in(page: Page) -> None:
    page.click("#login-button")
    page.fill("#login-form input[name=guard_id]", GUARD_ID)
    page.fill("#login-form input[name=pin]", GUARD_PIN)
    page.fill("#login-form input[name=temp_c]", "36.4")  # the guard's own, before the shift
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-button", state="hidden")


def rows(gate: Kiosk, table: str) -> list[dict[str, Any]]:
    with gate.lock:
        return list(gate.station.store.db[table].rows)


def test_verdicts_appear_within_half_a_second_while_the_hub_is_down(
    page: Page, kiosk: Gate, signed: Any, tmp_path: Path
) -> None:
    gate, feed, sensor = kiosk
    assert page.locator("#st-online").inner_text() == "离线"

    admit = present(page, feed, signed("p-admit"))
    assert admit["verdict"] == "admit" and admit["elapsed"] < SHOWN_WITHIN_S
    assert "通行" in admit["text"] and "36.5 °C" in admit["text"] and "张*" in admit["text"]
    page.screenshot(path=str(tmp_path / "kiosk-admit.png"))
    page.wait_for_selector("#verdict", state="hidden", timeout=5000)  # clears after 3 s

    deny = present(page, feed, signed("p-red", "red"))
    assert deny["verdict"] == "deny" and deny["elapsed"] < SHOWN_WITHIN_S and "红码" in deny["text"]
    page.screenshot(path=str(tmp_path / "kiosk-deny.png"))

    sensor.celsius = 37.9
    high = present(page, feed, signed("p-warm"))
    assert high["verdict"] == "remeasure" and high["elapsed"] < SHOWN_WITHIN_S and "37.9" in high["text"]
    page.screenshot(path=str(tmp_path / "kiosk-remeasure.png"))

    stored = rows(gate, "checks")
    assert [r["verdict"] for r in stored] == ["admit", "deny", "remeasure"]
    assert page.locator("#recent li").count() == 3
    assert "待上传: 3" in page.locator("#status").inner_text()
    for name in ("kiosk-admit.png", "kiosk-deny.png", "kiosk-remeasure.png"):
        keep_screenshot(tmp_path / name)


def test_guard_overrides_registers_a_visitor_and_clears_a_fever_hold(
    page: Page, kiosk: Gate, signed: Any, tmp_path: Path
) -> None:
    gate, feed, sensor = kiosk
    log_in(page)
    assert GUARD_ID in page.locator("#guard-name").inner_text()

    yellow = present(page, feed, signed("p-yellow", "yellow"))
    page.click("#verdict [data-action=override]")
    page.check("#override-form input[name=verdict][value=admit]")
    page.fill("#override-form input[name=reason]", "本楼住户，当日核酸阴性")
    page.click("#override-form button[type=submit]")
    page.wait_for_function(f"window.gatecheckShown.seq > {yellow['seq']}")
    override = rows(gate, "checks")[-1]
    assert (override["verdict"], override["reason"], override["guard_id"], override["refers_to"]) == (
        "admit", "override", GUARD_ID, yellow["seq"],
    )  # fmt: skip
    page.click("#verdict [data-action=dismiss]")

    # A visitor: the questions first, then their code — a yellow one opens no form.
    page.click("#actions [data-visitor]")
    assert page.locator("#person-form input[value=visitor]").is_checked()
    page.click("#person-form button[type=submit]")  # not asked yet: refused
    page.wait_for_selector("#person-form .error:has-text('健康问题')")
    page.check("#person-form input[name=asked]")
    page.click("#person-form button[type=submit]")
    page.wait_for_selector("#person-form", state="hidden")
    assert "访客 · 已问·均无" in page.locator("#person-button").inner_text()
    refused = present(page, feed, signed("p-visitor-yellow", "yellow"))
    assert refused["verdict"] == "deny" and page.locator("#verdict [data-action=register]").is_hidden()
    page.click("#verdict [data-action=dismiss]")
    page.click("#actions [data-visitor]")
    page.check("#person-form input[name=asked]")
    page.click("#person-form button[type=submit]")
    page.wait_for_selector("#person-form", state="hidden")
    admitted = present(page, feed, signed("p-visitor"))
    assert admitted["verdict"] == "admit"
    page.click("#verdict [data-action=register]")
    page.fill("#register-form input[name=name]", "李四")
    page.fill("#register-form input[name=phone]", "电话")
    page.fill("#register-form input[name=host]", "3号楼 201")
    page.fill("#register-form input[name=purpose]", "送货")
    page.fill("#register-form input[name=escort]", "王保安")
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#register-form .error:has-text('电话')")
    assert rows(gate, "visitors") == []
    page.fill("#register-form input[name=phone]", "138 0013 8000")
    page.screenshot(path=str(tmp_path / "kiosk-visitor-form.png"))
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#register-form", state="hidden")
    visitor = rows(gate, "visitors")[0]
    assert (visitor["name"], visitor["guard_id"], visitor["left_ms"]) == ("李四", GUARD_ID, None)
    assert visitor["check_seq"] == admitted["seq"]
    page.click("#show-visitors")
    page.click(f"#visitors-list [data-leave='{visitor['id']}']")
    page.wait_for_selector(f"#visitors-list tr[data-visitor='{visitor['id']}']", state="detached")
    assert rows(gate, "visitors")[0]["left_guard_id"] == GUARD_ID
    page.click("#visitors-list .close")

    sensor.celsius = 38.4
    first = present(page, feed, signed("p-hot"))
    page.wait_for_selector("#hold.retest", state="visible")  # the lane is held at once
    held = page.locator("#hold").inner_text()
    assert "体温偏高" in held and "距复测 4:" in held
    time.sleep(3.5)  # longer than a verdict stays: the hold does not clear by itself
    assert page.locator("#hold").is_visible()
    page.click("#hold [data-open=release-form]")
    page.fill("#release-form input[name=note]", "未复测已离开")
    page.click("#release-form button[type=submit]")
    page.wait_for_selector("#hold", state="hidden")
    released = rows(gate, "checks")[-1]
    assert (released["reason"], released["refers_to"], released["guard_id"]) == (
        "fever_handled", first["seq"], GUARD_ID,
    )  # fmt: skip
    assert rows(gate, "fever_acks")[0]["action"] == "left_untested"

    page.click("#lang")
    assert page.locator("#st-online").inner_text() == "Offline"
    page.click("#show-shift")
    page.wait_for_selector("#shift-panel [data-count=checks]")
    decided = [r for r in rows(gate, "checks") if not reason(r["reason"]).event]  # records, no checks
    assert page.locator("#shift-panel [data-count=checks] b").inner_text() == str(len(decided))
    keep_screenshot(tmp_path / "kiosk-visitor-form.png")


def test_a_full_card_is_shown_in_the_guards_words_at_800x480(
    small_disk: Path, offline_bundle: DeviceBundle, signed: Any, tmp_path: Path
) -> None:
    store = CheckStore(small_disk / "edge.db")
    gate, feed = Kiosk(GateStation(offline_bundle, store), SettableSensor()), FrameFeed()
    camera = gate.start_camera(feed)
    try:
        with BackgroundHub(create_kiosk_app(gate)) as server, chromium() as browser:
            page = browser.new_page(viewport={"width": 800, "height": 480}, locale="zh-CN")
            page.goto(server.url)
            page.wait_for_selector("body.live")
            present(page, feed, signed("110105194912310041"))
            fill_disk(small_disk)
            for n in range(2, 200):  # pages the log already holds take a few more checks
                feed.show(render_frame(signed(f"1101051949123100{n:02d}"[-18:])))
                page.wait_for_timeout(50)
                if gate.storage.state != "ok":
                    break
            page.wait_for_function("document.querySelector('#verdict').dataset.seq === 'null'")
            shown = page.locator("#verdict").inner_text()
            assert "存储已满" in shown and "未测温" not in shown
            banner = page.locator("#st-storage")
            banner.wait_for(state="visible")
            assert "存储已满" in banner.inner_text() and banner.bounding_box()["y"] < 480  # type: ignore[index]
            page.screenshot(path=str(tmp_path / "kiosk-storage-full.png"))
            keep_screenshot(tmp_path / "kiosk-storage-full.png")
    finally:
        feed.unplug()
        camera.join(timeout=10)


def test_the_camera_colour_is_pre_selected_in_the_confirm_dialog_at_800x480(
    kiosk: Gate, tmp_path: Path
) -> None:
    """A yellow code the gate cannot verify: the dialog says what the camera read, marks
    that button — inside the small screen — and the guard's tap decides."""
    gate, feed, _ = kiosk
    with BackgroundHub(create_kiosk_app(gate)) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 480}, locale="zh-CN")
        page.goto(server.url)
        page.wait_for_selector("body.live")
        log_in(page)
        feed.show(recolour(render_frame("https://health.example.cn/qr/77ab"), "yellow"))
        page.wait_for_function("window.gatecheckShown && window.gatecheckShown.seq > 0", timeout=5000)
        page.click("#verdict [data-action=confirm]")
        dialog = page.locator("#confirm-form")
        assert "摄像头识别为：黄码" in dialog.inner_text()
        suggested = dialog.locator(".colours button.suggested")
        assert suggested.get_attribute("value") == "yellow" and suggested.count() == 1
        box = suggested.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 480 and box["height"] >= 48
        page.screenshot(path=str(tmp_path / "kiosk-confirm-colour.png"))
        suggested.click()
        page.wait_for_function("window.gatecheckShown.seq > 1")
    confirmed = rows(gate, "checks")[-1]
    assert (confirmed["verdict"], confirmed["reason"]) == ("deny", "code_yellow")
    assert "colour_camera" in confirmed["flags"].split(",")
    keep_screenshot(tmp_path / "kiosk-confirm-colour.png")
