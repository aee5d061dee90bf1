"""The twin: offline file ingests cleanly; live stepping against an injected clock; control."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import TwinError
from heatreuse.services.ingest import ingest_file
from heatreuse.services.twin import (
    LiveTwin,
    TwinControlServer,
    inject_remote,
    parse_time_utc,
    run_offline_twin,
)
from heatreuse.simulation.scenarios import parse_scenarios
from heatreuse.site import Site, load_site
from heatreuse.store import open_store
from heatreuse.telemetry import PointRegistry
from heatreuse.telemetry.twin_points import TwinPointMap, TwinReadings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
#: After the example's commissioning date (2026-09-01), so ingest accepts everything.
START = "2026-10-05T00:00Z"
END = "2026-10-08T00:00Z"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


class ListSink:
    """A sink that keeps what it gets."""

    def __init__(self) -> None:
        self.chunks: list[TwinReadings] = []
        self.started = self.closed = False

    def start(self) -> None:
        self.started = True

    def publish(self, readings: TwinReadings) -> None:
        self.chunks.append(readings)

    def close(self) -> None:
        self.closed = True

    def frame(self) -> pd.DataFrame:
        return pd.concat([c.frame() for c in self.chunks])


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("ext", ["parquet", "csv", "csv.gz"])
def test_offline_twin_ingests_with_zero_quarantine(site: Site, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"twin.{ext}"
    report = run_offline_twin(
        site,
        start=START,
        end=END,
        out=out,
        scenarios=parse_scenarios(["pump_failure@2026-10-06T06:00+5h"]),
    )
    n_points = len(PointRegistry.from_site(site))
    assert report.points == n_points and not report.missing_points
    assert report.readings == n_points * 3 * 1440  # every point each minute at 60 s steps
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
    try:
        result = ingest_file(site, out, store).result
    finally:
        store.close()
    assert result.received == report.readings
    assert result.accepted == report.readings
    assert result.quarantined_total == 0, result.quarantined


def test_offline_file_content_and_counters(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "twin.parquet"
    report = run_offline_twin(
        site,
        start=START,
        end=END,
        out=out,
        chunk_steps=1000,
        scenarios=parse_scenarios(["compute_trip@2026-10-06T06:00Z+4h"]),
    )
    data = pd.read_parquet(out)
    assert list(data.columns) == ["timestamp", "point_id", "value"]
    assert str(data["timestamp"].dt.tz) == "UTC"
    wide = data.pivot(index="timestamp", columns="point_id", values="value")
    # the heat meter register: monotonic, whole kWh (a real register's resolution), and
    # within 1 kWh of the integral of the meter's (noisy, 1 %) power readings
    reg = wide["meter.heat_energy_kwh"].to_numpy()
    assert np.all(np.diff(reg) >= 0) and reg[0] == 0.0
    assert np.array_equal(reg, np.floor(reg))
    power = wide["meter.heat_power_w"].to_numpy()
    integral = np.concatenate(([0.0], np.cumsum(power[:-1] * 60 / 3.6e6)))
    assert np.max(np.abs(reg - integral)) < 1.0 + 1e-3 * integral[-1]
    # the IT energy register's total is the simulation's IT energy (floored to whole kWh)
    it = wide["elec.it_energy_kwh"].to_numpy()
    last_step = report.totals["it_energy_kwh"] - it[-1]
    assert 0.0 <= last_step < 1.0 + 60 * 60_000 / 3.6e6
    # compute trip visible in the racks' power
    trip = wide.loc["2026-10-06T06:00Z":"2026-10-06T09:59Z"]
    assert (trip["rack.tank-a.it_power_w"] == 0).all() and (trip["elec.it_power_w"] == 0).all()
    # chunking does not change a thing
    out2 = tmp_path / "twin2.parquet"
    run_offline_twin(
        site,
        start=START,
        end=END,
        out=out2,
        chunk_steps=10_000,
        scenarios=parse_scenarios(["compute_trip@2026-10-06T06:00Z+4h"]),
    )
    pd.testing.assert_frame_equal(data, pd.read_parquet(out2))


def test_offline_refusals(site: Site, tmp_path: Path) -> None:
    with pytest.raises(TwinError, match="unknown file type"):
        run_offline_twin(site, start=START, end=END, out=tmp_path / "x.json")
    with pytest.raises(TwinError, match="must be after"):
        run_offline_twin(site, start=END, end=START, out=tmp_path / "x.csv")
    with pytest.raises(TwinError, match="UTC offset"):
        run_offline_twin(site, start="2026-10-05T00:00", end=END, out=tmp_path / "x.csv")
    with pytest.raises(Exception, match="needs a start"):
        run_offline_twin(
            site,
            start=START,
            end=END,
            out=tmp_path / "x.csv",
            scenarios=parse_scenarios(["compute_trip+1h"]),
        )
    assert parse_time_utc("2026-01-01", "--start") == pd.Timestamp("2026-01-01T00:00Z")


def test_sampling_follows_registry_intervals(site: Site) -> None:
    pm = TwinPointMap(site, 10)
    clock = Clock(pd.Timestamp("2026-10-05T12:00Z").timestamp())
    sink = ListSink()
    twin = LiveTwin(site, speed=60, step_s=10, start="2026-10-05T00:00Z", sinks=[sink], clock=clock)
    clock.t += 60  # one wall minute = one simulated hour at 60x
    assert twin.advance() == 360
    chunk = sink.chunks[0]
    i_fast = chunk.point_ids.index("meter.heat_power_w")  # 10 s point
    i_slow = chunk.point_ids.index("meter.heat_energy_kwh")  # 60 s register
    assert chunk.sampled[i_fast].all()
    assert chunk.sampled[i_slow].sum() == 60
    assert pm.interval_s["tank.layer_1_temp_c"] == 60


def test_live_twin_steps_with_the_clock_and_clamps_to_wall(site: Site) -> None:
    wall0 = pd.Timestamp("2026-10-05T12:00Z").timestamp()
    clock = Clock(wall0)
    sink = ListSink()
    twin = LiveTwin(
        site,
        speed=3600,
        step_s=60,
        start="2026-10-05T00:00Z",
        sinks=[sink],
        clock=clock,
        window_s=6 * 3600,
    )
    assert twin.advance() == 0
    clock.t += 5.0  # 5 h simulated
    assert twin.advance() == 300
    clock.t += 10.0  # would be 15 h simulated, but the wall clock is only at 12:00:15
    twin.advance()
    assert twin.next_step_start() <= pd.Timestamp(clock.t, unit="s", tz="UTC")
    assert twin.next_step_start() == pd.Timestamp("2026-10-05T12:00Z")
    frame = sink.frame()
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert len(frame) == 720
    # counters continue across chunks and across prepared windows (6 h each)
    # (whole-kWh register vs the integral of the 1 %-noisy power readings: within 1 kWh)
    reg = frame["meter.heat_energy_kwh"].to_numpy()
    assert np.all(np.diff(reg) >= 0)
    integral = np.concatenate(([0.0], np.cumsum(frame["meter.heat_power_w"].to_numpy()[:-1])))
    integral = integral / 60e3
    assert np.max(np.abs(reg - reg[0] - integral)) < 1.0 + 2e-3 * integral[-1]


def test_live_matches_offline(site: Site, tmp_path: Path) -> None:
    """The live twin publishes exactly what the offline twin writes."""
    out = tmp_path / "o.parquet"
    run_offline_twin(site, start="2026-10-05T00:00Z", end="2026-10-05T06:00Z", out=out)
    off = pd.read_parquet(out).pivot(index="timestamp", columns="point_id", values="value")
    clock = Clock(pd.Timestamp("2026-10-06T00:00Z").timestamp())
    sink = ListSink()
    twin = LiveTwin(
        site,
        speed=3600,
        step_s=60,
        start="2026-10-05T00:00Z",
        sinks=[sink],
        clock=clock,
        window_s=3 * 3600,
    )
    clock.t += 6.0
    twin.advance()
    live = sink.frame()[off.columns]
    live.index = live.index.as_unit("us")
    live.columns.name = "point_id"
    off.index.name = live.index.name
    np.testing.assert_allclose(live.to_numpy(), off.to_numpy(), rtol=1e-6, atol=1e-6)


TOKEN = "t" * 20 + "-control-token"


def _request(
    port: int, method: str, path: str, body: str | None = None, token: str | None = TOKEN
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read().decode())
    conn.close()
    return resp.status, data


def test_inject_fault_while_running_through_control_endpoint(site: Site) -> None:
    clock = Clock(pd.Timestamp("2026-10-05T12:00Z").timestamp())
    sink = ListSink()
    twin = LiveTwin(
        site, speed=3600, step_s=60, start="2026-10-05T06:00Z", sinks=[sink], clock=clock
    )
    control = TwinControlServer(twin, "127.0.0.1", 0, token=TOKEN)
    twin.sinks.append(control)
    twin.start_sinks()
    try:
        port = control.address[1]
        clock.t += 1.0
        twin.advance()
        assert twin.latest["utility.feed_status"] == 1.0
        label = inject_remote(f"127.0.0.1:{port}", "utility_feed_loss+30min", token=TOKEN)
        assert label == "utility_feed_loss@2026-10-05T07:00Z+30m"
        status, body = _request(port, "POST", "/faults", "compute_trip+2h")
        assert status == 201 and body["scenario"].startswith("compute_trip@2026-10-05T07:00Z")
        status, body = _request(port, "POST", "/faults", '{"scenario": "bogus"}')
        assert status == 400 and "unknown scenario" in body["error"]
        clock.t += 0.25  # 15 simulated minutes
        twin.advance()
        assert twin.latest["utility.feed_status"] == 0.0
        assert twin.latest["elec.it_power_w"] == 0.0
        assert twin.latest["pump.p-primary.status"] == 0.0
        status, body = _request(port, "GET", "/status")
        assert status == 200 and body["mode"] == "down" and len(body["faults"]) == 2
        status, body = _request(port, "DELETE", "/faults")
        assert status == 200
        clock.t += 0.25
        twin.advance()
        assert twin.latest["utility.feed_status"] == 1.0
        assert twin.latest["elec.it_power_w"] > 0.0
    finally:
        twin.close()
    assert sink.closed
    with pytest.raises(TwinError, match="cannot reach"):
        inject_remote(f"127.0.0.1:{port}", "compute_trip+1h", timeout_s=1, token=TOKEN)


def test_scenario_at_start_applies(site: Site) -> None:
    clock = Clock(pd.Timestamp("2026-10-05T12:00Z").timestamp())
    sink = ListSink()
    twin = LiveTwin(
        site,
        speed=3600,
        step_s=60,
        start="2026-10-05T06:00Z",
        sinks=[sink],
        clock=clock,
        scenarios=parse_scenarios(["compute_trip+1h"]),
    )
    assert twin.scenarios[0].start == pd.Timestamp("2026-10-05T06:00Z")
    clock.t += 2.0
    twin.advance()
    f = sink.frame()
    assert (f.loc[:"2026-10-05T06:59Z", "elec.it_power_w"] == 0).all()
    assert (f.loc["2026-10-05T07:00Z":, "elec.it_power_w"] > 0).all()


def test_live_twin_feeds_the_ingest_service_with_no_twin_specific_code(
    site: Site, tmp_path: Path
) -> None:
    """Twin -> Mosquitto and Modbus TCP -> ``heatreuse serve``'s ingest paths -> SQLite."""
    import socket
    import time
    import uuid

    from heatreuse.services.serve import IngestService, ServeConfig
    from heatreuse.site import expand_points
    from heatreuse.telemetry.modbus_server import ModbusTwinServer
    from heatreuse.telemetry.mqtt_publish import MqttPublisher

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        modbus_port = int(s.getsockname()[1])
    prefix = f"test-twin-e2e/{uuid.uuid4().hex[:10]}"
    sp = expand_points(site)
    service = IngestService(
        site,
        ServeConfig(
            store_url=f"sqlite:///{tmp_path / 'e2e.db'}",
            mqtt=("127.0.0.1", 1883),
            http=None,
            modbus_poll=True,
            modbus_default=("127.0.0.1", modbus_port),
            modbus_poll_interval_s=0.1,
            topic_prefix=prefix,
            client_id="ingest-" + uuid.uuid4().hex[:8],
            session_expiry_s=60,
        ),
    )
    publisher = MqttPublisher(
        "127.0.0.1", 1883, sp, prefix=prefix, client_id="twin-" + uuid.uuid4().hex[:8]
    )
    modbus = ModbusTwinServer("127.0.0.1", modbus_port, sp)
    keep = ListSink()
    start = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=2)
    twin = LiveTwin(
        site,
        speed=3600,
        step_s=60,
        start=start,
        sinks=[publisher, modbus, keep],
        scenarios=parse_scenarios(["pump_failure+30min"]),
    )
    twin.start_sinks()
    service.start()
    try:
        assert service.wait_ready(10)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            twin.advance()
            time.sleep(0.2)
        published = sum(int(c.sampled.sum()) for c in keep.chunks)
        assert published > 1000

        def done() -> bool:
            return service.subscriber.stats()["readings"] >= published

        deadline = time.monotonic() + 20
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done()
        counters = service.ingestor.counters()
        assert counters["quarantined_total"] == 0, counters["quarantined"]
        store = service.store
        assert store.count_readings(site.id, "meter.heat_energy_kwh") >= 60
        # the Modbus poller read the twin's heat meter and pump controller through the
        # registry's map: every register decodes, none fails
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
            service.poller.stats()[d]["readings"] > 0 for d in ("heat-meter", "pump-controller")
        ):
            time.sleep(0.1)
        for device in ("heat-meter", "pump-controller"):
            stats = service.poller.stats()[device]
            assert stats["ok"] and stats["readings"] > 0 and stats["register_errors"] == 0
        assert service.ingestor.counters()["quarantined_total"] == 0
    finally:
        twin.close()
        service.stop()
        import paho.mqtt.client as mqtt

        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        c.connect("127.0.0.1", 1883)
        c.loop_start()
        for topic in (f"{prefix}/availability", f"{prefix}/_ingest/status"):
            c.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        c.loop_stop()
        c.disconnect()


