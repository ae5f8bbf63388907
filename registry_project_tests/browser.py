"""Headless Chromium (Debian's chromium + chromedriver) driven by Selenium, for UI tests."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# Flags from the machine notes: without the background-networking ones Chromium keeps
# trying to reach Google's hosts, which this closed network refuses.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
)


def _executable(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(
        f"none of {names} is installed; .ci/run installs Debian's chromium and chromium-driver"
    )


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = _executable("chromium", "chromium-browser")
    with tempfile.TemporaryDirectory() as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(_executable("chromedriver")), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def wait_for_text(driver: Any, expect: Sequence[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    source = ""
    while time.monotonic() < deadline:
        source = driver.page_source
        if all(text in source for text in expect):
            return source
        time.sleep(0.5)
    raise AssertionError(f"page never showed {list(expect)}; last source:\n{source[-2000:]}")


def render_page(url: str, screenshot: Path, expect: Sequence[str], timeout: float = 60) -> str:
    """Open `url`, wait until every `expect` text is in the DOM, screenshot, return the DOM."""
    with chromium() as driver:
        driver.get(url)
        source = wait_for_text(driver, expect, timeout)
        time.sleep(1.5)  # let the graph finish its layout animation before the picture
        driver.save_screenshot(str(screenshot))
        return source
