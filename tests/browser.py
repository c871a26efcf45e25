"""Headless Chromium from Debian, driven by Playwright — never a downloaded browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[1] / "docs"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]  # fmt: skip


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise RuntimeError("Debian chromium is missing; make test installs it")
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    # Playwright's launch() gives every browser a fresh temporary profile (user data dir).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield browser
        browser.close()


def keep_screenshot(path: Path) -> None:
    """Refresh the picture in docs/ when asked (GATECHECK_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("GATECHECK_UPDATE_SCREENSHOTS"):
        shutil.copy(path, DOCS / path.name)


def log_in_page(page: Page, hub_url: str, username: str, password: str) -> None:
    """Log in through the hub's login form, as a person does."""
    page.goto(f"{hub_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
