"""Headless Debian chromium driven by selenium through the system chromedriver, callable from the event loop.

Every call runs on a thread, so a controller and a dashboard on the test's event loop go on while
the browser waits. Waits are on conditions in the page, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

__all__ = ["Browser", "open_browser"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def open_browser(screenshots: Path) -> Browser:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromium-driver (Debian packages) are needed for the dashboard's browser tests")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(flag)
    return Browser(webdriver.Chrome(service=Service(CHROMEDRIVER), options=options), screenshots)


class Browser:
    def __init__(self, driver: WebDriver, screenshots: Path) -> None:
        self.driver = driver
        self.screenshots = screenshots
        screenshots.mkdir(parents=True, exist_ok=True)

    async def run(self, call: Callable[[WebDriver], Any]) -> Any:
        return await asyncio.to_thread(call, self.driver)

    async def get(self, url: str) -> None:
        await self.run(lambda d: d.get(url))

    async def script(self, source: str, *args: Any) -> Any:
        return await self.run(lambda d: d.execute_script(source, *args))

    async def until(self, what: str, check: Callable[[WebDriver], Any], timeout_s: float = 90.0) -> Any:
        """The first truthy answer of `check`; on timeout a screenshot is kept and the message names `what`."""
        try:
            return await self.run(lambda d: WebDriverWait(d, timeout_s, poll_frequency=0.2).until(check, message=what))
        except Exception:
            await self.shot(f"timeout-{what[:40].replace(' ', '-').replace('/', '-')}")
            raise

    async def text(self, css: str) -> str:
        return str(await self.script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css))

    async def shot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        await self.run(lambda d: d.save_screenshot(str(path)))
        return path

    def close(self) -> None:
        self.driver.quit()
