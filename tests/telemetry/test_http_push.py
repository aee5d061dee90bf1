"""The HTTP push endpoint (FastAPI TestClient, real store backends)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from heatreuse.rawtext import MAX_RAW_PAYLOAD_BYTES, parse_capped
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


def test_malformed_requests_are_4xx_store_no_reading_and_keep_the_refused_body(
    site: Site, sqlite_store: Any
) -> None:
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
    # each 422 leaves one quarantine row with the body as sent (the 404 is not this site's)
    kept = sqlite_store.list_quarantine(site.id)
    assert len(kept) == 4
    assert {q.reason for q in kept} == {"unparseable"}
    assert all(q.source == "http:testclient" and q.detail.startswith("HTTP 422") for q in kept)
    assert kept[-1].raw_payload == "{not json"
    assert "readings.1.ts" in kept[1].detail


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


# --------------------------------------------------------------------------- hostile input
def _post_raw(client: TestClient, body: bytes) -> Any:
    return client.post(URL, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "item,field,expect",
    [
        (b'{"point_id": "meter.heat_power_w", "ts": "\\ud800", "value": 1}', "ts", "U+D800"),
        (b'{"point_id": "\\ud800", "ts": "2026-10-01T00:00Z", "value": 1}', "point_id", ""),
        (
            b'{"point_id": "meter.heat_power_w", "ts": "2026-10-01T00:00Z\\u0000", "value": 1}',
            "ts",
            "U+0000",
        ),
        (b'{"point_id": "meter\\u001b[2J", "ts": "2026-10-01T00:00Z", "value": 1}', "point_id", ""),
        (b'{"point_id": "meter.heat_power_w", "ts": 1, "value": "a\\u0000"}', "value", "U+0000"),
    ],
)
def test_hostile_text_is_422_naming_the_field_and_the_body_is_kept(
    site: Site, store: Any, item: bytes, field: str, expect: str
) -> None:
    client = _client(site, store)
    good = b'{"point_id": "meter.heat_power_w", "ts": "2026-10-01T00:00Z", "value": 1}'
    r = _post_raw(client, b'{"readings": [' + good + b", " + item + b"]}")
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "readings", 1, field]
    assert expect in err["msg"]
    assert store.count_readings(site.id) == 0  # refused whole: not even the good item
    (kept,) = store.list_quarantine(site.id)
    assert kept.reason == "unparseable" and kept.detail.startswith("HTTP 422")
    assert f"readings.1.{field}" in kept.detail
    assert "meter.heat_power_w" in str(kept.raw_payload)


def test_hostile_extra_keys_do_not_break_the_answer(site: Site, sqlite_store: Any) -> None:
    client = _client(site, sqlite_store)
    item = b'{"point_id": "a", "ts": 1, "value": 1, '
    r = _post_raw(client, b'{"readings": [' + item + b'"\\ud800": 1}]}')
    assert r.status_code == 422  # pydantic refuses the key itself
    assert r.json()["detail"][0]["loc"] == ["body", "readings", 0]
    key = b"\\u0000" + b"k" * 500
    r = _post_raw(client, b'{"readings": [' + item + b'"' + key + b'": 1}]}')
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "readings", 0]  # "unknown field ...", the key escaped
    assert "unknown field '\\x00kkk" in err["msg"]
    assert len(err["msg"]) < 300  # escaped and bounded, never echoed whole


def test_10_mb_point_id_is_422_and_kept_capped(site: Site, store: Any) -> None:
    app = create_ingest_app(
        site, store, Ingestor(site, store, clock=lambda: NOW), max_body_bytes=16 * 1024 * 1024
    )
    client = TestClient(app)
    body = json.dumps(
        {"readings": [{"point_id": "p" * 10_000_000, "ts": T_OK, "value": 1.0}]}
    ).encode()
    r = _post_raw(client, body)
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "readings", 0, "point_id"]
    assert "10,000,000 characters" in err["msg"] and len(r.content) < 2000
    (kept,) = store.list_quarantine(site.id)
    assert len(str(kept.raw_payload)) < MAX_RAW_PAYLOAD_BYTES + 200
    capped = parse_capped(str(kept.raw_payload))
    assert capped is not None and capped.size_bytes == len(body) and capped.truncated


def test_body_over_the_limit_is_413_and_nothing_kept(site: Site, sqlite_store: Any) -> None:
    app = create_ingest_app(
        site, sqlite_store, Ingestor(site, sqlite_store, clock=lambda: NOW), max_body_bytes=1000
    )
    client = TestClient(app)
    body = json.dumps(
        {"readings": [{"point_id": "meter.heat_power_w", "ts": T_OK, "value": 1.0}] * 40}
    ).encode()
    assert len(body) > 1000
    r = _post_raw(client, body)
    assert r.status_code == 413
    assert sqlite_store.list_quarantine(site.id) == []
    assert client.get("/api/v1/sites/pool-potsdam/ingest/counters").json()["received"] == 0
    small = _post_raw(client, json.dumps({"readings": []}).encode())
    assert small.status_code == 200


def test_openapi_describes_the_push_body(site: Site, sqlite_store: Any) -> None:
    r = _client(site, sqlite_store).get("/openapi.json")
    assert r.status_code == 200
    post = r.json()["paths"]["/api/v1/sites/{site_id}/readings"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["readings"]["items"]["required"] == ["point_id", "ts", "value"]
    assert {"413", "422"} <= set(post["responses"])


def test_unknown_field_names_the_expected_one(site: Site, sqlite_store: Any) -> None:
    client = _client(site, sqlite_store)
    r = client.post(
        URL,
        json={"readings": [{"point": "meter.heat_power_w", "ts": T_OK, "value": 1.0}]},
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["body", "readings", 0]
    assert "unknown field 'point' (did you mean 'point_id'?)" in detail[0]["msg"]
    assert "point_id, ts, value" in detail[0]["msg"]
    extra = client.post(
        URL,
        json={
            "readings": [{"point_id": "meter.heat_power_w", "ts": T_OK, "value": 1.0, "unit": "W"}]
        },
    )
    assert extra.status_code == 422 and "unknown field 'unit'" in extra.text
    assert sqlite_store.count_readings(site.id) == 0


def test_push_is_answered_while_the_shared_worker_threads_are_all_busy(
    site: Site, store: Any
) -> None:
    """Readers of an API holding every thread of the server's shared pool do not stall
    the readings push: its token check, parsing and store write run in a lane of their own
    (:func:`heatreuse.threads.run_in_lane`). With the shared pool (one thread, held), the
    push would wait until the reader let go."""
    import asyncio
    import threading

    import anyio.to_thread
    import httpx

    calls: list[str] = []

    def verify(site_id: str, token: str) -> Any:
        calls.append(token)
        return object() if token == "dev-token" else None

    app = create_ingest_app(
        site, store, Ingestor(site, store, clock=lambda: NOW), verify_device_token=verify
    )
    body = {"readings": [{"point_id": "meter.heat_power_w", "ts": T_OK, "value": 25_000.0}]}
    release = threading.Event()

    async def scenario() -> tuple[int, Any]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        reader = asyncio.create_task(anyio.to_thread.run_sync(release.wait, 60))
        await asyncio.sleep(0.05)  # the reader holds the only shared thread
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                r = await asyncio.wait_for(
                    client.post(URL, json=body, headers={"Authorization": "Bearer dev-token"}),
                    timeout=30,
                )
            return r.status_code, r.json()
        finally:
            release.set()
            await reader

    code, answer = asyncio.run(scenario())
    assert code == 200, answer
    assert answer["accepted"] == 1
    assert calls == ["dev-token"]
    assert store.count_readings(site.id) == 1


_FAST_BODIES: list[Any] = [
    {"readings": []},
    {"readings": [{"point_id": "meter.heat_power_w", "ts": T_OK, "value": 25_000.0}]},
    {"readings": [{"ts": 1_790_812_800, "value": True, "point_id": "pump.p-primary.status"}]},
    {"readings": [{"point_id": "meter.heat_power_w", "ts": None, "value": None}]},
    {"readings": [{"point_id": "meter.heat_power_w", "ts": [1], "value": 3}]},
    # each of these the model refuses or must judge itself: the fast path must not take them
    {"readings": [{"point_id": "meter.heat_power_w", "ts": T_OK, "value": "hot"}]},
    {"readings": [{"point_id": "meter.heat_power_w", "ts": T_OK, "value": "x\x00"}]},
    {"readings": [{"point_id": "meter.heat_power_w", "ts": T_OK, "value": [1] * 100}]},
    {"readings": [{"point_id": "", "ts": T_OK, "value": 1}]},
    {"readings": [{"point_id": "p" * 257, "ts": T_OK, "value": 1}]},
    {"readings": [{"point_id": "meter\x00.heat", "ts": T_OK, "value": 1}]},
    {"readings": [{"point_id": "meter.\ud800", "ts": T_OK, "value": 1}]},
    {"readings": [{"point_id": "meter.heat_power_w", "ts": T_OK + "\x7f", "value": 1}]},
    {"readings": [{"point_id": "meter.heat_power_w", "ts": "9" * 65, "value": 1}]},
    {"readings": [{"point_id": 7, "ts": T_OK, "value": 1}]},
    {"readings": [{"point": "meter.heat_power_w", "ts": T_OK, "value": 1}]},
    {"readings": [{"point_id": "meter.heat_power_w", "ts": T_OK}]},
    {"readings": [{"point_id": "m", "ts": T_OK, "value": 1, "unit": "W"}]},
    {"readings": [["meter.heat_power_w", T_OK, 1]]},
    {"readings": {"point_id": "meter.heat_power_w"}},
    {"readings": [], "site": "x"},
    [],
    "readings",
]


@pytest.mark.parametrize("doc", _FAST_BODIES, ids=range(len(_FAST_BODIES)))
def test_the_fast_parse_answers_as_the_model_does(doc: Any) -> None:
    """parse_readings skips the per-reading model only for bodies the model accepts as
    they are: the same readings, or the same refusal (loc and msg), for every body."""
    from heatreuse.telemetry.http import _plain_items, _Refused, parse_readings, parse_readings_body

    body = json.dumps(doc).encode()
    try:
        model = [(i.point_id, i.ts, i.value) for i in parse_readings_body(body).readings]
    except _Refused as refused:
        with pytest.raises(_Refused) as fast:
            parse_readings(body)
        assert fast.value.errors == refused.errors
        assert _plain_items(json.loads(body)) is None
        return
    assert parse_readings(body) == model
    plain = _plain_items(json.loads(body))
    # the plain path is taken exactly when no field needs the model's judgement
    texts = [r for r in doc["readings"] if isinstance(r["value"], str | list | dict)]
    assert (plain is None) == bool(texts)
