"""Fixtures for the site tests: a build of the repository's own data, a local HTTP server on
127.0.0.1 (ephemeral port) serving it, and headless Debian chromium driven by Selenium.

Without chromium + chromium-driver the browser tests skip, naming the install command.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from bridge.site.build import build_site

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "_artifacts" / "microsite"
INSTALL_HINT = "apt-get update && apt-get install -y chromium chromium-driver"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
DRIVER_NAMES = ("chromedriver", "chromium-driver")
#: Seconds the client waits for one WebDriver command (selenium's default, 120 s, is too short on a
#: loaded 2-core machine; a hang still fails).
COMMAND_TIMEOUT = 600


def _which(names) -> str | None:
    for n in names:
        path = shutil.which(n)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The repository's site, built from its committed data into a temporary directory."""
    out = tmp_path_factory.mktemp("site") / "_build"
    build_site(REPO, out)
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="session")
def site_url(built_site):
    """http://127.0.0.1:PORT/ serving the built site; stopped when the session ends."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Headless chromium with console and network (performance) logs on."""
    chromium, driver_path = _which(CHROMIUM_NAMES), _which(DRIVER_NAMES)
    if chromium is None or driver_path is None:
        pytest.skip(f"chromium and chromium-driver are needed for the browser tests: {INSTALL_HINT}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
    from selenium.webdriver.remote.client_config import ClientConfig

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--hide-scrollbars", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-extensions", "--lang=en-US",
                "--disable-features=OptimizationHints,OnDeviceModelService,Translate,MediaRouter"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=driver_path)
    service.start()
    try:
        conn = ChromiumRemoteConnection(
            service.service_url, vendor_prefix="goog", browser_name="chrome",
            client_config=ClientConfig(remote_server_addr=service.service_url, keep_alive=True, timeout=COMMAND_TIMEOUT))
        drv = webdriver.Remote(command_executor=conn, options=opts)
        try:
            drv.set_page_load_timeout(COMMAND_TIMEOUT)
            yield drv
        finally:
            drv.quit()
    finally:
        service.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
