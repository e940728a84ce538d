"""A real browser on a real server, for the browser test and the frame-rate benchmark:
uvicorn serving the playground on a free port in a thread, and Debian's headless
Chromium driven by Selenium through chromedriver (no network needed, none used)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Without these, Chromium on a machine with no network stalls (it tries to reach
#: Google's services), and as root it refuses to start without --no-sandbox.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
INSTALL = "run tools/install_test_system_packages.sh (make test does), which installs " \
    "Debian's chromium and chromium-driver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server():
    """The playground on http://127.0.0.1:PORT/, in a thread; yields the URL."""
    import uvicorn

    from chainrule.playground.server import LOOPBACK_HOSTS, create_app

    port = free_port()
    config = uvicorn.Config(create_app(allowed_hosts=LOOPBACK_HOSTS), host="127.0.0.1",
                            port=port, log_level="warning", ws="auto")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the playground server did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium(profile: Path, downloads: Path, size=(1400, 1500)):
    """Headless Chromium with a fresh profile, saving downloads to ``downloads``."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            raise RuntimeError(f"{path} is missing: {INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()
