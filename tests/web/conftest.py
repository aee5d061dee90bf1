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
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import CHROMIUM, Web, seed_store

from heatreuse.store.base import AlertRecord


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    home = tmp_path_factory.mktemp("home")
    old_home = os.environ.get("HEATREUSE_HOME")
    os.environ["HEATREUSE_HOME"] = str(home)
    import pandas as pd

    from heatreuse.api.app import app_for_service
    from heatreuse.services import people
    from heatreuse.services.ledger import update_ledger
    from heatreuse.services.serve import IngestService, ServeConfig
    from heatreuse.store import open_store

    url = f"sqlite:///{home / 'web.db'}"
    site, values = seed_store(url)
    checkpoints = str(home / "checkpoints")
    update_ledger(site, url, checkpoint_dir=checkpoints, key_path=str(home / "ledger.key"))
    passwords = {"olga": "operator-pass-1", "vic": "viewer-pass-12"}
    secret = people.load_token_secret(create=True)
    with open_store(url) as store:
        people.add_user(store, "olga", passwords["olga"], "operator", site.id, by="test")
        people.add_user(store, "vic", passwords["vic"], "viewer", site.id, by="test")
        people.add_user(store, "wally", "display-pass-1", "viewer", site.id, by="test")
        display, dinfo = people.create_token(
            store, "wally", scope="display", by="test", secret=secret
        )
        read, _ = people.create_token(store, "vic", scope="read", by="test", secret=secret)
        now_us = int(pd.Timestamp.now(tz="UTC").value // 1000)
        alert_id = store.upsert_alert(
            AlertRecord(
                site_id=site.id,
                fingerprint=f"web-{uuid.uuid4().hex[:8]}",
                labels={"rule": "low_delta_t", "severity": "warning", "equipment": "hx"},
                state="firing",
                active_at_us=now_us - 600_000_000,
                started_at_us=now_us - 300_000_000,
                value=2.1,
                annotations={"summary": "HX delta-T below 3 K", "value_unit": "K"},
            )
        )
    prefix = f"hrtest-{uuid.uuid4().hex[:10]}/{site.id}"
    port = _free_port()
    svc = IngestService(
        site,
        ServeConfig(
            store_url=url,
            mqtt=("127.0.0.1", 1883),
            http=("127.0.0.1", port),
            topic_prefix=prefix,
            client_id=f"hrtest-{uuid.uuid4().hex[:8]}",
            session_expiry_s=0,
            watch=False,
            stop_timeout_s=5.0,
            checkpoint_dir=checkpoints,
            key_path=str(home / "ledger.key"),
        ),
        app_factory=lambda s: app_for_service(s),
    )
    svc.start()
    assert svc.wait_ready(15)
    try:
        yield Web(
            f"http://127.0.0.1:{port}",
            site,
            svc,
            prefix,
            values,
            display,
            dinfo["id"],
            read,
            int(alert_id),
            passwords,
        )
    finally:
        svc.stop()
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
