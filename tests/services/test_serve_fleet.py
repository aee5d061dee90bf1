"""A central ``heatreuse serve`` of three sites on loopback (issue 15).

One store, one HTTP listener: each site's edge forwards with its own device token and
its readings land under its own site id; a device of site A cannot push to site B; the
fleet views of the API list only the sites the principal holds a role on.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from heatreuse.api.app import app_for_service
from heatreuse.errors import HeatreuseError, UpstreamAuthError
from heatreuse.services import people
from heatreuse.services.serve import IngestService, ServeConfig
from heatreuse.site import Site, load_site
from heatreuse.store import Store, open_store
from heatreuse.telemetry.edge import EdgeBuffer, Forwarder, HttpTransport, readings_url
from heatreuse.telemetry.validate import RawReading

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: one measured point per site (its first rack's inlet temperature, -10..120 degC)
POINTS = {
    "pool-potsdam": "rack.tank-a.inlet_temp_c",
    "greenhouse-niederrhein": "rack.rack.inlet_temp_c",
    "dh-hamburg": "rack.row-a.inlet_temp_c",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sites() -> list[Site]:
    return [load_site(EXAMPLES / f"{n}.yaml") for n in ("pool", "greenhouse", "district_preheat")]


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


@pytest.fixture
def central(sites: list[Site], store: Store, home: Path) -> Iterator[tuple[IngestService, str]]:
    people.load_token_secret(create=True)
    port = _free_port()
    svc = IngestService(
        sites[0],
        ServeConfig(http=("127.0.0.1", port), stop_timeout_s=5.0),
        store=store,
        app_factory=app_for_service,
        more_sites=sites[1:],
    )
    svc.start()
    try:
        yield svc, f"http://127.0.0.1:{port}"
    finally:
        svc.stop()


def _reading(site: Site, value: float = 30.0) -> RawReading:
    ts = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    return RawReading(POINTS[site.id], ts.isoformat().replace("+00:00", "Z"), value, "test")


def test_each_edge_lands_under_its_own_site_and_a_token_of_a_cannot_push_to_b(
    sites: list[Site],
    store: Store,
    central: tuple[IngestService, str],
    tmp_path: Path,
) -> None:
    svc, upstream = central
    assert sorted(svc.ingestors) == sorted(POINTS)
    secret = people.load_token_secret()
    tokens = {
        s.id: people.add_device(store, s.id, f"edge-{s.id}", by="root", secret=secret)[0]
        for s in sites
    }
    for k, site in enumerate(sites):
        buf = EdgeBuffer(tmp_path / f"edge-{site.id}.db")
        buf.ingest([_reading(site, 30.0 + k)])
        transport = HttpTransport(readings_url(upstream, site.id), token=tokens[site.id])
        fwd = Forwarder(buf, transport)
        try:
            assert fwd.send_one() == 1
            assert buf.pending() == 0
        finally:
            transport.close()
            buf.close()
    for k, site in enumerate(sites):
        # each site holds its own reading and none of the others' points
        for other in sites:
            want = 1 if other.id == site.id else 0
            assert store.count_readings(site.id, POINTS[other.id]) == want, (site.id, other.id)
        now = dt.datetime.now(dt.UTC)
        frame = store.read_series(site.id, POINTS[site.id], now - dt.timedelta(hours=1), now)
        assert frame[POINTS[site.id]].tolist() == [30.0 + k]
    a, b = sites[0], sites[1]
    # A's device token on B's push: refused, nothing stored under B
    body = {"readings": [{"point_id": POINTS[b.id], "ts": _reading(b).ts, "value": 40.0}]}
    r = httpx.post(
        f"{upstream}/api/v1/sites/{b.id}/readings",
        json=body,
        headers={"Authorization": f"Bearer {tokens[a.id]}"},
    )
    assert r.status_code in (401, 403), r.text
    buf = EdgeBuffer(tmp_path / "edge-wrong.db")
    buf.ingest([_reading(b, 41.0)])
    transport = HttpTransport(readings_url(upstream, b.id), token=tokens[a.id])
    with pytest.raises(UpstreamAuthError):
        Forwarder(buf, transport).send_one()
    transport.close()
    assert buf.pending() == 1
    buf.close()
    assert store.count_readings(b.id, POINTS[b.id]) == 1
    # a site the central serve does not serve: 404
    r = httpx.post(
        f"{upstream}/api/v1/sites/nowhere/readings",
        json=body,
        headers={"Authorization": f"Bearer {tokens[a.id]}"},
    )
    assert r.status_code == 404
    health = httpx.get(f"{upstream}/healthz").json()
    assert health["site_ids"] == [s.id for s in sites]
    assert {sid: v["ingest"]["accepted"] for sid, v in health["sites"].items()} == dict.fromkeys(
        POINTS, 1
    )
    metrics = httpx.get(f"{upstream}/metrics").text
    assert metrics.count("# TYPE heatreuse_ingest_readings_total counter") == 1
    for sid in POINTS:
        assert f'heatreuse_ingest_readings_total{{site="{sid}",outcome="accepted"' in metrics


def test_fleet_views_list_only_the_permitted_sites(
    sites: list[Site], store: Store, central: tuple[IngestService, str]
) -> None:
    _, upstream = central
    secret = people.load_token_secret()
    hasher = people.cheap_hasher()
    a, b, c = sites
    people.add_user(store, "ana", "long enough pw", "operator", a.id, by="root", hasher=hasher)
    people.grant_role(store, "ana", "viewer", b.id, by="root")
    # a role on a site this serve does not serve only
    people.add_user(
        store, "nobody", "long enough pw", "viewer", "elsewhere", by="root", hasher=hasher
    )
    people.add_user(store, "cleo", "long enough pw", "viewer", c.id, by="root", hasher=hasher)
    cleo, _ = people.create_token(store, "cleo", scope="read", by="root", secret=secret)
    r = httpx.get(f"{upstream}/api/v1/fleet/status", headers={"Authorization": f"Bearer {cleo}"})
    assert [row["site_id"] for row in r.json()["sites"]] == [c.id]
    ana, _ = people.create_token(store, "ana", scope="read", by="root", secret=secret)
    nobody, _ = people.create_token(store, "nobody", scope="read", by="root", secret=secret)
    auth = {"Authorization": f"Bearer {ana}"}
    r = httpx.get(f"{upstream}/api/v1/fleet/status", headers=auth)
    assert r.status_code == 200, r.text
    rows = r.json()["sites"]
    assert [row["site_id"] for row in rows] == sorted([a.id, b.id])
    assert sum(r.json()["counts"].values()) == 2
    # nothing was pushed: no data never reads as healthy
    assert {row["data_state"] for row in rows} == {"never"}
    assert {row["health"] for row in rows} != {"ok"}
    r = httpx.get(f"{upstream}/api/v1/fleet/kpi", params={"period": "2026-01"}, headers=auth)
    assert r.status_code == 200, r.text
    kpi = r.json()
    assert sorted(s["site_id"] for s in kpi["sites"]) == sorted([a.id, b.id])
    assert sorted(kpi["sites_missing"]) == sorted([a.id, b.id])
    assert kpi["kpis"]["pue"]["value"] is None
    bad = httpx.get(f"{upstream}/api/v1/fleet/kpi", params={"period": "Jan"}, headers=auth)
    assert bad.status_code == 422
    none = {"Authorization": f"Bearer {nobody}"}
    assert httpx.get(f"{upstream}/api/v1/fleet/status", headers=none).status_code == 403
    assert httpx.get(f"{upstream}/api/v1/fleet/kpi", headers=none).status_code == 403
    assert httpx.get(f"{upstream}/api/v1/fleet/status").status_code == 401


def test_several_sites_refuse_one_sites_options(sites: list[Site], store: Store) -> None:
    for kw in ({"topic_prefix": "plant/x"}, {"modbus_poll": True}):
        svc = IngestService(
            sites[0], ServeConfig(http=None, **kw), store=store, more_sites=sites[1:]
        )
        with pytest.raises(HeatreuseError, match="several sites"):
            svc.start()
    with pytest.raises(HeatreuseError, match="more than once"):
        IngestService(sites[0], ServeConfig(http=None), store=store, more_sites=[sites[0]])


def _site_copy(site: Site, site_id: str) -> Site:
    data = site.model_dump(mode="json")
    data["site"]["id"] = site_id
    return type(site).model_validate(data)


def _publish(messages: list[tuple[str, bytes]], retain: bool = False) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    c.connect("127.0.0.1", 1883)
    c.loop_start()
    try:
        for info in [c.publish(t, p, qos=1, retain=retain) for t, p in messages]:
            info.wait_for_publish(timeout=10.0)
    finally:
        c.disconnect()
        c.loop_stop()


def test_mqtt_one_subscription_per_site_prefix(sites: list[Site], store: Store, home: Path) -> None:
    import uuid

    from heatreuse.telemetry.mqtt import TopicLayout, point_payload, wait_until

    tag = uuid.uuid4().hex[:8]
    fleet = [_site_copy(s, f"hrtest-{tag}-{k}") for k, s in enumerate(sites[:2])]
    points = [POINTS[s.id] for s in sites[:2]]
    svc = IngestService(
        fleet[0],
        ServeConfig(mqtt=("127.0.0.1", 1883), http=None, session_expiry_s=1, stop_timeout_s=5.0),
        store=store,
        more_sites=fleet[1:],
    )
    svc.start()
    try:
        assert svc.wait_ready(10.0)
        assert len(svc.subscribers) == 2
        when = _reading(sites[0]).ts
        messages = []
        for k, (site, point) in enumerate(zip(fleet, points, strict=True)):
            topic = next(
                p.mqtt_topic for p in svc.ingestors[site.id].registry.points if p.id == point
            )
            messages.append(
                (TopicLayout(site.id).point_topic(topic), point_payload(when, 20.0 + k))
            )
        _publish(messages)
        assert wait_until(
            lambda: all(
                store.count_readings(s.id, p) == 1 for s, p in zip(fleet, points, strict=True)
            ),
            10.0,
        )
        # each message went to its own site's pipeline: accepted there, nothing quarantined
        for site in fleet:
            counters = svc.ingestors[site.id].counters()
            assert counters["accepted"] == 1 and counters["quarantined_total"] == 0, counters
    finally:
        svc.stop()
        _publish(
            [(TopicLayout(s.id).service_status_topic("ingest"), b"") for s in fleet], retain=True
        )


def test_cli_serve_of_a_folder_and_its_user_errors(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from heatreuse.cli.main import run
    from heatreuse.cli.serve_cmds import _site_files

    empty = tmp_path / "empty"
    empty.mkdir()
    store = f"sqlite:///{tmp_path / 's.db'}"
    assert run(["serve", str(empty), "--store", store, "--http", "off"]) == 2
    assert "a folder without site files" in capsys.readouterr().err.replace("\n", "")
    pool = EXAMPLES / "pool.yaml"
    assert run(["serve", str(pool), str(pool), "--store", store, "--http", "off"]) == 2
    assert "more than once" in capsys.readouterr().err.replace("\n", "")
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for name in ("pool", "greenhouse"):
        (fleet / f"{name}.yaml").write_text((EXAMPLES / f"{name}.yaml").read_text())
    (fleet / "notes.txt").write_text("not a site")
    assert [p.name for p in _site_files([fleet, EXAMPLES / "district_preheat.yaml"])] == [
        "greenhouse.yaml",
        "pool.yaml",
        "district_preheat.yaml",
    ]
