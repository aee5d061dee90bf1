"""MQTT adapter: topic layout and parsing (pure), and the subscriber against Mosquitto.

The broker is the real Mosquitto at 127.0.0.1:1883. It keeps state between
runs, so every test uses its own topic prefix and client ids, removes its
sessions (clean start with session expiry 0) and clears retained messages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from heatreuse.errors import IngestError, StoreError
from heatreuse.site import Site
from heatreuse.telemetry import Ingestor, RawReading
from heatreuse.telemetry.mqtt import (
    MqttSettings,
    MqttSubscriber,
    TopicLayout,
    batch_payload,
    check_point_topics,
    parse_message,
    point_payload,
    wait_until,
)

BROKER = ("127.0.0.1", 1883)
TIMEOUT_S = 20.0


# --------------------------------------------------------------------------- helpers
def _client(client_id: str = "") -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    c.connect(*BROKER)
    c.loop_start()
    return c


def publish(
    messages: Sequence[tuple[str, bytes | str]], qos: int = 1, retain: bool = False
) -> None:
    """Publish and wait until the broker acknowledged every message."""
    c = _client()
    try:
        infos = [c.publish(t, p, qos=qos, retain=retain) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout=TIMEOUT_S)
    finally:
        c.disconnect()
        c.loop_stop()


def forget_session(client_id: str) -> None:
    """Remove a persistent session from the broker (clean start, session expiry 0)."""
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    c.connect(*BROKER, clean_start=True)
    c.loop_start()
    wait_until(c.is_connected, 5.0)
    c.disconnect()
    c.loop_stop()


def clear_retained(topics: Sequence[str]) -> None:
    publish([(t, b"") for t in topics], qos=1, retain=True)


#: Reference time of the test readings (fixed, so ts(k) never collides across calls).
REF = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=10)


def ts(seconds_ago: int) -> str:
    """ISO text of REF - seconds_ago (one timestamp per k, whenever it is called)."""
    return (REF - dt.timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def prefix(site: Site) -> str:
    """A site topic prefix of its own: ``hrtest-<random>/<site>``."""
    return f"hrtest-{uuid.uuid4().hex[:10]}/{site.id}"


@pytest.fixture
def client_ids(prefix: str) -> Iterator[list[str]]:
    """Client ids a test used: their sessions, then the retained availability, are removed."""
    ids: list[str] = []
    yield ids
    for cid in ids:
        forget_session(cid)  # (the broker may publish a session's will when it ends)
    clear_retained([f"{prefix}/_ingest/status"])


def subscriber(
    layout: TopicLayout, sink: Any, client_ids: list[str], client_id: str | None = None, **kw: Any
) -> MqttSubscriber:
    cid = client_id or f"hrtest-sub-{uuid.uuid4().hex[:10]}"
    if cid not in client_ids:
        client_ids.append(cid)
    settings = MqttSettings(
        host=BROKER[0],
        port=BROKER[1],
        client_id=cid,
        session_expiry_s=120,
        reconnect_min_delay_s=1,
        reconnect_max_delay_s=2,
        availability_topic=layout.service_status_topic("ingest"),
        **kw,
    )
    return MqttSubscriber(layout, sink, settings)


# --------------------------------------------------------------------------- pure parsing
LAYOUT = TopicLayout("pool-potsdam")  # default prefix heatreuse/<site>


def test_layout_topics() -> None:
    assert LAYOUT.subscription == "heatreuse/pool-potsdam/#"
    assert LAYOUT.batch_topic == "heatreuse/pool-potsdam/batch"
    assert LAYOUT.availability_topic == "heatreuse/pool-potsdam/availability"
    assert LAYOUT.point_topic("hx/heat_power_w") == "heatreuse/pool-potsdam/hx/heat_power_w"
    assert LAYOUT.service_status_topic("ingest") == "heatreuse/pool-potsdam/_ingest/status"
    assert LAYOUT.classify("heatreuse/pool-potsdam/pump/p-primary/status") == (
        "point",
        "pump/p-primary/status",
    )
    assert LAYOUT.classify("heatreuse/pool-potsdam/availability")[0] == "availability"
    assert LAYOUT.classify("heatreuse/pool-potsdam/status")[0] == "availability"
    assert LAYOUT.classify("heatreuse/pool-potsdam/_ingest/status")[0] == "service"
    assert LAYOUT.classify("other/pool-potsdam/x")[0] == "foreign"
    assert TopicLayout("s", "a/b/c/").base == "a/b/c"
    assert TopicLayout("s", "a/b/c").subscription == "a/b/c/#"


@pytest.mark.parametrize("prefix", ["x/#", "", "a/+/b", "$SYS/x"])
def test_layout_refuses_wildcards(prefix: str) -> None:
    with pytest.raises(IngestError, match="MQTT topic prefix"):
        TopicLayout("s", prefix)


def test_reserved_point_topics_refused() -> None:
    check_point_topics(LAYOUT, ["hx/heat_power_w", "pump/p/status"])
    for bad in ("batch", "availability", "status"):
        with pytest.raises(IngestError, match="reserved"):
            check_point_topics(LAYOUT, [bad])
    with pytest.raises(IngestError, match="reserved"):
        check_point_topics(LAYOUT, ["_ingest/x"])


def test_parse_point_message() -> None:
    topic = LAYOUT.point_topic("hx/heat_power_w")
    msg = parse_message(LAYOUT, topic, point_payload("2026-10-01T00:00:00Z", 1234.5))
    assert msg.kind == "point" and msg.rejection is None
    (r,) = msg.readings
    assert r.point == "mqtt:hx/heat_power_w"
    assert r.ts == "2026-10-01T00:00:00Z" and r.value == 1234.5
    assert r.source == f"mqtt:{topic}"
    assert r.raw == '{"ts":"2026-10-01T00:00:00Z","value":1234.5}'


def test_parse_batch_message_with_a_malformed_item() -> None:
    payload = json.dumps(
        {
            "readings": [
                {"point_id": "hx.heat_power_w", "ts": 1790000000, "value": 1.0},
                {"point_id": "hx.heat_power_w", "value": 2.0},
                "junk",
            ]
        }
    ).encode()
    msg = parse_message(LAYOUT, LAYOUT.batch_topic, payload)
    assert msg.kind == "batch" and msg.rejection is None
    good, missing_ts, junk = msg.readings
    assert good.point == "hx.heat_power_w" and good.ts == 1790000000
    assert missing_ts.point == "" and "value" in (missing_ts.raw or "")
    assert junk.point == "" and junk.raw == '"junk"'
    assert {r.source for r in msg.readings} == {f"mqtt:{LAYOUT.batch_topic}"}


@pytest.mark.parametrize(
    "topic,payload,expect",
    [
        ("heatreuse/pool-potsdam/hx/heat_power_w", b"not json", "not JSON"),
        ("heatreuse/pool-potsdam/hx/heat_power_w", b"42", "expected {"),
        ("heatreuse/pool-potsdam/hx/heat_power_w", b'{"value": 1}', "got ['value']"),
        ("heatreuse/pool-potsdam/batch", b'{"items": []}', "got ['items']"),
        ("heatreuse/pool-potsdam/batch", b"[1, 2]", "got list"),
        ("heatreuse/pool-potsdam/batch", b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_parse_rejections_name_topic_and_expectation(
    topic: str, payload: bytes, expect: str
) -> None:
    msg = parse_message(LAYOUT, topic, payload)
    assert msg.readings == ()
    assert msg.rejection is not None
    assert msg.rejection.source == f"mqtt:{topic}"
    assert topic in msg.rejection.detail and expect in msg.rejection.detail
    if payload == b"\xff\xfe\x00":
        assert msg.rejection.raw == b"\xff\xfe\x00"  # the bytes: the store caps and escapes
    else:
        assert msg.rejection.raw == payload.decode()


def test_status_and_service_topics_are_not_readings() -> None:
    for topic in (LAYOUT.availability_topic, LAYOUT.service_status_topic("ingest"), "x/y"):
        msg = parse_message(LAYOUT, topic, b"online")
        assert msg.readings == () and msg.rejection is None


def test_batch_payload_round_trip() -> None:
    data = batch_payload([("a.temp_c", "2026-10-01T00:00:00Z", 1.5), ("b.status", 5, True)])
    msg = parse_message(LAYOUT, LAYOUT.batch_topic, data)
    assert [(r.point, r.ts, r.value) for r in msg.readings] == [
        ("a.temp_c", "2026-10-01T00:00:00Z", 1.5),
        ("b.status", 5, True),
    ]


# --------------------------------------------------------------------------- live, Mosquitto
def test_subscriber_stores_points_batches_and_quarantines_bad_payloads(
    site: Site, sqlite_store: Any, prefix: str, client_ids: list[str]
) -> None:
    layout = TopicLayout(site.id, prefix)
    ingestor = Ingestor(site, sqlite_store)
    sub = subscriber(layout, ingestor, client_ids)
    sub.start()
    try:
        assert sub.wait_connected(TIMEOUT_S)
        batch = [("hx.heat_power_w", ts(k), 1000.0 + k) for k in range(1, 51)]
        publish(
            [
                (layout.point_topic("hx/secondary_supply_temp_c"), point_payload(ts(1), 41.5)),
                (layout.point_topic("pump/p-primary/status"), point_payload(ts(1), True)),
                (layout.batch_topic, batch_payload(batch)),
                (layout.point_topic("hx/heat_power_w"), b"{broken"),
                (layout.availability_topic, b"online"),
            ]
        )
        # every QoS 1 message is acknowledged, the availability message too (not a reading)
        assert wait_until(lambda: sub.stats()["acked_messages"] == 5, TIMEOUT_S), sub.stats()
        assert sqlite_store.count_readings(site.id) == 52
        assert sqlite_store.count_readings(site.id, "pump.p-primary.status") == 1
        q = sqlite_store.list_quarantine(site.id)
        assert len(q) == 1
        assert q[0].source == f"mqtt:{layout.point_topic('hx/heat_power_w')}"
        assert q[0].reason == "unparseable" and q[0].raw_payload == "{broken"
        stats = sub.stats()
        assert stats["received_messages"] == 5
        assert stats["ignored_messages"] == 1  # the availability topic
        assert stats["rejected_messages"] == 1
        assert stats["readings"] == 52
    finally:
        assert sub.stop()


def test_queued_qos1_messages_are_delivered_after_a_restart(
    site: Site, sqlite_store: Any, prefix: str, client_ids: list[str]
) -> None:
    layout = TopicLayout(site.id, prefix)
    cid = f"hrtest-persist-{uuid.uuid4().hex[:8]}"
    first = subscriber(layout, Ingestor(site, sqlite_store), client_ids, client_id=cid)
    first.start()
    assert first.wait_connected(TIMEOUT_S)
    assert first.stop()
    # published while the subscriber is down: the broker queues them in the session
    n = 40
    publish(
        [
            (layout.batch_topic, batch_payload([("hx.heat_power_w", ts(k), float(k))]))
            for k in range(1, n + 1)
        ]
    )
    assert sqlite_store.count_readings(site.id) == 0
    second = subscriber(layout, Ingestor(site, sqlite_store), client_ids, client_id=cid)
    second.start()
    try:
        assert wait_until(lambda: sqlite_store.count_readings(site.id) == n, TIMEOUT_S)
        assert wait_until(lambda: second.stats()["acked_messages"] == n, TIMEOUT_S)
    finally:
        assert second.stop()


class FailingSink:
    """Raises StoreError on every call while ``failing`` is set; then forwards."""

    def __init__(self, target: Ingestor) -> None:
        self.target = target
        self.failing = threading.Event()
        self.failing.set()
        self.calls = 0

    def ingest(self, readings: Sequence[RawReading]) -> Any:
        self.calls += 1
        if self.failing.is_set():
            raise StoreError("test: store down")
        return self.target.ingest(readings)

    def reject(self, *args: Any, **kw: Any) -> None:
        self.target.reject(*args, **kw)


def test_messages_are_acked_only_after_the_store_committed(
    site: Site, sqlite_store: Any, prefix: str, client_ids: list[str]
) -> None:
    layout = TopicLayout(site.id, prefix)
    cid = f"hrtest-ack-{uuid.uuid4().hex[:8]}"
    sink = FailingSink(Ingestor(site, sqlite_store))
    sub = subscriber(layout, sink, client_ids, client_id=cid)
    sub.start()
    assert sub.wait_connected(TIMEOUT_S)
    n = 10
    publish(
        [
            (layout.batch_topic, batch_payload([("hx.heat_power_w", ts(k), float(k))]))
            for k in range(1, n + 1)
        ]
    )
    assert wait_until(lambda: sink.calls >= 2, TIMEOUT_S)
    assert sub.stats()["acked_messages"] == 0
    assert sub.stats()["store_failures"] >= 2
    # give up while the store is down: nothing was acknowledged, so the broker keeps them
    assert not sub.stop(timeout_s=2.0)
    assert sqlite_store.count_readings(site.id) == 0
    again = subscriber(layout, Ingestor(site, sqlite_store), client_ids, client_id=cid)
    again.start()
    try:
        assert wait_until(lambda: sqlite_store.count_readings(site.id) == n, TIMEOUT_S)
    finally:
        assert again.stop()


def test_store_recovery_without_restart(
    site: Site, sqlite_store: Any, prefix: str, client_ids: list[str]
) -> None:
    layout = TopicLayout(site.id, prefix)
    sink = FailingSink(Ingestor(site, sqlite_store))
    sub = subscriber(layout, sink, client_ids)
    sub.start()
    try:
        assert sub.wait_connected(TIMEOUT_S)
        publish([(layout.point_topic("hx/heat_power_w"), point_payload(ts(3), 5.0))])
        assert wait_until(lambda: sink.calls >= 1, TIMEOUT_S)
        sink.failing.clear()
        assert wait_until(lambda: sub.stats()["acked_messages"] == 1, TIMEOUT_S)
        assert sqlite_store.count_readings(site.id) == 1
        assert sub.stats()["last_error"] == ""
    finally:
        assert sub.stop()


class TcpProxy:
    """A loopback TCP proxy to the broker whose link can be cut and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", self.port))
        lst.listen()
        self.port = lst.getsockname()[1]
        self._listener = lst
        threading.Thread(target=self._accept, args=(lst,), daemon=True).start()

    def _accept(self, lst: socket.socket) -> None:
        while True:
            try:
                client, _ = lst.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Close the listener and every open connection (the link breaks)."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_reconnects_after_a_broken_link_and_gets_what_was_queued(
    site: Site, sqlite_store: Any, prefix: str, client_ids: list[str]
) -> None:
    layout = TopicLayout(site.id, prefix)
    proxy = TcpProxy(BROKER)
    proxy.start()
    cid = f"hrtest-link-{uuid.uuid4().hex[:8]}"
    client_ids.append(cid)
    sub = MqttSubscriber(
        layout,
        Ingestor(site, sqlite_store),
        MqttSettings(
            host="127.0.0.1",
            port=proxy.port,
            client_id=cid,
            session_expiry_s=120,
            keepalive_s=5,
            reconnect_min_delay_s=1,
            reconnect_max_delay_s=2,
            availability_topic=layout.service_status_topic("ingest"),
        ),
    )
    # watch the subscriber's availability: the broker publishes its will ("offline")
    # once it has noticed the broken link
    seen: list[bytes] = []
    watcher = _client()
    watcher.on_message = lambda c, u, m: seen.append(bytes(m.payload))
    watcher.subscribe(layout.service_status_topic("ingest"), qos=1)
    sub.start()
    try:
        assert sub.wait_connected(TIMEOUT_S)
        assert wait_until(lambda: seen[-1:] == [b"online"], TIMEOUT_S)
        publish([(layout.batch_topic, batch_payload([("hx.heat_power_w", ts(1), 1.0)]))])
        assert wait_until(lambda: sqlite_store.count_readings(site.id) == 1, TIMEOUT_S)
        proxy.cut()
        assert wait_until(lambda: not sub.connected, TIMEOUT_S)
        assert wait_until(lambda: seen[-1:] == [b"offline"], TIMEOUT_S)
        # queued by the broker in the subscriber's session while the link is down
        publish(
            [
                (layout.batch_topic, batch_payload([("hx.heat_power_w", ts(k), float(k))]))
                for k in range(2, 12)
            ]
        )
        proxy.start()  # same port: paho reconnects with its backoff
        assert wait_until(lambda: sqlite_store.count_readings(site.id) == 11, TIMEOUT_S), (
            sub.stats(),
            sqlite_store.count_readings(site.id),
        )
        assert sub.stats()["connects"] >= 2
    finally:
        assert sub.stop()
        proxy.cut()
        watcher.disconnect()
        watcher.loop_stop()


