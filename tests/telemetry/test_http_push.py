"""The HTTP push endpoint (FastAPI TestClient, real store backends)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from heatreuse.site import Site
from heatreuse.telemetry import Ingestor
from heatreuse.telemetry.http import create_ingest_app

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
URL = "/api/v1/sites/pool-potsdam/readings"
T_OK = "2026-10-01T00:00Z"


def _client(site: Site, store: Any) -> TestClient:
    return TestClient(create_ingest_app(site, store, Ingestor(site, store, clock=lambda: NOW)))


def test_push_commits_then_answers_and_is_idempotent(site: Site, store: Any) -> None:
    client = _client(site, store)
    body = {
        "readings": [
            {"point_id": "meter.heat_power_w", "ts": "2026-10-01T00:00:00Z", "value": 25_000.0},
            {"point_id": "meter.heat_energy_kwh", "ts": 1_790_812_800, "value": 18234.5},
            {"point_id": "pump.p-primary.status", "ts": "2026-10-01T00:00:00Z", "value": True},
            {"point_id": "meter.heat_power_w", "ts": "2026-10-01T00:00:10Z", "value": "hot"},
            {"point_id": "nope", "ts": "2026-10-01T00:00:10Z", "value": 1},
        ]
    }
    r = client.post(URL, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "site_id": "pool-potsdam",
        "received": 5,
        "accepted": 3,
        "duplicates": 0,
        "quarantined": {"unknown_point": 1, "wrong_type": 1},
        "quarantined_total": 2,
    }
    assert store.count_readings(site.id) == 3  # committed before the answer
    again = client.post(URL, json=body).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    wrong = store.list_quarantine(site.id, reason="wrong_type")[0]
    assert wrong.source.startswith("http:")
    assert '"hot"' in wrong.raw_payload
    counters = client.get("/api/v1/sites/pool-potsdam/ingest/counters").json()
    assert (counters["received"], counters["accepted"], counters["duplicates"]) == (10, 3, 3)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'outcome="duplicate",reason=""} 3' in metrics.text


def test_malformed_requests_are_4xx_and_store_nothing(site: Site, sqlite_store: Any) -> None:
    client = _client(site, sqlite_store)
    bad_json = client.post(URL, content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 422
    assert "json" in bad_json.text.lower()
    no_list = client.post(URL, json={"reading": []})
    assert no_list.status_code == 422
    assert "readings" in no_list.text
    missing = client.post(
        URL,
        json={
            "readings": [
                {"point_id": "meter.heat_power_w", "ts": "2026-10-01T00:00:00Z", "value": 1.0},
                {"point_id": "meter.heat_power_w", "value": 1.0},
            ]
        },
    )
    assert missing.status_code == 422
    loc = missing.json()["detail"][0]["loc"]
    assert loc == ["body", "readings", 1, "ts"]
    not_object = client.post(URL, json={"readings": [42]})
    assert not_object.status_code == 422
    wrong_site = client.post(
        "/api/v1/sites/other-site/readings",
        json={"readings": []},
    )
    assert wrong_site.status_code == 404
    assert "serves site 'pool-potsdam'" in wrong_site.json()["detail"]
    assert sqlite_store.count_readings(site.id) == 0
    assert sqlite_store.list_quarantine(site.id) == []


def test_store_failure_is_503(site: Site, tmp_path: Any) -> None:
    from heatreuse.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'gone.db'}", create=True)
    client = _client(site, store)
    store.close()
    r = client.post(
        URL,
        json={
            "readings": [{"point_id": "loop.pressure_bar", "ts": "2026-10-01T00:00Z", "value": 3}]
        },
    )
    assert r.status_code == 503
    assert "store unavailable" in r.json()["detail"]
