"""A real browser for the web client and dashboard tests: Debian's chromium, headless,
driven through chromedriver by selenium (``make test`` installs both when missing).

``browser`` yields a fresh Chrome session per test and quits it after; ``screenshot``
writes a PNG under ``build/screenshots/`` (the README's pictures are copies of these).
Without chromium or chromedriver the tests are skipped with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def _programs() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture
def browser() -> Iterator[object]:
    programs = _programs()
    if programs is None:
        pytest.skip(
            "chromium and chromium-driver are not installed (scripts/install-test-programs)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = programs
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # we run as root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,800",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: object) -> Callable[[str], Path]:
    """``screenshot("web-client")`` saves what the browser shows as
    ``build/screenshots/web-client.png`` and returns the path."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        browser.save_screenshot(str(path))  # type: ignore[attr-defined]
        return path

    return take