def test_sensor_noise_looks_real_and_is_reproducible(site: Site) -> None:
    """Issue 11: the twin's readings look like a real site's (no sensor exactly constant).

    Noise per sensor class (EN 60751 class A Pt1000 pairs, EN 1434 flow class 2), rounded
    to the sensor's resolution; counters in whole units; same draw for the same instant
    whatever the chunking, and different noise for different points.
    """
    from heatreuse.services.twin import window_demand
    from heatreuse.simulation import simulate
    from heatreuse.telemetry.twin_points import SENSOR_CLASSES

    demand = window_demand(
        site, pd.Timestamp("2026-01-10T00:00Z"), pd.Timestamp("2026-01-11T00:00Z"), 60
    )
    frame = simulate(site, demand, step_s=60).frame
    noisy, _ = TwinPointMap(site, 60).readings(frame)
    exact, _ = TwinPointMap(site, 60, noise=False).readings(frame)
    n = noisy.frame()
    e = exact.frame()
    for pid in ("meter.return_temp_c", "rack.tank-a.outlet_temp_c", "customer.supply_temp_c"):
        # one hour of a temperature never has max - min below 0.05 K (a stuck-sensor rule's
        # threshold) on clean data; the exact value often does (the pool's return at night,
        # within 0.1 K of the water)
        spread = n[pid].rolling(60).apply(lambda x: x.max() - x.min(), raw=True).dropna()
        assert spread.min() >= 0.05, pid
        err = n[pid] - e[pid]
        assert 0.03 < err.std() < 0.08 and abs(err.mean()) < 0.01, pid
        assert np.allclose(n[pid] * 100, np.round(n[pid] * 100))  # 0.01 K resolution
    # why the noise is needed: the exact return holds still for hours at a time
    exact_spread = e["meter.return_temp_c"].rolling(60).apply(lambda x: x.max() - x.min())
    assert (exact_spread.dropna() < 0.05).mean() > 0.5
    rel = (n["meter.flow_m3_per_h"] / e["meter.flow_m3_per_h"] - 1)[e["meter.flow_m3_per_h"] > 1]
    assert 0.005 < rel.std() < 0.015
    assert SENSOR_CLASSES["volume_flow"].sigma_rel == 0.01
    reg = n["meter.heat_energy_kwh"].to_numpy()
    assert np.array_equal(reg, np.floor(reg)) and np.all(np.diff(reg) >= 0)
    # status points are exact
    assert set(n["pump.p-secondary.status"].unique()) <= {0.0, 1.0}
    # chunk-invariant: the second half computed alone draws the same noise
    half, _ = TwinPointMap(site, 60).readings(frame.iloc[720:])
    temps = [p for p in noisy.point_ids if p.endswith("_temp_c")]
    np.testing.assert_array_equal(half.frame()[temps].to_numpy(), n[temps].iloc[720:].to_numpy())
    # two sensors with the same true value draw different noise
    assert not np.array_equal(n["meter.return_temp_c"], n["customer.return_temp_c"])
