"""Edge store-and-forward: the buffer, the forwarder, and the agent with a cut link and SIGKILL.

Upstream is the real HTTP push endpoint (:func:`heatreuse.telemetry.http.create_ingest_app`
on uvicorn, SQLite store); local input is the real Mosquitto at 127.0.0.1:1883
(own topic prefix and client id per test; sessions and retained messages
removed afterwards).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import uvicorn
from fastapi import Request, Response
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from heatreuse.errors import IngestError
from heatreuse.services.edge import EdgeAgent, EdgeConfig
from heatreuse.site import Site
from heatreuse.store import open_store
from heatreuse.telemetry import Ingestor, RawReading
from heatreuse.telemetry.edge import EdgeBuffer, Forwarder, readings_url
from heatreuse.telemetry.http import create_ingest_app
from heatreuse.telemetry.mqtt import TopicLayout, batch_payload, wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
BROKER = ("127.0.0.1", 1883)
TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Timestamps of the test readings: BASE + value seconds (value k is the k-th reading).
BASE = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)


def at(k: int) -> str:
    return (BASE + dt.timedelta(seconds=k)).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- upstream
class Upstream:
    """A ``heatreuse serve``-like HTTP push endpoint that can be stopped and restarted.

    Records the values of every request it answered (in order) and can hold a
    request before processing it (``hold_request``) to simulate a batch in flight.
    """

    def __init__(self, site: Site, db: Path, port: int) -> None:
        self.store = open_store(f"sqlite:///{db}")
        self.ingestor = Ingestor(site, self.store)
        self.port = port
        self.requests: list[list[float]] = []
        self.hold_request: int | None = None  # 1-based request number to hold
        self.held = threading.Event()
        self.release = threading.Event()
        self._seen = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _app(self) -> Any:
        app = create_ingest_app(self.ingestor.site, self.store, self.ingestor)

        @app.middleware("http")
        async def record(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            if request.method != "POST":
                return await call_next(request)
            body = await request.body()
            self._seen += 1
            if self._seen == self.hold_request:
                import asyncio

                self.held.set()
                await asyncio.to_thread(self.release.wait, TIMEOUT_S)
            response = await call_next(request)
            if response.status_code == 200:
                self.requests.append([r["value"] for r in json.loads(body)["readings"]])
            return response

        return app

    def start(self) -> None:
        config = uvicorn.Config(
            self._app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        assert wait_until(lambda: self._server is not None and self._server.started, TIMEOUT_S)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(TIMEOUT_S)
            self._server = None

    def counters(self) -> dict[str, Any]:
        return self.ingestor.counters()

    def close(self) -> None:
        self.stop()
        self.store.close()


@pytest.fixture
def upstream(site: Site, tmp_path: Path) -> Iterator[Upstream]:
    up = Upstream(site, tmp_path / "central.db", free_port())
    yield up
    up.close()


# --------------------------------------------------------------------------- mqtt helpers
def _mqtt(client_id: str = "", clean: bool = True) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    c.connect(*BROKER, clean_start=clean)
    c.loop_start()
    return c


def publish(messages: Sequence[tuple[str, bytes]], retain: bool = False) -> None:
    c = _mqtt()
    try:
        infos = [c.publish(t, p, qos=1, retain=retain) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout=TIMEOUT_S)
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.fixture
def mqtt_names(site: Site) -> Iterator[tuple[str, str]]:
    prefix = f"hrtest-{uuid.uuid4().hex[:10]}/{site.id}"
    cid = f"hrtest-edge-{uuid.uuid4().hex[:8]}"
    yield prefix, cid
    c = _mqtt(cid, clean=True)
    wait_until(c.is_connected, 5.0)
    c.disconnect()
    c.loop_stop()
    publish([(TopicLayout(site.id, prefix).service_status_topic("edge"), b"")], retain=True)


def messages(
    layout: TopicLayout, values: Sequence[int], per_message: int
) -> list[tuple[str, bytes]]:
    """Batch messages carrying hx.heat_power_w = value, one second apart, oldest first."""
    out = []
    for i in range(0, len(values), per_message):
        rows = [("hx.heat_power_w", at(v), float(v)) for v in values[i : i + per_message]]
        out.append((layout.batch_topic, batch_payload(rows)))
    return out


# --------------------------------------------------------------------------- the buffer
def test_buffer_orders_acknowledges_and_never_reuses_seq(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    buf = EdgeBuffer(path)
    when = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    assert buf.ingest([RawReading(f"p{k}.temp_c", when, float(k), "test") for k in range(5)]) == 5
    assert buf.ingest([RawReading("", None, None, "mqtt:x/batch", raw='"junk"')]) == 0
    assert buf.rejects() == 1 and buf.pending() == 5 and buf.watermark() == 0
    batch = buf.next_batch(3)
    assert batch is not None and (batch.first_seq, batch.last_seq, batch.count) == (1, 3, 3)
    body = json.loads(batch.body)
    assert body["readings"][0] == {
        "point_id": "p0.temp_c",
        "ts": "2026-11-01T12:00:00Z",
        "value": 0.0,
    }
    buf.acknowledge(batch.last_seq)
    assert buf.watermark() == 3 and buf.pending() == 2
    rest = buf.next_batch(10)
    assert rest is not None and [r["value"] for r in json.loads(rest.body)["readings"]] == [3, 4]
    buf.acknowledge(rest.last_seq)
    buf.close()
    again = EdgeBuffer(path)
    again.ingest([RawReading("p9.temp_c", "2026-11-01T12:00:00Z", 1, "test")])
    nxt = again.next_batch(10)
    assert nxt is not None and nxt.first_seq == 6  # AUTOINCREMENT: never reused
    again.close()


def test_readings_url() -> None:
    assert readings_url("http://c:8080", "s") == "http://c:8080/api/v1/sites/s/readings"
    assert readings_url("http://c/api/v1/sites/s/readings/", "s") == (
        "http://c/api/v1/sites/s/readings"
    )
    with pytest.raises(IngestError, match="--upstream"):
        readings_url("c:8080", "s")


def test_forwarder_keeps_the_watermark_on_errors(
    site: Site, tmp_path: Path, upstream: Upstream
) -> None:
    buf = EdgeBuffer(tmp_path / "edge.db")
    buf.ingest([RawReading("hx.heat_power_w", at(k), float(k), "t") for k in range(1, 11)])
    closed = Forwarder(buf, f"http://127.0.0.1:{free_port()}/api/v1/sites/{site.id}/readings")
    with pytest.raises(IngestError, match="failed: ConnectError"):
        closed.send_one()
    assert buf.watermark() == 0
    upstream.start()
    wrong_site = Forwarder(buf, readings_url(f"http://127.0.0.1:{upstream.port}", "elsewhere"))
    with pytest.raises(IngestError, match="expected 200, got 404"):
        wrong_site.send_one()
    assert buf.watermark() == 0
    fwd = Forwarder(buf, readings_url(f"http://127.0.0.1:{upstream.port}", site.id), batch_size=4)
    assert [fwd.send_one() for _ in range(4)] == [4, 4, 2, 0]
    assert buf.watermark() == 10 and buf.pending() == 0
    assert upstream.counters()["accepted"] == 10
    for f in (closed, wrong_site, fwd):
        f.stop()
    buf.close()


# --------------------------------------------------------------------------- the agent
def test_cut_upstream_buffers_and_replays_in_order_exactly_once(
    site: Site, tmp_path: Path, upstream: Upstream, mqtt_names: tuple[str, str]
) -> None:
    prefix, cid = mqtt_names
    layout = TopicLayout(site.id, prefix)
    agent = EdgeAgent(
        site,
        EdgeConfig(
            upstream=f"http://127.0.0.1:{upstream.port}",  # nothing listens yet
            buffer_path=tmp_path / "edge.db",
            mqtt=BROKER,
            topic_prefix=prefix,
            client_id=cid,
            session_expiry_s=120,
            batch_size=40,
            min_backoff_s=0.05,
            max_backoff_s=0.2,
        ),
    )
    agent.start()
    try:
        assert agent.wait_ready(TIMEOUT_S)
        assert agent.buffer is not None and agent.forwarder is not None
        buf, fwd = agent.buffer, agent.forwarder
        publish(messages(layout, list(range(0, 300)), per_message=10))
        assert wait_until(lambda: buf.pending() == 300, TIMEOUT_S)
        assert wait_until(lambda: fwd.stats.failures >= 2, TIMEOUT_S)
        upstream.start()  # the link comes back
        assert wait_until(lambda: upstream.counters()["accepted"] == 300, TIMEOUT_S)
        assert wait_until(lambda: buf.pending() == 0, TIMEOUT_S)
        upstream.stop()  # cut again while readings arrive
        failures = fwd.stats.failures
        publish(messages(layout, list(range(300, 600)), per_message=10))
        assert wait_until(lambda: buf.pending() == 300, TIMEOUT_S)
        assert wait_until(lambda: fwd.stats.failures > failures, TIMEOUT_S)
        upstream.start()
        assert wait_until(lambda: upstream.counters()["accepted"] == 600, TIMEOUT_S), (
            upstream.counters(),
            agent.stats(),
        )
        assert wait_until(lambda: buf.pending() == 0, TIMEOUT_S)
    finally:
        assert agent.stop()
    counters = upstream.counters()
    assert counters["accepted"] == 600 and counters["duplicates"] == 0
    assert counters["quarantined_total"] == 0
    # in order, each reading exactly once
    assert [v for req in upstream.requests for v in req] == [float(v) for v in range(600)]
    assert upstream.store.count_readings(site.id) == 600


def _agent_cmd(site_file: Path, port: int, buffer: Path, prefix: str, cid: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "heatreuse.cli.main",
        "edge",
        str(site_file),
        "--upstream",
        f"http://127.0.0.1:{port}",
        "--buffer",
        str(buffer),
        "--mqtt",
        "127.0.0.1:1883",
        "--topic-prefix",
        prefix,
        "--client-id",
        cid,
        "--batch-size",
        "50",
    ]


def _appended(buffer: Path) -> int:
    if not buffer.exists():
        return 0
    with sqlite3.connect(buffer) as conn:
        try:
            row = conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'edge_readings'"
            ).fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0]) if row else 0


def _wait_online(layout: TopicLayout, timeout_s: float) -> bool:
    """Wait for the agent's retained availability 'online' (it subscribed before publishing it)."""
    seen = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        if msg.payload == b"online":
            seen.set()

    c.on_message = on_message
    c.on_connect = lambda client, *a: client.subscribe(layout.service_status_topic("edge"), qos=1)
    c.connect(*BROKER)
    c.loop_start()
    try:
        return seen.wait(timeout_s)
    finally:
        c.disconnect()
        c.loop_stop()