# --------------------------------------------------------------------------- hostile input
def test_hostile_payloads_never_stop_ingest(
    site: Site, store: Any, prefix: str, client_ids: list[str]
) -> None:
    """Issue 10: one payload with a lone surrogate stopped MQTT ingest for good.

    The hostile messages come first, then 400 readings (twice the broker's
    in-flight window of 200 unacknowledged messages): all are stored, every
    message is acknowledged, the hostile ones are quarantined.
    """
    layout = TopicLayout(site.id, prefix)
    sub = subscriber(layout, Ingestor(site, store), client_ids)
    sub.start()
    try:
        assert sub.wait_connected(TIMEOUT_S)
        hostile: list[tuple[str, bytes | str]] = [
            (layout.point_topic("hx/heat_power_w"), b'{"ts": "\\ud800", "value": 1}'),
            (
                layout.batch_topic,
                b'{"readings": [{"point_id": "\\ud800", "ts": "' + ts(0).encode() + b'", '
                b'"value": 1}, {"point_id": "hx.heat_power_w", "ts": "\\ud800", "value": 1}]}',
            ),
            (
                layout.point_topic("hx/heat_power_w"),
                b'{"ts": "' + ts(0).encode() + b'\\u0000", "value": 1}',  # trailing NUL
            ),
            (layout.point_topic("hx/heat_power_w"), b'{"ts": "\\u0000", "value": "\\ud800"}'),
            (layout.batch_topic, b"\xed\xa0\x80\x00"),  # a UTF-8-encoded surrogate, a NUL
        ]
        readings = [
            (layout.point_topic("hx/heat_power_w"), point_payload(ts(k), float(k)))
            for k in range(1, 401)
        ]
        publish(hostile + readings)
        total = len(hostile) + len(readings)
        assert wait_until(lambda: sub.stats()["acked_messages"] == total, 60.0), sub.stats()
        assert store.count_readings(site.id) == 400
        q = store.list_quarantine(site.id)
        assert len(q) == 6 and {r.reason for r in q} == {"unparseable"}
        for r in q:
            str(r.raw_payload).encode("utf-8")
            assert "\x00" not in str(r.raw_payload)
        stats = sub.stats()
        assert stats["store_failures"] == 0 and stats["pending_acks"] == 0
        assert stats["oldest_unacked_age_s"] is None
    finally:
        assert sub.stop()


