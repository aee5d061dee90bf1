"""Reads over the API: readings (raw pages with cursors, NDJSON, rollups), the ledger
(entries and an inclusion proof checked against the signed checkpoint), SLA, KPIs."""

from __future__ import annotations

import datetime as dt
import json

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