def test_sigkill_mid_batch_then_restart_counts_every_reading_once(
    site: Site, tmp_path: Path, upstream: Upstream, mqtt_names: tuple[str, str]
) -> None:
    prefix, cid = mqtt_names
    layout = TopicLayout(site.id, prefix)
    buffer = tmp_path / "edge.db"
    env = {**os.environ, "HEATREUSE_HOME": str(tmp_path)}
    upstream.hold_request = 3  # the third batch is in flight when the agent dies
    upstream.start()
    cmd = _agent_cmd(EXAMPLE, upstream.port, buffer, prefix, cid)
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert _wait_online(layout, 90.0), "heatreuse edge did not come up"
        n = 500
        publish(messages(layout, list(range(n)), per_message=10))
        assert wait_until(lambda: _appended(buffer) == n, TIMEOUT_S)
        assert upstream.held.wait(TIMEOUT_S)
        first.send_signal(signal.SIGKILL)
        first.wait(TIMEOUT_S)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        upstream.release.set()  # the upstream stores the batch; the agent never saw the 200
    assert wait_until(lambda: len(upstream.requests) == 3, TIMEOUT_S)
    # batches hold what was buffered when they were read (up to 50), so sizes may vary
    m = sum(len(r) for r in upstream.requests)
    in_flight = len(upstream.requests[2])
    assert upstream.counters()["accepted"] == m
    second = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: upstream.counters()["accepted"] == n, 90.0)
        second.send_signal(signal.SIGTERM)
        second.wait(TIMEOUT_S)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert second.returncode == 0
    counters = upstream.counters()
    assert counters["accepted"] == n
    # only the one in-flight batch was sent again (the upstream stored it once)
    assert counters["duplicates"] == in_flight
    assert upstream.store.count_readings(site.id) == n
    sent = [v for req in upstream.requests for v in req]
    assert sent == [float(v) for v in range(m)] + [float(v) for v in range(m - in_flight, n)]