class PoisonSink:
    """Forwards to an Ingestor, but raises a data error (not a StoreError) for value 666."""

    def __init__(self, target: Ingestor) -> None:
        self.target = target

    def ingest(self, readings: Sequence[RawReading]) -> Any:
        if any(r.value == 666 for r in readings):
            raise ValueError("test: this reading breaks the store")
        return self.target.ingest(readings)

    def reject(self, *args: Any, **kw: Any) -> None:
        self.target.reject(*args, **kw)


def test_a_message_the_sink_refuses_is_dead_lettered_and_the_rest_acked(
    site: Site, sqlite_store: Any, prefix: str, client_ids: list[str]
) -> None:
    layout = TopicLayout(site.id, prefix)
    sub = subscriber(layout, PoisonSink(Ingestor(site, sqlite_store)), client_ids)
    sub.start()
    try:
        assert sub.wait_connected(TIMEOUT_S)
        topic = layout.point_topic("hx/heat_power_w")
        messages: list[tuple[str, bytes | str]] = [
            (topic, point_payload(ts(k), 666.0 if k == 5 else float(k))) for k in range(1, 31)
        ]
        publish(messages)
        assert wait_until(lambda: sub.stats()["acked_messages"] == 30, TIMEOUT_S), sub.stats()
        assert sqlite_store.count_readings(site.id) == 29
        (dead,) = sqlite_store.list_quarantine(site.id)
        assert dead.reason == "store_refused" and dead.source == f"mqtt:{topic}"
        assert "ValueError" in dead.detail and "666" in str(dead.raw_payload)
        assert sub.stats()["dead_lettered_messages"] == 1
    finally:
        assert sub.stop()
