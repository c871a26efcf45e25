"""Every state of the gate screen at the kiosk panels' sizes, in headless Chromium.

At 800×480, 1024×600, 1280×800 and portrait 600×1024, for idle, each verdict, the fever
hold (re-test, before and after a guard logs in over it; confirmed fever), and every
dialog and form: nothing scrolls, every control is inside the screen (and inside its
dialog) and at least 48 px each way, and the Chinese screen carries no English. The
fever drill runs end to end through the camera loop with a controlled clock; the spoken
prompts exist and the page reports playing them. Screenshots: docs/kiosk-*.png.
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from edge.kiosk.app import create_kiosk_app
from edge.kiosk.runtime import Kiosk
from edge.voice import PROMPTS, Voice
from gatecheck.samples import render_frame
from hub.server import BackgroundHub
from tests.browser import chromium, keep_screenshot
from tests.kiosk_helpers import GUARD_ID, GUARD_PIN, FrameFeed, SettableSensor

Gate = tuple[Kiosk, FrameFeed, SettableSensor]
SIZES = [(800, 480), (1024, 600), (1280, 800), (600, 1024)]

PROBLEMS = (Path(__file__).parent / "screen_problems.js").read_text(encoding="utf-8")
"""Runs in the page: what is wrong with the screen as it is now (empty: nothing)."""


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Voice:
    rendered = Voice(tmp_path_factory.mktemp("voice"))
    rendered.render()
    return rendered


@pytest.fixture
def screen(kiosk: Gate, voice: Voice) -> Iterator[Callable[[int, int], Page]]:
    """Open the gate page at a size (one browser, a fresh page per call)."""
    kiosk[0].voice = voice
    with BackgroundHub(create_kiosk_app(kiosk[0])) as server, chromium() as browser:

        def open_page(width: int, height: int) -> Page:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            page.goto(server.url)
            page.wait_for_selector("body.live")
            page.wait_for_function("document.querySelector('#st-camera').textContent !== ''")
            return page

        yield open_page


def assert_fits(page: Page, state: str, chinese: bool = True) -> None:
    page.wait_for_timeout(100)  # layout after the last change
    problems = page.evaluate(PROBLEMS)
    size = page.viewport_size
    assert not problems, f"{state} at {size}: {problems}"
    if chinese:
        english = page.evaluate(
            """() => {
              const gate = document.querySelector('.gate').textContent;
              const text = document.body.innerText.replaceAll(gate, '').replaceAll('PIN', '')
                .replace(document.querySelector('#lang').textContent, '');  // the switch names English
              return text.match(/[A-Za-z]{3,}/g) || [];
            }"""
        )
        assert not english, f"English on the Chinese screen ({state} at {size}): {english}"


def shown(page: Page, feed: FrameFeed, payload: str) -> None:
    before = page.evaluate("window.gatecheckShown ? window.gatecheckShown.seq : 0")
    feed.show(render_frame(payload))
    page.wait_for_function(f"window.gatecheckShown && window.gatecheckShown.seq > {before}", timeout=5000)


def open_dialog(page: Page, opener: str, dialog: str, state: str) -> None:
    page.click(opener)
    page.wait_for_selector(f"{dialog}[open]")
    assert_fits(page, state)
    page.click(f"{dialog} .close")
    page.wait_for_selector(f"{dialog}:not([open])", state="attached")


def log_in(page: Page) -> None:
    page.fill("#login-form input[name=guard_id]", GUARD_ID)
    page.fill("#login-form input[name=pin]", GUARD_PIN)
    page.fill("#login-form input[name=temp_c]", "36.4")  # the guard's own, before the shift
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-form:not([open])", state="attached")


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_screen_state_fits_with_large_targets_and_no_english(
    screen: Callable[[int, int], Page],
    kiosk: Gate,
    signed: Any,
    later: Callable[[float], None],
    width: int,
    height: int,
    tmp_path: Path,
) -> None:
    gate, feed, sensor = kiosk
    page = screen(width, height)
    size = f"{width}x{height}"
    assert_fits(page, "idle")
    page.screenshot(path=str(tmp_path / f"kiosk-idle-{size}.png"))

    # An action without a guard on duty: the login comes first, then the action.
    page.click("#actions [data-visitor]")
    page.wait_for_selector("#login-form[open]")
    assert "请先登录" in page.locator("#login-form .error").inner_text()
    assert_fits(page, "login")
    log_in(page)
    # A visitor: who and the health questions first (every choice a touch target) …
    page.wait_for_selector("#person-form[open]")
    assert_fits(page, "visitor questions")
    page.click("#person-form button[type=submit]")  # not asked: the server's words, in Chinese
    page.wait_for_selector("#person-form .error:has-text('健康问题')")
    assert_fits(page, "visitor questions with errors")
    page.check("#person-form input[name=asked]")
    page.screenshot(path=str(tmp_path / f"kiosk-person-form-{size}.png"))
    page.click("#person-form button[type=submit]")
    page.wait_for_selector("#person-form:not([open])", state="attached")
    assert_fits(page, "idle with a visitor announced")
    page.screenshot(path=str(tmp_path / f"kiosk-taps-{size}.png"))
    # … then their code; once admitted, the visitor book.
    shown(page, feed, signed(f"p-{size}-visitor"))
    page.click("#verdict [data-action=register]")
    page.wait_for_selector("#register-form[open]")
    page.click("#register-form button[type=submit]")  # empty: the server's words, in Chinese
    page.wait_for_selector("#register-form .error:has-text('姓名')")
    assert_fits(page, "visitor form with errors")
    page.screenshot(path=str(tmp_path / f"kiosk-visitor-form-{size}.png"))
    page.click("#register-form .close")
    page.click("#verdict [data-action=dismiss]")

    for kind in ("resident_id", "name_phone", "code"):
        page.click("[data-open=manual-form]")
        page.select_option("#manual-form select[name=kind]", kind)
        assert_fits(page, f"manual entry ({kind})")
        page.click("#manual-form .close")
    open_dialog(page, "[data-open=refusal-form]", "#refusal-form", "refusal")
    open_dialog(page, "#show-visitors", "#visitors-list", "visitors inside")
    open_dialog(page, "#show-shift", "#shift-panel", "handover")

    # The guard's taps for the next person (what the camera cannot see): one tap each.
    assert_fits(page, "idle with a guard on duty and the taps")
    given = page.locator("#looked [data-part=mask] [data-v=given]")
    with page.expect_response("**/api/looked"):  # the server holds the tap before anyone scans
        given.click()
    assert given.get_attribute("aria-pressed") == "true"
    for n in range(4):  # a few recent checks with their buttons
        shown(page, feed, signed(f"p-{size}-green-{n}"))
    assert given.get_attribute("aria-pressed") == "false"  # the tap went with the first check
    with gate.lock:
        flags = [r["flags"] for r in gate.station.store.rows()]
    assert flags.count("mask_given") == 1 and flags[-4] == "mask_given"
    assert_fits(page, "admit verdict")
    shown(page, feed, signed(f"p-{size}-red", "red"))
    assert_fits(page, "deny verdict")
    page.click("#verdict [data-action=override]")
    page.wait_for_selector("#override-form[open]")
    assert page.locator("#override-form input[name=verdict]:checked").count() == 0  # no default
    assert_fits(page, "override")
    page.click("#override-form button[type=submit]")
    page.wait_for_selector("#override-form .error:has-text('判定')")
    page.click("#override-form .close")
    page.screenshot(path=str(tmp_path / f"kiosk-deny-{size}.png"))

    feed.show(render_frame(f"https://health.example.cn/qr/{size}"))
    page.wait_for_selector("#verdict[data-verdict=manual]")
    assert_fits(page, "check by hand")
    open_dialog(page, "#verdict [data-action=confirm]", "#confirm-form", "confirm colour")
    sensor.celsius = None
    shown(page, feed, signed(f"p-{size}-nosensor"))
    open_dialog(page, "#verdict [data-action=remeasure]", "#remeasure-form", "re-measure form")
    sensor.celsius = 34.0 - 5
    shown(page, feed, signed(f"p-{size}-cold"))
    assert page.locator("#verdict").get_attribute("data-verdict") == "remeasure"
    assert_fits(page, "re-measure verdict")
    page.click("#verdict [data-action=dismiss]")

    # The fever drill: the first high reading holds the lane.
    sensor.celsius = 38.3
    shown(page, feed, signed(f"p-{size}-hot"))
    page.wait_for_selector("#hold.retest", state="visible")
    sensor.celsius = 36.5
    feed.show(render_frame(signed(f"p-{size}-waiting")))  # the next in line: asked to wait
    page.wait_for_selector("#hold-waiting", state="visible")
    assert page.locator("#hold-waiting").inner_text() == "请稍候 — 正在处置体温异常"
    assert_fits(page, "fever hold, re-test")
    page.screenshot(path=str(tmp_path / f"kiosk-hold-retest-{size}.png"))
    page.evaluate("fetch('/api/logout', {method: 'POST'})")
    page.reload()
    page.wait_for_selector("#hold.retest", state="visible")  # survives a reload
    assert page.locator("#hold .need-login").is_visible()
    assert_fits(page, "fever hold, nobody logged in")
    page.click("#hold .need-login button")  # any guard can log in over the hold
    page.wait_for_selector("#login-form[open]")
    assert_fits(page, "login over the hold")
    log_in(page)
    page.wait_for_selector("#hold .need-login", state="hidden")
    open_dialog(page, "#hold [data-open=release-form]", "#release-form", "release form")
    later(300)
    page.check("#retest-form input[value=axillary]")
    page.fill("#retest-form input[name=temp_c]", "38.6")
    page.click("#retest-form button[type=submit]")
    page.wait_for_selector("#hold.fever", state="visible")
    page.wait_for_function("window.gatecheckAlarm === true")
    assert page.locator("#ack-form input[name=action]:checked").count() == 0  # no default
    assert_fits(page, "confirmed fever")
    page.screenshot(path=str(tmp_path / f"kiosk-fever-{size}.png"))
    page.click("#ack-form button[type=submit]")
    page.wait_for_selector("#ack-form .error:has-text('处置措施')")
    page.check("#ack-form input[value=observation_point]")
    page.click("#ack-form button[type=submit]")
    page.wait_for_selector("#hold", state="hidden")
    page.wait_for_function("window.gatecheckAlarm === false")
    with gate.lock:
        last = gate.station.store.rows()[-1]
    assert (last["reason"], last["flags"]) == ("fever_handled", "disposition_observation_point")

    page.click("#lang")
    assert_fits(page, "idle in English", chinese=False)
    if size == "800x480":
        for name in ("idle", "hold-retest", "fever", "person-form", "taps", "visitor-form", "deny"):
            keep_screenshot(tmp_path / f"kiosk-{name}-{size}.png")
    if size == "600x1024":
        keep_screenshot(tmp_path / f"kiosk-idle-{size}.png")


def test_prompts_are_rendered_and_the_page_plays_them(
    screen: Callable[[int, int], Page], kiosk: Gate, voice: Voice, signed: Any
) -> None:
    for (lang, key), path in voice.files.items():
        with wave.open(str(path)) as clip:
            assert clip.getnframes() / clip.getframerate() > 0.3, (lang, key)  # speech, not silence
    assert voice.available() == sorted(PROMPTS)
    feed = kiosk[1]
    page = screen(800, 480)
    shown(page, feed, signed("p-voice"))
    page.wait_for_function("window.gatecheckSpoken.some((s) => s.key === 'admit' && s.played !== null)")
    spoken = page.evaluate("window.gatecheckSpoken")
    assert spoken[-1]["key"] == "admit" and spoken[-1]["lang"] == "zh-CN" and spoken[-1]["played"] is True
    assert page.request.get(page.url + "voice/zh-CN/admit.wav").headers["content-type"] == "audio/wav"
    assert page.request.get(page.url + "voice/zh-CN/nonsense.wav").status == 404


def test_unreadable_and_repeated_codes_and_a_lost_camera_are_said(
    screen: Callable[[int, int], Page], kiosk: Gate, signed: Any
) -> None:
    gate, feed, _ = kiosk
    page = screen(800, 480)
    code = signed("p-twice")
    shown(page, feed, code)
    page.click("#verdict [data-action=dismiss]")
    page.wait_for_timeout(1100)
    feed.show(render_frame(code))  # the same code again at once
    page.wait_for_selector("#notice[data-state=repeat]", state="visible")
    assert page.locator("#notice").inner_text() == "此码刚已检查"
    smudged = render_frame(signed("p-smudged"))
    height = smudged.shape[0]
    smudged[height // 2 - 30 : height // 2 + 30, :] = 255  # a band wiped out of the middle
    page.wait_for_timeout(1100)
    feed.show(smudged)
    page.wait_for_selector("#notice[data-state=unreadable]", state="visible", timeout=5000)
    assert page.locator("#notice").inner_text() == "请将二维码对准摄像头"
    gate.camera.set("error", "the video source stopped sending frames")
    page.wait_for_selector("#idle.camera-lost", timeout=5000)
    assert "摄像头无画面" in page.locator("#idle").inner_text()
    assert_fits(page, "camera lost")
