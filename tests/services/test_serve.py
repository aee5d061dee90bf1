"""``heatreuse serve``: the ingest service (MQTT + Modbus + HTTP into one store), jobs, SIGTERM.

Peers: Mosquitto at 127.0.0.1:1883 (own topic prefix and client id per test,
sessions and retained messages removed afterwards) and a pymodbus server on a
free loopback port.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from heatreuse.errors import HeatreuseError
from heatreuse.services.serve import IngestService, JobScheduler, ServeConfig
from heatreuse.site import Site, load_site
from heatreuse.store import open_store
from heatreuse.telemetry.mqtt import TopicLayout, batch_payload, point_payload, wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
BROKER = ("127.0.0.1", 1883)
TIMEOUT_S = 30.0
T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mqtt(client_id: str = "", clean: bool = True) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    c.connect(*BROKER, clean_start=clean)
    c.loop_start()
    return c


def publish(
    messages: Sequence[tuple[str, bytes | str]], qos: int = 1, retain: bool = False
) -> None:
    c = _mqtt()
    try:
        infos = [c.publish(t, p, qos=qos, retain=retain) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout=TIMEOUT_S)
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.fixture
def mqtt_names(site: Site) -> Iterator[tuple[str, str]]:
    """(topic prefix, client id), cleaned up after the test."""
    prefix = f"hrtest-{uuid.uuid4().hex[:10]}/{site.id}"
    cid = f"hrtest-serve-{uuid.uuid4().hex[:8]}"
    yield prefix, cid
    c = _mqtt(cid, clean=True)  # clean start drops the session (expiry 0)
    wait_until(c.is_connected, 5.0)
    c.disconnect()
    c.loop_stop()
    publish([(TopicLayout(site.id, prefix).service_status_topic("ingest"), b"")], retain=True)


#: Reference time of the test readings (fixed, so ts(k) never collides across calls).
REF = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=10)


def ts(seconds_ago: int) -> str:
    """ISO text of REF - seconds_ago (one timestamp per k, whenever it is called)."""
    return (REF - dt.timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- jobs
def test_jobs_run_when_due_on_the_injected_clock() -> None:
    now = [T0]
    sched = JobScheduler(clock=lambda: now[0])
    seen: list[tuple[str, dt.datetime]] = []
    sched.add("retention", 3600, lambda t: seen.append(("retention", t)))
    sched.add("ledger", 900, lambda t: seen.append(("ledger", t)), first_due=T0)

    def boom(t: dt.datetime) -> None:
        raise RuntimeError("disk full")

    sched.add("flaky", 60, boom)
    assert sched.run_due() == ["ledger"]
    now[0] = T0 + dt.timedelta(minutes=15)
    assert sched.run_due() == ["ledger", "flaky"]
    # a long pause: each job runs once, then its next slot is after now (no burst)
    now[0] = T0 + dt.timedelta(hours=5, minutes=1)
    assert sched.run_due() == ["retention", "ledger", "flaky"]
    state = sched.as_dict()
    assert state["ledger"]["runs"] == 3
    assert state["ledger"]["next_due"] == "2026-11-01T17:15:00Z"
    assert state["flaky"]["failures"] == 2 and "disk full" in state["flaky"]["last_error"]
    assert seen[-1] == ("ledger", now[0])


def test_job_registration_errors() -> None:
    sched = JobScheduler(clock=lambda: T0)
    sched.add("a", 1, lambda t: None)
    with pytest.raises(HeatreuseError, match="already registered"):
        sched.add("a", 1, lambda t: None)
    with pytest.raises(HeatreuseError, match="interval_s must be > 0"):
        sched.add("b", 0, lambda t: None)


# --------------------------------------------------------------------------- in process
def test_service_runs_mqtt_http_and_modbus_into_one_store(
    site: Site, tmp_path: Path, mqtt_names: tuple[str, str]
) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    prefix, cid = mqtt_names
    http_port, modbus_port = free_port(), free_port()
    url = f"sqlite:///{tmp_path / 'serve.db'}"

    # a heat meter on its own event loop thread
    loop = asyncio.new_event_loop()
    meter = SimDevice(
        id=1,
        simdata=[
            SimData(0, values=[55.0, 30.0, 2.0, 50.0], datatype=DataType.FLOAT32),
            SimData(8, values=1_000_000, datatype=DataType.UINT32),
        ],
    )

    async def make_server() -> ModbusTcpServer:
        server = ModbusTcpServer(meter, address=("127.0.0.1", modbus_port))
        await server.serve_forever(background=True)
        return server

    threading.Thread(target=loop.run_forever, daemon=True).start()
    server = asyncio.run_coroutine_threadsafe(make_server(), loop).result(10)

    config = ServeConfig(
        store_url=url,
        mqtt=BROKER,
        http=("127.0.0.1", http_port),
        modbus_poll=True,
        modbus_default=("127.0.0.1", modbus_port),
        modbus_poll_interval_s=0.1,
        topic_prefix=prefix,
        client_id=cid,
        session_expiry_s=120,
        job_tick_s=0.05,
        allow_anonymous_ingest=True,  # device tokens: tests/services/test_serve_auth.py
    )
    ticks: list[dt.datetime] = []
    service = IngestService(site, config)
    service.jobs.add("tick", 0.05, ticks.append)
    service.start()
    try:
        assert service.wait_ready(TIMEOUT_S)
        layout = TopicLayout(site.id, prefix)
        publish(
            [
                (layout.point_topic("hx/secondary_supply_temp_c"), point_payload(ts(2), 41.0)),
                (layout.batch_topic, batch_payload([("hx.heat_power_w", ts(2), 9000.0)])),
            ]
        )
        base = f"http://127.0.0.1:{http_port}"
        resp = httpx.post(
            f"{base}/api/v1/sites/{site.id}/readings",
            json={"readings": [{"point_id": "loop.pressure_bar", "ts": ts(2), "value": 2.1}]},
        )
        assert resp.status_code == 200 and resp.json()["accepted"] == 1
        store = service.store
        assert wait_until(lambda: store.count_readings(site.id, "hx.heat_power_w") == 1, TIMEOUT_S)
        assert wait_until(
            lambda: store.count_readings(site.id, "meter.heat_energy_kwh") >= 1, TIMEOUT_S
        )
        assert wait_until(lambda: len(ticks) >= 2, TIMEOUT_S)
        health = httpx.get(f"{base}/healthz").json()
        assert health["site_id"] == site.id
        assert health["mqtt"]["connected"] and health["mqtt"]["readings"] == 2
        assert health["modbus"]["heat-meter"]["ok"]
        assert health["ingest"]["accepted"] >= 8
        assert health["jobs"]["tick"]["runs"] >= 2
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = metrics.text
        assert f'heatreuse_mqtt_connected{{site="{site.id}"}} 1' in text
        assert f'heatreuse_modbus_device_up{{site="{site.id}",device="heat-meter"}} 1' in text
        assert 'outcome="accepted"' in text
    finally:
        assert service.stop()
        asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    with open_store(url) as store:
        assert store.count_readings(site.id, "loop.pressure_bar") == 1
        assert store.count_readings(site.id, "hx.secondary_supply_temp_c") == 1


def test_http_port_in_use_is_a_user_error(site: Site, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        service = IngestService(
            site,
            ServeConfig(store_url=f"sqlite:///{tmp_path / 's.db'}", http=("127.0.0.1", port)),
        )
        with pytest.raises(HeatreuseError, match=f"--http 127.0.0.1:{port}"):
            service.start()


# --------------------------------------------------------------------------- the command
def test_sigterm_flushes_everything_accepted(
    site: Site, tmp_path: Path, mqtt_names: tuple[str, str]
) -> None:
    """Publish N QoS 1 readings, SIGTERM as soon as they are received: all N are stored."""
    prefix, cid = mqtt_names
    http_port = free_port()
    db = tmp_path / "serve.db"
    env = {**os.environ, "HEATREUSE_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heatreuse.cli.main",
            "serve",
            str(EXAMPLE),
            "--store",
            f"sqlite:///{db}",
            "--mqtt",
            "127.0.0.1:1883",
            "--http",
            f"127.0.0.1:{http_port}",
            "--topic-prefix",
            prefix,
            "--client-id",
            cid,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    health_url = f"http://127.0.0.1:{http_port}/healthz"

    def health() -> dict[str, Any] | None:
        try:
            return dict(httpx.get(health_url, timeout=2.0).json())
        except httpx.HTTPError:
            return None

    try:
        assert wait_until(
            lambda: (h := health()) is not None and h["mqtt"]["connected"], 90.0, 0.1
        ), "heatreuse serve did not come up"
        layout = TopicLayout(site.id, prefix)
        points = ["hx.heat_power_w", "meter.heat_power_w", "it_loop.flow_m3_per_h"]
        per_message, messages = 2000, 20
        n = per_message * messages
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        payloads = []
        k = 0
        for _ in range(messages):
            rows = []
            for _ in range(per_message):
                when = now - dt.timedelta(seconds=1 + k // len(points))
                rows.append((points[k % len(points)], when.isoformat().replace("+00:00", "Z"), 1.0))
                k += 1
            payloads.append((layout.batch_topic, batch_payload(rows)))
        publish(payloads)
        assert wait_until(
            lambda: (h := health()) is not None and h["mqtt"]["received_messages"] == messages,
            TIMEOUT_S,
            0.01,
        )
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "SIGTERM received" in out and "everything accepted is stored" in out
    with open_store(f"sqlite:///{db}") as store:
        assert store.count_readings(site.id) == n


def test_retention_runs_as_a_periodic_job(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))  # the job seals into a ledger
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}", create=True)
    try:
        old = int(dt.datetime(2026, 9, 15, tzinfo=dt.UTC).timestamp() * 1_000_000)
        new = int(dt.datetime(2026, 10, 20, tzinfo=dt.UTC).timestamp() * 1_000_000)
        store.write_readings(site.id, "hx.heat_power_w", [old, new], [1.0, 2.0])
        now = [T0]
        service = IngestService(
            site,
            ServeConfig(
                http=None,
                retention_raw_days=30,
                retention_rollup_days={"1min": 30, "1h": 400},
                job_tick_s=3600,
                watch=False,  # (live monitoring adds its escalation job; not this test's)
            ),
            store=store,
            clock=lambda: now[0],
        )
        service.start()
        try:
            assert service.jobs.run_due() == ["retention", "compaction"]  # due at start
            assert store.count_readings(site.id) == 1
            # the 1 min rollup of the old reading went with it; the hourly one stays
            window = (old - 60_000_000, new + 60_000_000)
            assert len(store.read_rollup(site.id, "hx.heat_power_w", *window, "1min")) == 1
            assert len(store.read_rollup(site.id, "hx.heat_power_w", *window, "1h")) == 2
            assert service.jobs.run_due() == []
            now[0] = T0 + dt.timedelta(days=1)
            assert service.jobs.run_due() == ["retention", "compaction"]
            assert service.health()["jobs"]["retention"]["runs"] == 2
        finally:
            assert service.stop()
    finally:
        store.close()


@pytest.mark.parametrize(
    "argv,expect",
    [
        (["serve", str(EXAMPLE), "--mqtt", "broker:x"], "--mqtt: expected HOST:PORT"),
        (["serve", str(EXAMPLE), "--http", ":80"], "--http: expected HOST:PORT"),
        (
            ["serve", str(EXAMPLE), "--http", "off", "--retention-rollup-days", "1d=3"],
            "--retention-rollup-days '1d=3': expected RES=DAYS",
        ),
        (
            ["edge", str(EXAMPLE), "--mqtt", "127.0.0.1:1883", "--upstream", "central:8080"],
            "--upstream: expected the HTTP",
        ),
        (["edge", str(EXAMPLE), "--upstream", "http://127.0.0.1:9"], "no local source"),
    ],
)
def test_cli_user_errors_exit_2(
    argv: list[str], expect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from heatreuse.cli.main import run

    assert run(argv) == 2
    assert expect in capsys.readouterr().err.replace("\n", "")


# --------------------------------------------------------------------------- hostile input
class StuckStore:
    """A real store whose ``write_readings`` blocks until released (a stuck database)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.release = threading.Event()

    def write_readings(self, *args: Any, **kw: Any) -> Any:
        assert self.release.wait(TIMEOUT_S)
        return self.inner.write_readings(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_healthz_is_503_while_ingest_is_stalled_and_200_after(
    site: Site, tmp_path: Path, mqtt_names: tuple[str, str]
) -> None:
    from fastapi.testclient import TestClient

    prefix, cid = mqtt_names
    now = [T0]
    real = open_store(f"sqlite:///{tmp_path / 's.db'}", create=True)
    stuck = StuckStore(real)
    config = ServeConfig(
        mqtt=BROKER,
        http=None,
        topic_prefix=prefix,
        client_id=cid,
        session_expiry_s=120,
        stall_after_s=60.0,
    )
    service = IngestService(site, config, store=stuck, clock=lambda: now[0])
    service.start()
    try:
        assert service.wait_ready(TIMEOUT_S)
        client = TestClient(service.app)
        assert client.get("/healthz").status_code == 200
        layout = TopicLayout(site.id, prefix)
        reading_ts = (T0 - dt.timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
        publish([(layout.point_topic("hx/heat_power_w"), point_payload(reading_ts, 5.0))])
        ingestor = service.ingestor
        assert ingestor is not None
        assert wait_until(lambda: ingestor.store_call_age_s() is not None, TIMEOUT_S)
        # stuck, but not for long yet: no alarm
        assert client.get("/healthz").json()["status"] == "ok"
        now[0] = T0 + dt.timedelta(seconds=90)
        r = client.get("/healthz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "stalled"
        assert body["pending_acks"] == 1 and body["oldest_unacked_age_s"] >= 90
        assert body["store_write_age_s"] >= 90
        assert "not acknowledged" in body["stall_reason"] and "store write" in body["stall_reason"]
        assert "heatreuse_mqtt_oldest_unacked_age_seconds" in client.get("/metrics").text
        stuck.release.set()
        assert wait_until(lambda: service.subscriber.stats()["acked_messages"] == 1, TIMEOUT_S)
        r = client.get("/healthz")
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert r.json()["pending_acks"] == 0 and r.json()["oldest_unacked_age_s"] is None
        assert real.count_readings(site.id) == 1
    finally:
        stuck.release.set()
        assert service.stop()
        real.close()


def _raw_post(port: int, headers: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    conn.sendall(
        (
            f"POST /api/v1/sites/pool-potsdam/readings HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\n{headers}\r\n"
        ).encode()
    )
    return conn


def test_oversized_bodies_get_413_without_being_read(site: Site, tmp_path: Path) -> None:
    import select

    port = free_port()
    config = ServeConfig(
        store_url=f"sqlite:///{tmp_path / 's.db'}",
        http=("127.0.0.1", port),
        http_max_body_bytes=64 * 1024,
        allow_anonymous_ingest=True,  # without it the token check answers 401 first
    )
    service = IngestService(site, config)
    service.start()
    try:
        # a Content-Length of 100 MB and not one byte of body: answered at once
        with _raw_post(port, "Content-Length: 104857600\r\n") as conn:
            assert conn.recv(200).startswith(b"HTTP/1.1 413")
        # a chunked body streamed without end: the server answers and closes the connection
        # after the limit, long before 64 MB (allowing some MB of socket buffers)
        frame = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
        sent, answer, cut = 0, b"", False
        with _raw_post(port, "Transfer-Encoding: chunked\r\n") as conn:
            while sent < 64 * 1024 * 1024:
                readable, _, _ = select.select([conn], [], [], 0)
                try:
                    if readable:
                        data = conn.recv(4096)
                        answer += data
                        if not data:
                            cut = True
                            break
                        continue
                    sent += conn.send(frame)
                except (BrokenPipeError, ConnectionResetError):
                    cut = True
                    break
        assert cut, f"the server kept reading: {sent:,} bytes sent"
        assert sent < 32 * 1024 * 1024
        assert answer == b"" or answer.startswith(b"HTTP/1.1 413")
        assert b"connection: close" in answer.lower() or answer == b""
        ingestor = service.ingestor
        assert ingestor is not None and ingestor.counters()["received"] == 0
        # /openapi.json works (it was a 500: ForwardRef('JSONResponse'))
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json")
        assert spec.status_code == 200 and "/healthz" in spec.json()["paths"]
    finally:
        assert service.stop()
