"""Edge store-and-forward: the buffer, the forwarder, and the agent with a cut link and SIGKILL.

Upstream is either the real HTTP push endpoint (:func:`heatreuse.telemetry.http.create_ingest_app`
on uvicorn, SQLite store) or MQTT: the real Mosquitto at 127.0.0.1:1883 reached
through :class:`MqttProxy` (a TCP relay on loopback that can cut the link and
hold a PUBACK), with an in-process ``heatreuse serve`` (:class:`IngestService`,
MQTT only, SQLite store) subscribed to the central topic prefix. Local input is
the same Mosquitto with another prefix. Every test uses its own topic prefixes
and client ids; sessions and retained messages are removed afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
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
from heatreuse.services.edge import EdgeAgent, EdgeConfig, parse_upstream
from heatreuse.services.serve import IngestService, ServeConfig
from heatreuse.site import Site
from heatreuse.store import open_store
from heatreuse.telemetry import Ingestor, RawReading
from heatreuse.telemetry.edge import EdgeBuffer, Forwarder, MqttTransport, readings_url
from heatreuse.telemetry.http import create_ingest_app
from heatreuse.telemetry.mqtt import TopicLayout, batch_payload, parse_message, wait_until

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
        self.store = open_store(f"sqlite:///{db}", create=True)
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

    # the interface shared with MqttCentral (the SIGKILL test runs on both)
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold(self, n: int) -> None:
        self.hold_request = n

    def release_held(self) -> None:
        self.release.set()

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


# --------------------------------------------------------------------------- mqtt upstream
def _split_packet(buf: bytes) -> tuple[bytes, bytes] | None:
    """(first MQTT control packet, rest) of ``buf``, or None while it is incomplete."""
    length, mult, i = 0, 1, 1
    while True:
        if i >= len(buf) or i > 4:
            return None
        byte = buf[i]
        length += (byte & 0x7F) * mult
        mult *= 128
        i += 1
        if not byte & 0x80:
            break
    end = i + length
    return (buf[:end], buf[end:]) if len(buf) >= end else None


def _publish_payload(packet: bytes) -> bytes | None:
    """Payload of an MQTT 5 PUBLISH packet (None for other packets)."""
    if packet[0] >> 4 != 3:
        return None
    i = 1
    while packet[i] & 0x80:  # remaining length
        i += 1
    i += 1
    i += 2 + int.from_bytes(packet[i : i + 2], "big")  # topic
    if (packet[0] >> 1) & 3:
        i += 2  # packet id
    props, mult = 0, 1
    while True:  # property length
        byte = packet[i]
        props += (byte & 0x7F) * mult
        mult *= 128
        i += 1
        if not byte & 0x80:
            break
    return packet[i + props :]


class MqttProxy:
    """A TCP relay on a free loopback port between MQTT clients and the broker.

    Records the payloads of the PUBLISH packets clients send (in wire order),
    can cut the link (every connection closed, port closed) and restore it, and
    can hold the n-th PUBACK of the broker: the batch reached the broker, its
    acknowledgement never reaches the client (the connection stays open).
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.published: list[bytes] = []
        self.hold_puback: int | None = None
        self.held = threading.Event()
        self._pubacks = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._server: socket.socket | None = None

    def start(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port))
        server.settimeout(0.05)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while self._server is server:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            up = socket.create_connection(BROKER)
            with self._lock:
                self._conns += [conn, up]
            threading.Thread(
                target=self._pump, args=(conn, up, self._to_broker), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(up, conn, self._to_client), daemon=True
            ).start()

    def _to_broker(self, packet: bytes) -> bool:
        payload = _publish_payload(packet)
        if payload is not None:
            with self._lock:
                self.published.append(payload)
        return True

    def _to_client(self, packet: bytes) -> bool:
        if packet[0] >> 4 != 4:  # not a PUBACK
            return True
        with self._lock:
            self._pubacks += 1
            if self.hold_puback is not None and self._pubacks == self.hold_puback:
                self.held.set()
                return False
        return True

    def _pump(
        self, src: socket.socket, dst: socket.socket, inspect: Callable[[bytes], bool]
    ) -> None:
        buf, holding = b"", False
        try:
            while data := src.recv(65536):
                if holding:
                    continue  # swallow everything after the held packet
                buf += data
                out = b""
                while (split := _split_packet(buf)) is not None:
                    packet, buf = split
                    if not inspect(packet):
                        holding = True
                        break
                    out += packet
                dst.sendall(out)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        """Close the port and every connection (the clients see the link drop)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def batches(self) -> list[list[float]]:
        """Values of every batch published through the proxy, in wire order."""
        with self._lock:
            payloads = list(self.published)
        return [[r["value"] for r in json.loads(p)["readings"]] for p in payloads]


class MqttCentral:
    """``heatreuse serve --mqtt`` in process (own prefix and client id, SQLite store), via a proxy.

    Counters add up over restarts of the service (``stop_serve``/``start_serve``).
    """

    def __init__(self, site: Site, db: Path) -> None:
        tag = uuid.uuid4().hex[:10]
        self.site = site
        self.prefix = f"hrtest-{tag}/central/{site.id}"
        self.client_id = f"hrtest-serve-{tag}"
        self.store = open_store(f"sqlite:///{db}", create=True)
        self.proxy = MqttProxy()
        self.service: IngestService | None = None
        self._past: dict[str, int] = {"accepted": 0, "duplicates": 0, "quarantined_total": 0}

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.proxy.port}/{self.prefix}"

    @property
    def requests(self) -> list[list[float]]:
        return self.proxy.batches()

    @property
    def held(self) -> threading.Event:
        return self.proxy.held

    def hold(self, n: int) -> None:
        self.proxy.hold_puback = n

    def release_held(self) -> None:
        """Nothing to do: the broker took the batch; only its PUBACK was lost."""

    def start_serve(self) -> None:
        config = ServeConfig(
            mqtt=BROKER,
            http=None,
            topic_prefix=self.prefix,
            client_id=self.client_id,
            session_expiry_s=300,
        )
        self.service = IngestService(self.site, config, store=self.store)
        self.service.start()
        assert self.service.wait_ready(TIMEOUT_S)

    def stop_serve(self) -> None:
        if self.service is not None:
            assert self.service.stop()
            assert self.service.ingestor is not None
            now = self.service.ingestor.counters()
            for key in self._past:
                self._past[key] += now[key]
            self.service = None

    def start(self) -> None:
        self.start_serve()
        self.proxy.start()

    def counters(self) -> dict[str, int]:
        out = dict(self._past)
        if self.service is not None and self.service.ingestor is not None:
            now = self.service.ingestor.counters()
            for key in out:
                out[key] += now[key]
        return out

    def close(self) -> None:
        self.proxy.cut()
        self.stop_serve()
        self.store.close()
        c = _mqtt(self.client_id, clean=True)  # drops serve's session
        wait_until(c.is_connected, 5.0)
        c.disconnect()
        c.loop_stop()
        status = TopicLayout(self.site.id, self.prefix).service_status_topic("ingest")
        publish([(status, b"")], retain=True)


@pytest.fixture
def mqtt_central(site: Site, tmp_path: Path) -> Iterator[MqttCentral]:
    central = MqttCentral(site, tmp_path / "central.db")
    yield central
    central.close()


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


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_upstream_that_does_not_resolve_or_refuses_is_named_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buf = EdgeBuffer(tmp_path / "edge.db")
    with caplog.at_level(logging.INFO, logger="heatreuse.telemetry.edge"):
        for url, why in (
            ("http://nonexistent.invalid:8080/api/v1/sites/s/readings", "does not resolve"),
            (f"http://127.0.0.1:{free_port()}/api/v1/sites/s/readings", "refuses connections"),
        ):
            caplog.clear()
            fwd = Forwarder(buf, url)
            fwd.probe_at_start()
            (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert why in warning.getMessage() and "not reachable at start" in warning.getMessage()
            assert str(buf.path) in warning.getMessage()
            # and it keeps buffering: readings are accepted locally, the watermark stays
            buf.ingest([RawReading("hx.heat_power_w", at(1), 1.0, "t")])
            with pytest.raises(IngestError):
                fwd.send_one()
            assert buf.watermark() == 0 and buf.pending() >= 1
            fwd.stop()
    buf.close()


def test_forwarder_logs_state_changes_and_a_summary_not_every_post(
    site: Site, tmp_path: Path, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    buf = EdgeBuffer(tmp_path / "edge.db")
    clock = FakeClock()
    fwd = Forwarder(
        buf,
        readings_url(f"http://127.0.0.1:{upstream.port}", site.id),  # nothing listens yet
        batch_size=5,
        min_backoff_s=0.02,
        max_backoff_s=0.05,
        clock=clock,
    )
    with caplog.at_level(logging.DEBUG):
        fwd.start()
        try:
            buf.ingest([RawReading("hx.heat_power_w", at(k), float(k), "t") for k in range(10)])
            assert wait_until(lambda: fwd.stats.failures >= 3, TIMEOUT_S)
            upstream.start()
            assert wait_until(lambda: buf.pending() == 0, TIMEOUT_S)
            for round_ in range(1, 6):  # more POSTs while the link is up
                k0 = 10 * round_
                buf.ingest(
                    [RawReading("hx.heat_power_w", at(k), float(k), "t") for k in range(k0, k0 + 7)]
                )
                assert wait_until(lambda: buf.pending() == 0, TIMEOUT_S)
            clock.t += 61.0  # a minute later: the summary
            assert wait_until(
                lambda: any("last 61 s" in r.getMessage() for r in caplog.records), TIMEOUT_S
            )
        finally:
            fwd.stop()
    posts = len(upstream.requests)
    assert posts >= 7  # 2 batches of 5, then at least one per round
    mine = [r for r in caplog.records if r.name == "heatreuse.telemetry.edge"]
    info_up = [r.getMessage() for r in mine if r.levelno >= logging.INFO]
    # the start warning names the refusal; no second "link down" while it stays down
    assert [m for m in info_up if "not reachable at start" in m and "refuses" in m]
    assert not [m for m in info_up if "upstream link down" in m]
    assert len([m for m in info_up if "up again after" in m]) == 1
    (summary,) = [m for m in info_up if "last 61 s" in m]
    assert "45 readings buffered, 45 forwarded in" in summary and "0 pending" in summary
    assert summary.endswith(" up")
    assert len(info_up) <= 4  # start, up again, summary: not a line per POST
    # the HTTP client logs nothing per request at INFO
    assert not [r for r in caplog.records if r.name.startswith("httpx") and r.levelno >= 20]
    # failures after the first are at debug level
    assert [r for r in mine if r.levelno == logging.DEBUG and "in a row" in r.getMessage()]
    buf.close()


def test_parse_upstream_forms_and_errors(site: Site) -> None:
    http = parse_upstream("http://c:8080", "s")
    assert (http.scheme, http.url) == ("http", "http://c:8080/api/v1/sites/s/readings")
    default = parse_upstream("mqtt://central", "s")
    assert (default.host, default.port, default.batch_topic) == (
        "central",
        1883,
        "heatreuse/s/batch",
    )
    assert default.url == "mqtt://central:1883/heatreuse/s/batch"
    custom = parse_upstream("MQTT://central-b:1884/tenant-a/s/", "s")
    assert (custom.port, custom.topic_prefix, custom.batch_topic) == (
        1884,
        "tenant-a/s",
        "tenant-a/s/batch",
    )
    assert parse_upstream("mqtt://[::1]:1883", "s").url == "mqtt://[::1]:1883/heatreuse/s/batch"
    # the batch topic is the one serve's layout classifies as a batch
    assert TopicLayout("s", custom.topic_prefix).classify(custom.batch_topic) == ("batch", "batch")
    cases = {
        "ftp://c:21": "got scheme 'ftp'",
        "central:1883": "the HTTP endpoint .*http://HOST:PORT.*mqtt://.*HOST:PORT/TOPIC-PREFIX.*got",
        "mqtt://c:0": "HOST and PORT 1..65535",
        "mqtt://c:port": "HOST and PORT 1..65535",
        "mqtt://:1883/p": "HOST and PORT",
        "mqtt://c/p/#": "without '\\?' or '#'",
        "mqtt://c/p?x=1": "without '\\?' or '#'",
        "mqttx://c/p": "got scheme 'mqttx'",
        "mqtt://c/a/+/b": "without '#', '\\+'",
    }
    for text, message in cases.items():
        with pytest.raises(IngestError, match="--upstream") as err:
            parse_upstream(text, "s")
        assert re.search(message, str(err.value)), (text, str(err.value))
        assert "\n" not in str(err.value)
    # a user (the password from a file or the environment) and TLS: never in the URL shown
    tls = parse_upstream("mqtts://edge-s-gw1:pw@c/heatreuse/s", "s")
    assert tls.url == "mqtts://edge-s-gw1@c:8883/heatreuse/s/batch"
    assert tls.connection is not None and tls.connection.tls
    assert tls.connection.password == "pw" and "pw" not in repr(tls)


def test_agent_refuses_an_mqtt_upstream_its_own_subscription_would_receive(site: Site) -> None:
    local = f"hrtest-{uuid.uuid4().hex[:6]}/{site.id}"
    for upstream in (f"mqtt://localhost:1883/{local}", f"mqtt://127.0.0.1/{local}/deeper"):
        with pytest.raises(IngestError, match="a loop"):
            EdgeAgent(site, EdgeConfig(upstream=upstream, mqtt=BROKER, topic_prefix=local))
    # another prefix on the same broker, or the same prefix on another broker, is fine
    ok = EdgeAgent(
        site, EdgeConfig(upstream="mqtt://127.0.0.1/central", mqtt=BROKER, topic_prefix=local)
    )
    assert ok.url == "mqtt://127.0.0.1:1883/central/batch"
    EdgeAgent(site, EdgeConfig(upstream=f"mqtt://127.0.0.1:1884/{local}", mqtt=BROKER))


def test_mqtt_transport_acknowledges_only_a_puback_that_someone_receives(
    site: Site, tmp_path: Path
) -> None:
    layout = TopicLayout(site.id, f"hrtest-{uuid.uuid4().hex[:10]}/central/{site.id}")
    buf = EdgeBuffer(tmp_path / "edge.db")
    buf.ingest([RawReading("hx.heat_power_w", at(k), float(k), "t") for k in range(1, 8)])
    buf.ingest([RawReading("mqtt:hx/secondary_supply_temp_c", 1_790_000_000, 41.5, "t")])

    def forwarder(port: int, connect_wait_s: float) -> Forwarder:
        cid = f"hrtest-fwd-{uuid.uuid4().hex[:8]}"
        transport = MqttTransport(
            "127.0.0.1", port, layout.batch_topic, client_id=cid, connect_wait_s=connect_wait_s
        )
        return Forwarder(buf, transport, batch_size=5)

    closed = forwarder(free_port(), 0.5)
    with pytest.raises(IngestError, match="not connected to the broker"):
        closed.send_one()
    nobody = forwarder(BROKER[1], TIMEOUT_S)
    with pytest.raises(IngestError, match="No matching subscribers"):
        nobody.send_one()  # nobody subscribes: the broker dropped it, the batch stays
    assert buf.watermark() == 0 and buf.pending() == 8
    got: list[bytes] = []
    sub = _mqtt()
    sub.on_message = lambda client, userdata, msg: got.append(bytes(msg.payload))
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.subscribe(layout.batch_topic, qos=1)
    try:
        assert subscribed.wait(TIMEOUT_S)
        assert nobody.send_one() == 5 and buf.watermark() == 5
        assert nobody.send_one() == 3 and buf.watermark() == 8
        assert nobody.send_one() == 0
        assert nobody.as_dict()["url"] == f"mqtt://127.0.0.1:1883/{layout.batch_topic}"
        assert wait_until(lambda: len(got) == 2, TIMEOUT_S)
    finally:
        sub.disconnect()
        sub.loop_stop()
        for f in (closed, nobody):
            f.stop()
        buf.close()
    # exactly the batch payload serve parses, in order
    parsed = [parse_message(layout, layout.batch_topic, payload) for payload in got]
    assert all(p.kind == "batch" and p.rejection is None for p in parsed)
    readings = [r for p in parsed for r in p.readings]
    assert [(r.point, r.ts, r.value) for r in readings] == [
        *(("hx.heat_power_w", at(k), float(k)) for k in range(1, 8)),
        ("mqtt:hx/secondary_supply_temp_c", 1_790_000_000, 41.5),
    ]


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


def test_mqtt_upstream_cut_and_serve_down_replays_in_order_exactly_once(
    site: Site, tmp_path: Path, mqtt_names: tuple[str, str], mqtt_central: MqttCentral
) -> None:
    prefix, cid = mqtt_names
    layout = TopicLayout(site.id, prefix)
    central = mqtt_central
    central.start_serve()  # the link to its broker (the proxy) is down
    agent = EdgeAgent(
        site,
        EdgeConfig(
            upstream=central.url,
            buffer_path=tmp_path / "edge.db",
            mqtt=BROKER,
            topic_prefix=prefix,
            client_id=cid,
            session_expiry_s=120,
            batch_size=40,
            upstream_connect_wait_s=0.2,
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
        assert "not connected to the broker" in fwd.stats.last_error
        central.proxy.start()  # the link comes back
        assert wait_until(lambda: central.counters()["accepted"] == 300, TIMEOUT_S)
        assert wait_until(lambda: buf.pending() == 0, TIMEOUT_S)
        central.proxy.cut()  # cut again while readings arrive
        failures = fwd.stats.failures
        publish(messages(layout, list(range(300, 600)), per_message=10))
        assert wait_until(lambda: buf.pending() == 300, TIMEOUT_S)
        assert wait_until(lambda: fwd.stats.failures > failures, TIMEOUT_S)
        # serve goes down too: its persistent session stays on the broker and queues
        central.stop_serve()
        central.proxy.start()
        assert wait_until(lambda: buf.pending() == 0, TIMEOUT_S), agent.stats()
        assert central.counters()["accepted"] == 300  # the batches wait on the broker
        central.start_serve()
        assert wait_until(lambda: central.counters()["accepted"] == 600, TIMEOUT_S), (
            central.counters(),
            agent.stats(),
        )
        assert agent.stats()["forwarder"]["link_up"]
    finally:
        assert agent.stop()
    counters = central.counters()
    assert counters["accepted"] == 600 and counters["duplicates"] == 0
    assert counters["quarantined_total"] == 0
    # in order on the wire, each reading exactly once, and stored once
    assert [v for batch in central.requests for v in batch] == [float(v) for v in range(600)]
    assert central.store.count_readings(site.id) == 600


def _agent_cmd(site_file: Path, upstream: str, buffer: Path, prefix: str, cid: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "heatreuse.cli.main",
        "edge",
        str(site_file),
        "--upstream",
        upstream,
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


@pytest.fixture(params=["http", "mqtt"])
def central(request: pytest.FixtureRequest, site: Site, tmp_path: Path) -> Iterator[Any]:
    """The upstream of the SIGKILL test: HTTP push endpoint, or serve --mqtt behind a proxy."""
    up: Upstream | MqttCentral
    if request.param == "http":
        up = Upstream(site, tmp_path / "central.db", free_port())
    else:
        up = MqttCentral(site, tmp_path / "central.db")
    yield up
    up.close()


def test_sigkill_mid_batch_then_restart_counts_every_reading_once(
    site: Site, tmp_path: Path, central: Any, mqtt_names: tuple[str, str]
) -> None:
    """HTTP: the upstream holds the 3rd request; MQTT: the proxy holds the broker's 3rd PUBACK.

    Either way the upstream takes the 3rd batch and the agent dies before it
    learns so; the restarted agent sends that batch again and nothing else twice.
    """
    upstream = central
    prefix, cid = mqtt_names
    layout = TopicLayout(site.id, prefix)
    buffer = tmp_path / "edge.db"
    env = {**os.environ, "HEATREUSE_HOME": str(tmp_path)}
    upstream.hold(3)  # the third batch is in flight when the agent dies
    upstream.start()
    cmd = _agent_cmd(EXAMPLE, upstream.url, buffer, prefix, cid)
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
        upstream.release_held()  # the upstream stores the batch; the agent never saw the ack
    assert wait_until(lambda: len(upstream.requests) == 3, TIMEOUT_S)
    # batches hold what was buffered when they were read (up to 50), so sizes may vary
    m = sum(len(r) for r in upstream.requests)
    in_flight = len(upstream.requests[2])
    assert wait_until(lambda: upstream.counters()["accepted"] == m, TIMEOUT_S)
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
