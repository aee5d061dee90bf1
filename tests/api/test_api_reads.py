"""Reads over the API: readings (raw pages with cursors, NDJSON, rollups), the ledger
(entries and an inclusion proof checked against the signed checkpoint), SLA, KPIs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
from api_harness import Api

from heatreuse.ledger.checkpoint import parse_checkpoint_text, parse_note
from heatreuse.ledger.merkle import leaf_hash, verify_inclusion
from heatreuse.telemetry.validate import RawReading

T = pd.Timestamp("2026-03-10T08:00:00Z")
POINTS = ("loop.pressure_bar", "hx.secondary_supply_temp_c")


def _fill(api: Api, minutes: int = 30) -> int:
    """Readings every 10 s of two points from 08:00 (the ingestor writes rollups)."""
    assert api.ctx.ingestor is not None
    rows = []
    for i in range(minutes * 6):
        ts = (T + pd.Timedelta(seconds=10 * i)).isoformat()
        rows.append(RawReading(POINTS[0], ts, 2.0 + (i % 6) / 10, "test"))
        rows.append(RawReading(POINTS[1], ts, 40.0, "test"))
    result = api.ctx.ingestor.ingest(rows)
    assert result.accepted == len(rows)
    return len(rows)


def _url(api: Api) -> str:
    return f"/api/v1/sites/{api.site_a.id}/readings"


def _base() -> dict[str, object]:
    return {"point": list(POINTS), "start": "2026-03-10T08:00Z", "end": "2026-03-10T09:00Z"}


def test_raw_pages_cover_the_range_once(api: Api) -> None:
    total = _fill(api)
    c = api.client()
    h = api.bearer("viewer")
    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        params = {**_base(), "limit": 47, **({"cursor": cursor} if cursor else {})}
        r = c.get(_url(api), params=params, headers=h)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert len(doc["rows"]) <= 47
        seen += [(row["ts"], row["point_id"]) for row in doc["rows"]]
        pages += 1
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == total == len(set(seen)) and pages >= total // 47
    assert seen == sorted(seen)
    # a page never splits one instant: both points of a time come on the same page
    ndjson = c.get(_url(api), params={**_base(), "format": "ndjson"}, headers=h)
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in ndjson.text.splitlines()]
    assert [(x["ts"], x["point_id"]) for x in lines] == seen
    assert {x["value"] for x in lines if x["point_id"] == POINTS[1]} == {40.0}


def test_rollups_by_resolution(api: Api) -> None:
    _fill(api)
    c = api.client()
    h = api.bearer("viewer")
    r = c.get(_url(api), params={**_base(), "point": POINTS[0], "resolution": "1min"}, headers=h)
    rows = r.json()["rows"]
    assert len(rows) == 30 and all(x["count"] == 6 for x in rows)
    assert rows[0]["min"] == 2.0 and rows[0]["max"] == 2.5
    assert abs(rows[0]["mean"] - 2.25) < 1e-9
    r = c.get(_url(api), params={**_base(), "point": POINTS[0], "resolution": "15min"}, headers=h)
    assert [x["count"] for x in r.json()["rows"]] == [90, 90]
    r = c.get(_url(api), params={**_base(), "point": POINTS[0], "resolution": "1h"}, headers=h)
    assert [x["count"] for x in r.json()["rows"]] == [180]
    r = c.get(_url(api), params={**_base(), "resolution": "5min"}, headers=h)
    assert r.status_code == 422


def test_ledger_entries_and_a_proof_against_the_checkpoint(api: Api) -> None:
    from heatreuse.services.ledger import update_ledger

    _fill(api, minutes=120)
    update_ledger(
        api.site_a,
        api.store.url,
        store=api.store,
        now=dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC),
    )
    c = api.client()
    h = api.bearer("auditor")
    s = f"/api/v1/sites/{api.site_a.id}/ledger"
    entries = c.get(s + "/entries", params={"limit": 2}, headers=h).json()
    assert entries["size"] >= 2 and [e["index"] for e in entries["items"]] == [0, 1]
    assert entries["next_cursor"] == "2" or entries["size"] == 2
    cps = c.get(s + "/checkpoints", headers=h).json()
    assert cps and cps[-1]["size"] == entries["size"]
    index = entries["size"] - 1
    proof = c.get(s + f"/entries/{index}/proof", headers=h).json()
    # checked with the checkpoint's own root, not the one the API reports
    cp = parse_checkpoint_text(parse_note(proof["checkpoint"])[0])
    assert cp.size == proof["tree_size"]
    path = [bytes.fromhex(x) for x in proof["audit_path_hex"]]
    leaf = bytes.fromhex(proof["leaf_hash_hex"])
    assert verify_inclusion(index, cp.size, leaf, cp.root_hash, path)
    assert not verify_inclusion(index, cp.size, leaf_hash(b"forged"), cp.root_hash, path)
    assert c.get(s + f"/entries/{entries['size']}/proof", headers=h).status_code == 404


def test_sla_status_and_kpis(api: Api) -> None:
    _fill(api)
    c = api.client()
    h = api.bearer("sustainability")
    s = f"/api/v1/sites/{api.site_a.id}"
    doc = c.get(s + "/sla", headers=h).json()
    assert doc["period"] == "2026-03" and doc["reports"][0]["site_id"] == api.site_a.id
    r = c.get(s + "/sla/periods/2026-02", headers=h)
    assert r.status_code == 200 and r.json()["period"] == "2026-02"
    assert c.get(s + "/sla/periods/2026-13", headers=h).status_code == 422
    r = c.get(s + "/kpis", headers=h)
    assert r.status_code == 409 and "ledger update" in r.json()["detail"]  # empty ledger


def test_dense_readings_page_builds_only_its_rows(api: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Data 1,000 times denser than the points' declared interval (10 ms apart), and
    after a 40-minute gap a second burst: pages stay right, and a page of ``limit`` rows
    builds at most ``limit + 1`` rows (not the whole range read at the declared rate)."""
    import numpy as np

    from heatreuse.api.routes import readings as route

    t0 = int(T.value // 1000)
    burst = t0 + np.arange(6_000, dtype=np.int64) * 10_000  # 60 s at 100 readings/s
    later = burst + 40 * 60 * 1_000_000
    ts = np.concatenate([burst, later])
    for k, p in enumerate(POINTS):
        api.store.write_readings(api.site_a.id, p, ts, np.full(ts.size, float(k)))
    built: list[int] = []
    real = route._iso_us

    def counting(us):  # type: ignore[no-untyped-def]
        built.append(int(us.size))
        return real(us)

    monkeypatch.setattr(route, "_iso_us", counting)
    c = api.client()
    h = api.bearer("viewer")
    r = c.get(_url(api), params={**_base(), "limit": 500}, headers=h)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert sum(built) <= 501
    assert len(doc["rows"]) == 500
    got = [(row["ts"], row["point_id"]) for row in doc["rows"]]
    want = [
        (pd.Timestamp(int(u) * 1000, tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ"), p)
        for u in burst[:250]
        for p in sorted(POINTS)
    ]
    assert [(t.replace(".000000Z", "Z"), p) for t, p in want] == got
    assert doc["next_cursor"] == str(int(burst[250]))
    # the page starting near the end of the first burst reaches over the gap
    built.clear()
    r = c.get(
        _url(api), params={**_base(), "limit": 400, "cursor": str(int(burst[-100]))}, headers=h
    )
    doc = r.json()
    assert sum(built) <= 401
    stamps = list(dict.fromkeys(row["ts"] for row in doc["rows"]))  # in row order
    assert len(doc["rows"]) == 400 and len(stamps) == 200
    assert stamps[99] == "2026-03-10T08:00:59.990000Z"
    assert stamps[100] == "2026-03-10T08:40:00Z"
    assert doc["next_cursor"] == str(int(later[100]))
    # NDJSON streams the whole range (every row once, in order)
    lines = c.get(_url(api), params={**_base(), "format": "ndjson"}, headers=h).text.splitlines()
    assert len(lines) == 2 * ts.size


def test_sla_answers_are_cached_bytes_and_the_locks_stay_bounded(api: Api) -> None:
    import inspect

    _fill(api)
    c = api.client()
    h = api.bearer("viewer")
    s = f"/api/v1/sites/{api.site_a.id}"
    first, again = c.get(s + "/sla", headers=h), c.get(s + "/sla", headers=h)
    assert first.status_code == again.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert first.content == again.content and first.json()["period"] == "2026-03"
    endpoint = next(r.endpoint for r in _all_routes(api.app.routes) if r.name == "sla_status")
    locks = inspect.getclosurevars(inspect.getclosurevars(endpoint).nonlocals["sla"]).nonlocals[
        "locks"
    ]
    # periods come from the URL: 90 distinct ones (month 13: refused by the SLA, 422)
    for day in range(10, 100):
        r = c.get(s + f"/sla/periods/2026-13-{day}", headers=h)
        assert r.status_code == 422, r.text
    assert 1 <= len(locks) <= 64


def _all_routes(routes: list[Any]) -> list[Any]:
    """The API routes, through included routers too."""
    out = []
    for r in routes:
        inner = getattr(r, "original_router", None) or getattr(r, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            out += _all_routes(inner.routes)
        elif hasattr(r, "endpoint") and hasattr(r, "name"):
            out.append(r)
    return out
