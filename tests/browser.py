"""Headless Chromium for the tests that open segtool's HTML (gallery, report): where it is,
and one way to start it. Without it (not Debian, not root: `make test` tries to install it)
those tests skip and say why."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium not installed (Debian: apt-get install chromium chromium-driver; `make test` tries)",
)


def start_chromium() -> Any:
    """A headless Chromium driver that keeps the console log (tests assert it has no error);
    the test skips when selenium is missing or the browser will not start. Quit it after."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    except Exception as exc:
        pytest.skip(f"headless Chromium would not start: {str(exc).splitlines()[0]}")


def console_errors(driver: Any) -> list[Any]:
    """The page's console errors so far."""
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
