"""The live twin against the real Mosquitto on 127.0.0.1:1883, read back with plain paho."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pandas as pd
import pytest

from heatreuse.errors import TwinError
from heatreuse.services.twin import LiveTwin
from heatreuse.site import Site, expand_points, load_site
from heatreuse.telemetry.mqtt_publish import MqttPublisher
from heatreuse.telemetry.twin_points import TwinReadings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
BROKER = ("127.0.0.1", 1883)


class Listener:
    """A plain paho client that records every message under a prefix."""

    def __init__(self, *patterns: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="t-" + uuid.uuid4().hex
        )
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(*BROKER)
        self.client.loop_start()
        self.client.subscribe([(p, 1) for p in patterns])
        assert subscribed.wait(5)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(msg)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> list[mqtt.MQTTMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                msgs = list(self.messages)
            if predicate(msgs):
                return msgs
            time.sleep(0.05)
        raise AssertionError(f"timed out; got {len(msgs)} messages")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"test-twin/{uuid.uuid4().hex[:10]}"
    yield p
    # clean every retained message under the prefix and the discovery node
    cleaner = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    cleaner.connect(*BROKER)
    cleaner.loop_start()
    for topic in (f"{p}/availability",):
        cleaner.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    cleaner.loop_stop()
    cleaner.disconnect()


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Keep:
    def __init__(self) -> None:
        self.chunks: list[TwinReadings] = []

    def start(self) -> None: ...

    def publish(self, readings: TwinReadings) -> None:
        self.chunks.append(readings)

    def close(self) -> None: ...


def test_live_twin_publishes_registry_points(site: Site, prefix: str) -> None:
    sp = expand_points(site)
    node = "heatreuse_" + uuid.uuid4().hex[:8]
    listener = Listener(f"{prefix}/#", f"homeassistant-{node}/#")
    publisher = MqttPublisher(
        *BROKER,
        sp,
        prefix=prefix,
        site_name="Test pool",
        ha_discovery=True,
        discovery_prefix=f"homeassistant-{node}",
        client_id="twin-" + uuid.uuid4().hex,
    )
    keep = Keep()
    clock = Clock(pd.Timestamp("2026-10-05T12:00Z").timestamp())
    twin = LiveTwin(
        site, speed=600, step_s=10, start="2026-10-05T06:00Z", sinks=[publisher, keep], clock=clock
    )
    twin.start_sinks()
    try:
        clock.t += 6.0  # 60 simulated minutes... 6 s x 600 = 1 h: 360 steps
        assert twin.advance() == 360
        expected = sum(int(c.sampled.sum()) for c in keep.chunks)
        msgs = listener.wait_for(
            lambda m: (
                sum(
                    1
                    for x in m
                    if not x.topic.endswith("availability") and x.topic.startswith(prefix)
                )
                >= expected
            )
        )
    finally:
        twin.close()
        publisher_topics = list(publisher.discovery_topics)
    try:
        by_topic: dict[str, list[Any]] = {}
        for m in msgs:
            by_topic.setdefault(m.topic, []).append(m)
        # every registry point on its documented topic, payload JSON {"ts", "value"}
        for p in sp.points:
            topic = f"{prefix}/{p.id.replace('.', '/')}"
            assert topic in by_topic, topic
        last = keep.chunks[-1]
        energy = by_topic[f"{prefix}/meter/heat_energy_kwh"]
        assert all(m.qos == 1 for m in energy)  # meter registers at QoS 1
        assert all(m.qos == 0 for m in by_topic[f"{prefix}/meter/heat_power_w"])
        payload = json.loads(energy[-1].payload)
        assert set(payload) == {"ts", "value"}
        assert payload["ts"].endswith("Z")
        ts = pd.Timestamp(payload["ts"])
        k = list(last.index).index(ts)
        assert payload["value"] == pytest.approx(last.series("meter.heat_energy_kwh").iloc[k])
        temp = json.loads(by_topic[f"{prefix}/customer/supply_temp_c"][-1].payload)
        assert temp["value"] == pytest.approx(last.series("customer.supply_temp_c").iloc[-1])
        assert len(by_topic[f"{prefix}/meter/heat_power_w"]) == 360  # 10 s point, 10 s steps
        assert len(energy) == 60  # 60 s register
        # availability: online (retained) then offline on close
        avail = [m.payload for m in by_topic[f"{prefix}/availability"]]
        assert avail[0] == b"online"
        final = listener.wait_for(
            lambda m: any(
                x.topic == f"{prefix}/availability" and x.payload == b"offline" for x in m
            )
        )
        assert final
        # Home Assistant discovery
        disc = {m.topic: json.loads(m.payload) for m in msgs if m.topic.startswith("homeassistant")}
        assert len(disc) == len(sp.points)
        cfg = disc[
            f"homeassistant-{node}/sensor/heatreuse_pool-potsdam/meter_heat_energy_kwh/config"
        ]
        for key in (
            "name",
            "unique_id",
            "state_topic",
            "device_class",
            "state_class",
            "unit_of_measurement",
            "device",
        ):
            assert key in cfg
        assert cfg["state_topic"] == f"{prefix}/meter/heat_energy_kwh"
        # HA 2025.10 deprecated object_id (removed in 2026.4) for default_entity_id, a full
        # entity id: <domain>.<lower-case letters, digits, underscores>
        assert "object_id" not in cfg
        assert cfg["default_entity_id"] == "sensor.heatreuse_pool_potsdam_meter_heat_energy_kwh"
        assert cfg["device_class"] == "energy" and cfg["state_class"] == "total_increasing"
        assert cfg["unit_of_measurement"] == "kWh"
        status_cfg = disc[
            f"homeassistant-{node}/binary_sensor/heatreuse_pool-potsdam/pump_p-primary_status/config"
        ]
        assert status_cfg["payload_on"] == "1"
        assert status_cfg["default_entity_id"] == (
            "binary_sensor.heatreuse_pool_potsdam_pump_p_primary_status"
        )
        assert len({c["default_entity_id"] for c in disc.values()}) == len(disc)
        # retained: a client subscribing later still gets every config
        late = Listener(f"homeassistant-{node}/#")
        try:
            kept = late.wait_for(lambda m: len(m) >= len(sp.points))
            assert all(m.retain for m in kept)
        finally:
            late.close()
    finally:
        listener.close()
        cleaner = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        cleaner.connect(*BROKER)
        cleaner.loop_start()
        for topic in publisher_topics:
            cleaner.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        cleaner.loop_stop()
        cleaner.disconnect()


def test_retained_availability_and_last_will(site: Site, prefix: str) -> None:
    sp = expand_points(site)
    publisher = MqttPublisher(*BROKER, sp, prefix=prefix, client_id="twin-" + uuid.uuid4().hex)
    publisher.start()
    try:
        # wait until "online" is on the broker (a subscriber that was there before the
        # publish receives it live, with retain=0), then subscribe late: retained delivery
        first = Listener(f"{prefix}/availability")
        first.wait_for(lambda m: any(x.payload == b"online" for x in m))
        first.close()
        late = Listener(f"{prefix}/availability")  # subscribes after: gets the retained value
        msgs = late.wait_for(lambda m: len(m) >= 1)
        assert msgs[0].payload == b"online" and msgs[0].retain
        # kill the connection without DISCONNECT: the broker publishes the will
        publisher._client.socket().close()
        msgs = late.wait_for(lambda m: any(x.payload == b"offline" for x in m), timeout=15)
        assert msgs[-1].payload == b"offline"
        late.close()
    finally:
        publisher._client.loop_stop()
        publisher._client = None


def test_unreachable_broker_is_a_user_error(site: Site) -> None:
    publisher = MqttPublisher("127.0.0.1", 1, expand_points(site), connect_timeout_s=2)
    with pytest.raises(TwinError, match=r"--mqtt 127\.0\.0\.1:1"):
        publisher.start()


def _retained(topic: str) -> bytes:
    late = Listener(topic)
    try:
        return bytes(late.wait_for(lambda m: len(m) >= 1)[-1].payload)
    finally:
        late.close()


def test_a_burst_beyond_the_queue_waits_instead_of_dropping_and_offline_follows(
    site: Site, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Meter registers (QoS 1) in a burst larger than the client's queue: publish waits
    for the broker instead of losing them (an unbounded paho queue reuses the 16-bit
    message ids past 65,535 and refuses messages, 'offline' among them)."""
    sp = expand_points(site)
    publisher = MqttPublisher(
        *BROKER,
        sp,
        prefix=prefix,
        client_id="twin-" + uuid.uuid4().hex,
        point_ids=["meter.heat_energy_kwh"],
        max_queued_messages=50,
    )
    n = 1500
    burst = TwinReadings(
        pd.date_range("2026-10-05T06:00Z", periods=n, freq="10s"),
        10,
        ("meter.heat_energy_kwh",),
        np.arange(n, dtype=float)[None, :],
        np.ones((1, n), dtype=bool),
    )
    publisher.start()
    with caplog.at_level(logging.INFO, logger="heatreuse.telemetry.mqtt_publish"):
        publisher.publish(burst)
        publisher.close()
    assert publisher.messages_published == n and publisher.messages_dropped == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert _retained(f"{prefix}/availability") == b"offline"