def test_agent_polls_modbus_into_the_buffer_and_forwards(
    site: Site, tmp_path: Path, upstream: Upstream
) -> None:
    import asyncio

    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    port = free_port()
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    meter = SimDevice(
        id=1,
        simdata=[
            SimData(0, values=[55.0, 30.0, 2.0, 50.0], datatype=DataType.FLOAT32),
            SimData(8, values=1_000_000, datatype=DataType.UINT32),
        ],
    )

    async def make() -> ModbusTcpServer:
        server = ModbusTcpServer(meter, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        return server

    server = asyncio.run_coroutine_threadsafe(make(), loop).result(10)
    upstream.start()
    agent = EdgeAgent(
        site,
        EdgeConfig(
            upstream=f"http://127.0.0.1:{upstream.port}",
            buffer_path=tmp_path / "edge.db",
            modbus_poll=True,
            modbus_default=("127.0.0.1", port),
            modbus_poll_interval_s=0.1,
            min_backoff_s=0.05,
        ),
    )
    agent.start()
    try:
        store = upstream.store
        assert wait_until(
            lambda: store.count_readings(site.id, "meter.heat_energy_kwh") >= 2, TIMEOUT_S
        )
        assert agent.stats()["modbus"]["heat-meter"]["ok"]
        # the pump controller (unit 2) is not on this server: its exception responses are
        # kept in the edge buffer's rejects (not lost, not forwarded as readings)
        assert wait_until(lambda: agent.stats()["buffer_rejects"] >= 1, TIMEOUT_S)
    finally:
        assert agent.stop()
        asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    df = store.read_series(
        site.id,
        ["meter.heat_power_w"],
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
    )
    assert (df.iloc[:, 0] == 50_000.0).all()
