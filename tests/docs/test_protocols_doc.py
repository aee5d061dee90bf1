"""docs/protocols.md: every example goes through the real parsers (the docs cannot drift).

Fenced blocks carry their transport in the info string (```json mqtt topic=...,
```json http-request, ```csv file-long, ...); each is sent through the MQTT parser,
the HTTP endpoint, the Modbus decoder or the file reader into a real pipeline on a
SQLite store, and must come out as documented.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from heatreuse.site import Site, load_site
from heatreuse.site.points import HEAT_METER_REGISTER_MAP, PUMP_CONTROLLER_REGISTER_MAP
from heatreuse.store import open_store
from heatreuse.telemetry import Ingestor, PointRegistry
from heatreuse.telemetry.files import open_readings_file
from heatreuse.telemetry.http import create_ingest_app
from heatreuse.telemetry.modbus import decode_registers
from heatreuse.telemetry.mqtt import TopicLayout, parse_message
from heatreuse.telemetry.validate import REASONS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocols.md"
NOW = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
_FENCE = re.compile(
    r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)


def _blocks(kind: str) -> list[tuple[str, str]]:
    """(info string, body) of the fenced blocks whose second word is ``kind``."""
    out = []
    for m in _FENCE.finditer(DOC.read_text(encoding="utf-8")):
        words = m.group("info").split()
        if len(words) >= 2 and words[1] == kind:
            body = "\n".join(
                line[len(m.group("indent")) :] for line in m.group("body").splitlines()
            )
            out.append((m.group("info"), body))
    return out


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(ROOT / "examples" / "pool.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
    try:
        yield s
    finally:
        s.close()


def _ingestor(site: Site, store: Any) -> Ingestor:
    return Ingestor(site, store, clock=lambda: NOW)


def test_mqtt_examples_are_accepted(site: Site, store: Any) -> None:
    blocks = _blocks("mqtt")
    assert len(blocks) >= 3
    layout = TopicLayout(site.id)
    ingestor = _ingestor(site, store)
    total = 0
    for info, body in blocks:
        topic = info.split("topic=", 1)[1].split()[0]
        parsed = parse_message(layout, topic, body.encode())
        assert parsed.rejection is None, (topic, parsed.rejection)
        assert parsed.kind in ("point", "batch") and parsed.readings, topic
        result = ingestor.ingest(parsed.readings)
        assert result.accepted == len(parsed.readings), (topic, result.as_dict())
        total += len(parsed.readings)
    assert store.count_readings(site.id) == total


def test_http_examples_answer_as_documented(site: Site, store: Any) -> None:
    client = TestClient(create_ingest_app(site, store, _ingestor(site, store)))
    url = f"/api/v1/sites/{site.id}/readings"
    [(_, request)] = _blocks("http-request")
    [(_, response)] = _blocks("http-response")
    r = client.post(url, content=request, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(response)
    again = client.post(url, content=request, headers={"content-type": "application/json"})
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 3)  # as the doc says
    [(_, bad)] = _blocks("http-422-request")
    [(_, answer)] = _blocks("http-422-response")
    r = client.post(url, content=bad, headers={"content-type": "application/json"})
    assert r.status_code == 422
    documented = json.loads(answer)["detail"][0]
    got = r.json()["detail"][0]
    assert {k: got[k] for k in documented} == documented


def test_modbus_examples_decode_to_the_documented_values(site: Site) -> None:
    blocks = _blocks("modbus")
    assert len(blocks) >= 3
    registry = PointRegistry.from_site(site)
    points = registry.site_points
    for _, body in blocks:
        ex = json.loads(body)
        device = points.device(ex["device"])
        rows = {reg.address: (p, reg) for p, reg in points.register_map(ex["device"])}
        point, reg = rows[ex["address"]]
        assert point.id == ex["point_id"]
        raw = decode_registers(ex["registers"], reg.type, reg.word_order or device.word_order)
        assert raw * reg.scale == pytest.approx(ex["value"], rel=1e-6), ex


def test_register_tables_match_the_maps() -> None:
    rows = {
        tuple(c.strip().strip("`") for c in line.strip().strip("|").split("|"))
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ")
    }
    for pid, address, rtype, unit, scale in HEAT_METER_REGISTER_MAP:
        assert (str(address), pid, rtype, unit, f"{scale:g}") in rows, pid
    for suffix, offset, rtype, unit, scale in PUMP_CONTROLLER_REGISTER_MAP:
        assert (f"+{offset}", f"pump.<id>.{suffix}", rtype, unit, f"{scale:g}") in rows, suffix


def test_file_examples_are_accepted(site: Site, store: Any, tmp_path: Path) -> None:
    ingestor = _ingestor(site, store)
    for kind, readings in (("file-long", 3), ("file-wide", 3)):
        [(_, body)] = _blocks(kind)
        path = tmp_path / f"{kind}.csv"
        path.write_text(body + "\n", encoding="utf-8")
        accepted = 0
        for chunk in open_readings_file(path).chunks():
            result = ingestor.ingest_batch(chunk.batch)
            assert result.quarantined_total == 0, result.as_dict()
            accepted += result.accepted
        assert accepted == readings, kind


def test_every_quarantine_reason_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for reason in REASONS:
        assert f"| `{reason}` |" in text, reason
