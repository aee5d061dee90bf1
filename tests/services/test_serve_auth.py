"""serve's HTTP push route needs a device token of the site; the edge sends its token.

Both backends; the token secret under a per-test ``$HEATREUSE_HOME``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from heatreuse.errors import HeatreuseError, UpstreamAuthError
from heatreuse.services import people
from heatreuse.services.edge import read_upstream_token
from heatreuse.services.serve import IngestService, ServeConfig
from heatreuse.site import Site, load_site
from heatreuse.store import Store, open_store
from heatreuse.telemetry.edge import EdgeBuffer, Forwarder, HttpTransport
from heatreuse.telemetry.validate import RawReading

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
TS = "2026-03-01T07:59:00Z"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def store(backend_url: str) -> Iterator[Store]:
    s = open_store(backend_url, create=True)
    try:
        yield s
    finally:
        s.close()


def _service(site: Site, store: Store, **kw: Any) -> IngestService:
    svc = IngestService(site, ServeConfig(http=None, **kw), store=store, clock=lambda: T0)
    svc.start()
    return svc


def _body(value: float = 2.1) -> dict[str, Any]:
    return {"readings": [{"point_id": "loop.pressure_bar", "ts": TS, "value": value}]}


def test_readings_need_a_device_token_of_the_site(site: Site, store: Store, home: Path) -> None:
    secret = people.load_token_secret(create=True)
    token, _ = people.add_device(store, site.id, "edge-1", by="root", secret=secret, now=T0)
    other, _ = people.add_device(store, "greenhouse", "edge-9", by="root", secret=secret, now=T0)
    people.add_user(
        store,
        "ana",
        "long enough pw",
        "operator",
        site.id,
        by="root",
        hasher=people.cheap_hasher(),
        now=T0,
    )
    user_tok, _ = people.create_token(store, "ana", scope="write", by="root", secret=secret)
    svc = _service(site, store)
    try:
        client = TestClient(svc.app)
        url = f"/api/v1/sites/{site.id}/readings"
        for headers in (
            {},
            {"Authorization": "Bearer hrt_000000000000_" + "x" * 43},
            {"Authorization": f"Basic {token}"},
            {"Authorization": f"Bearer {other}"},  # another site's device
            {"Authorization": f"Bearer {user_tok}"},  # a person's token, not a device
        ):
            r = client.post(url, json=_body(), headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"] == "Bearer"
            assert "heatreuse devices add" in r.json()["detail"]
        assert store.count_readings(site.id, "loop.pressure_bar") == 0
        ok = client.post(url, json=_body(), headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.json()["accepted"] == 1
        assert store.count_readings(site.id, "loop.pressure_bar") == 1
        rec = people.rows.get_token(store, token[4:16])
        assert rec is not None and rec.last_used_us is not None
    finally:
        svc.stop()


def test_anonymous_ingest_only_when_asked_and_on_loopback(
    site: Site, store: Store, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        svc = _service(site, store, allow_anonymous_ingest=True)
        try:
            r = TestClient(svc.app).post(f"/api/v1/sites/{site.id}/readings", json=_body())
            assert r.status_code == 200
        finally:
            svc.stop()
    assert "ANONYMOUS INGEST" in caplog.text
    svc = IngestService(
        site, ServeConfig(http=("0.0.0.0", 8080), allow_anonymous_ingest=True), store=store
    )
    with pytest.raises(HeatreuseError, match="loopback labs only"):
        svc._device_check()
    # no secret file yet: nothing was created by serve, every token is refused
    plain = IngestService(site, ServeConfig(http=None), store=store)
    check = plain._device_check()
    assert check is not None and check(site.id, "hrt_000000000000_" + "x" * 43) is None
    assert not (home / "keys").exists()


def _forwarder(tmp_path: Path, app: Any, token: str | None) -> tuple[Forwarder, EdgeBuffer]:
    buf = EdgeBuffer(tmp_path / "edge.db")
    buf.ingest([RawReading("loop.pressure_bar", TS, 2.0, "test")])
    transport = HttpTransport("http://testserver/api/v1/sites/pool-potsdam/readings", token=token)
    transport._client = TestClient(app)  # the serve app in-process, same httpx API
    sleeps: list[float] = []

    def sleep(s: float, stop: threading.Event) -> None:
        sleeps.append(s)
        if len(sleeps) > 3:
            stop.set()

    return Forwarder(buf, transport, sleep=sleep), buf


def test_edge_forwards_with_its_token_and_stops_on_401(
    site: Site, store: Store, home: Path, tmp_path: Path
) -> None:
    secret = people.load_token_secret(create=True)
    token, _ = people.add_device(store, site.id, "edge-1", by="root", secret=secret, now=T0)
    svc = _service(site, store)
    try:
        fwd, buf = _forwarder(tmp_path / "a", svc.app, token)
        assert fwd.send_one() == 1
        assert buf.pending() == 0
        assert store.count_readings(site.id, "loop.pressure_bar") == 1
        buf.close()
        # a wrong token: run() returns at once with the error, no retry loop, buffer kept
        fwd, buf = _forwarder(tmp_path / "b", svc.app, "hrt_000000000000_" + "y" * 43)
        fwd.run()
        assert isinstance(fwd.fatal_error, UpstreamAuthError)
        assert "HTTP 401" in str(fwd.fatal_error) and "--upstream-token-file" in str(
            fwd.fatal_error
        )
        assert fwd.stats.failures == 1 and buf.pending() == 1
        buf.close()
    finally:
        svc.stop()


def test_upstream_token_from_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEATREUSE_UPSTREAM_TOKEN", raising=False)
    assert read_upstream_token(None) is None
    monkeypatch.setenv("HEATREUSE_UPSTREAM_TOKEN", "hrt_env")
    assert read_upstream_token(None) == "hrt_env"
    f = tmp_path / "tok"
    f.write_text("hrt_file\n")
    assert read_upstream_token(f) == "hrt_file"
    f.write_text("")
    with pytest.raises(HeatreuseError, match="empty file"):
        read_upstream_token(f)
