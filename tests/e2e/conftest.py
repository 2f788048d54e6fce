"""Real headless Chromium (Debian's) driven by Playwright against pytest-django's live server.

ORM work happens outside the ``sync_playwright()`` block; the browser is never downloaded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")


@contextmanager
def browser_page(viewport: dict[str, int] | None = None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=viewport or PHONE, locale="zh-CN")
            yield context.new_page()
        finally:
            browser.close()


def login(page: Any, url: str, username: str, then: str = "/") -> None:
    """Sign in through the login form (as a fresh visitor) and wait for the landing page."""
    from tests.factories import TEST_PASSWORD

    page.context.clear_cookies()
    page.goto(f"{url}/accounts/login/?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{then}")
    settled(page)


def settled(page: Any) -> None:
    """Wait until a navigation has finished: Turbo marks ``<html aria-busy>`` while it
    fetches and swaps, and a redirect chain passes through URLs a test may match early."""
    page.wait_for_load_state()
    page.wait_for_selector("html:not([aria-busy])", state="attached")


def fits_width(page: Any) -> bool:
    """No horizontal scrolling: the page fits the viewport's width."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def small_targets(page: Any, selector: str, least: int = 40) -> list[str]:
    """The visible elements matching ``selector`` less than ``least`` px tall: too small
    for a finger. Each is named by its tag, name or text."""
    found: list[str] = page.evaluate(
        """([selector, least]) => [...document.querySelectorAll(selector)]
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < least)
            .map(e => `${e.tagName} ${e.name || e.textContent.trim().slice(0, 20)}`
                      + ` ${Math.round(e.getBoundingClientRect().height)}px`)""",
        [selector, least],
    )
    return found


def see(page: Any, *texts: str) -> None:
    """Assert the page shows every text, waiting (up to the page's timeout) for it to render."""
    from playwright.sync_api import expect

    for text in texts:
        expect(page.locator("body")).to_contain_text(text)


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def _fresh_artifacts() -> None:
    shutil.rmtree(ARTIFACTS / "shell", ignore_errors=True)
