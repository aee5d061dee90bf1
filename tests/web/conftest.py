"""A running ``heatreuse serve`` (MQTT + HTTP, the whole API and web UI) and a real browser.

The serve process is an :class:`~heatreuse.services.serve.IngestService` with the API's app
factory, on a free loopback port, subscribed to Mosquitto at 127.0.0.1:1883 under a unique
topic prefix, over a SQLite store seeded with 36 h of the pool twin's readings ending now.
The browser is Debian's ``chromium`` driven by Playwright (``./run test`` installs it with
apt when missing; never a browser download). Screenshots go to ``artifacts/web/`` at the
repository root (``$HEATREUSE_WEB_ARTIFACTS`` overrides; ignored by git).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import CHROMIUM, Web, start_web


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    home = tmp_path_factory.mktemp("home")
    old_home = os.environ.get("HEATREUSE_HOME")
    os.environ["HEATREUSE_HOME"] = str(home)
    w = start_web(home)
    try:
        yield w
    finally:
        w.service.stop()
        if old_home is None:
            os.environ.pop("HEATREUSE_HOME", None)
        else:
            os.environ["HEATREUSE_HOME"] = old_home


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} missing: ./run test installs Debian's chromium (apt-get install chromium)"
    )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