def test_offline_on_stop_even_when_the_connection_was_lost(
    site: Site, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped while the link is down (the client between reconnects) and the broker
    holding a stale retained 'online' (e.g. restarted with persistence): 'offline' goes
    out over a second connection; before, the stop only logged "could not publish"."""
    sp = expand_points(site)
    publisher = MqttPublisher(*BROKER, sp, prefix=prefix, client_id="twin-" + uuid.uuid4().hex)
    publisher.start()
    assert _retained(f"{prefix}/availability") == b"online"
    client = publisher._client
    client.reconnect_delay_set(min_delay=60, max_delay=60)  # stay down while we stop
    client.socket().close()
    deadline = time.monotonic() + 10
    while client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not client.is_connected()
    assert _retained(f"{prefix}/availability") == b"offline"  # the broker's last will
    stale = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    stale.connect(*BROKER)
    stale.loop_start()
    stale.publish(f"{prefix}/availability", "online", qos=1, retain=True).wait_for_publish(5)
    stale.loop_stop()
    stale.disconnect()
    assert _retained(f"{prefix}/availability") == b"online"
    with caplog.at_level(logging.INFO, logger="heatreuse.telemetry.mqtt_publish"):
        publisher.close()
    assert _retained(f"{prefix}/availability") == b"offline"
    messages = [r.getMessage() for r in caplog.records]
    assert not any("could not publish" in m for m in messages)
    assert any("second connection" in m for m in messages)
