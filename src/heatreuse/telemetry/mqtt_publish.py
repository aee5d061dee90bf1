"""MQTT publishing adapter of the twin (paho-mqtt 2): the site as real equipment would speak.

Topic layout (``PREFIX`` defaults to ``heatreuse/<site id>``; see
:func:`heatreuse.telemetry.twin_points.default_topic_prefix`):

=========================================  ====================================================
topic                                      payload
=========================================  ====================================================
``PREFIX/<point topic suffix>``            one reading, JSON ``{"ts": "2026-01-10T06:00:00Z",
                                           "value": 41.25}``; the suffix is the registry's
                                           (``Point.mqtt_topic``: the id with ``/`` for ``.``,
                                           e.g. ``PREFIX/meter/heat_energy_kwh``). QoS 1 for
                                           meter registers (counters), QoS 0 otherwise; not
                                           retained.
``PREFIX/availability``                    ``online`` / ``offline``, retained, QoS 1;
                                           ``offline`` is also the last will (LWT).
``homeassistant/<component>/<node>/<obj>/  Home Assistant MQTT discovery (optional), retained:
config``                                   ``name``, ``unique_id``, ``default_entity_id``
                                           (``<component>.<slug>``; HA 2025.10 deprecated
                                           ``object_id``, removed in 2026.4),
                                           ``state_topic``, ``value_template``,
                                           ``device_class``, ``state_class``,
                                           ``unit_of_measurement``, ``availability_topic``,
                                           ``device``. Component ``sensor``; ``binary_sensor``
                                           for 0/1 status points.
=========================================  ====================================================

Delivery: QoS 1 messages are queued at most :data:`MAX_QUEUED_MESSAGES` at a
time (MQTT message ids are 16 bit: a longer queue reuses ids and paho refuses
the message); a full queue makes :meth:`MqttPublisher.publish` wait for the
broker's acknowledgements (the twin slows down rather than dropping meter
readings). On stop, ``offline`` is published every time: after the queued
readings, else over a second short connection, else the connection is dropped
without DISCONNECT so that the broker publishes the last will (``offline``).

The adapter only talks to the broker it is given. Nothing here imports the
other telemetry adapters; the point values and topics come from
:mod:`heatreuse.telemetry.twin_points`.

References
----------
MQTT Version 3.1.1, OASIS Standard 2014 (QoS, retained messages, will);
Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/
#mqtt-discovery).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from heatreuse.errors import MqttConnectionError, TwinError
from heatreuse.mqttconf import MqttConnection
from heatreuse.site.points import Point, SitePoints
from heatreuse.telemetry.twin_points import (
    TwinReadings,
    availability_topic,
    default_topic_prefix,
    point_topic,
)

log = logging.getLogger(__name__)

#: Home Assistant unit for each registry unit (None: dimensionless, no unit shown).
HA_UNITS: dict[str, str | None] = {
    "degC": "°C",
    "W": "W",
    "kWh": "kWh",
    "m3/h": "m³/h",
    "bar": "bar",
    "1": None,
}
#: Home Assistant device class per point quantity (sensor component).
HA_DEVICE_CLASS: dict[str, str] = {
    "temperature": "temperature",
    "power": "power",
    "energy": "energy",
    "volume_flow": "volume_flow_rate",
    "pressure": "pressure",
}


#: Most QoS 1 messages queued in the client (below the 65,535 MQTT message ids).
MAX_QUEUED_MESSAGES = 10_000
#: Longest a publish waits for room in a full queue before the message is dropped [s].
QUEUE_WAIT_S = 30.0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "x"


def _entity_slug(text: str) -> str:
    """A Home Assistant object id: lower case letters, digits and single underscores."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]+", "_", text.lower())).strip("_") or "x"


def discovery_config(
    point: Point,
    *,
    prefix: str,
    site_id: str,
    site_name: str,
    discovery_prefix: str = "homeassistant",
) -> tuple[str, dict[str, Any]]:
    """Home Assistant discovery topic and config of one point."""
    node = _slug(f"heatreuse_{site_id}")
    obj = _slug(point.id.replace(".", "_"))
    component = "binary_sensor" if point.kind == "status" else "sensor"
    config: dict[str, Any] = {
        "name": point.description or point.id,
        "unique_id": f"{node}_{obj}",
        "default_entity_id": f"{component}.{_entity_slug(f'{node}_{obj}')}",
        "state_topic": point_topic(prefix, point),
        "availability_topic": availability_topic(prefix),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [node],
            "name": site_name,
            "manufacturer": "heatreuse",
            "model": "digital twin",
        },
    }
    if component == "binary_sensor":
        config["value_template"] = "{{ value_json.value | int }}"
        config["payload_on"] = "1"
        config["payload_off"] = "0"
        config["device_class"] = (
            "running"
            if point.id.startswith(("pump.", "boiler.", "dry_cooler.", "heat_pump."))
            else "power"
        )
    else:
        config["value_template"] = "{{ value_json.value }}"
        config["state_class"] = "total_increasing" if point.kind == "counter" else "measurement"
        unit = HA_UNITS.get(point.unit, point.unit)
        if unit is not None:
            config["unit_of_measurement"] = unit
        device_class = HA_DEVICE_CLASS.get(point.quantity)
        if device_class is not None:
            config["device_class"] = device_class
    return f"{discovery_prefix}/{component}/{node}/{obj}/config", config


class MqttPublisher:
    """Publishes twin readings to an MQTT broker (a :class:`TwinSink`).

    Parameters
    ----------
    host, port
        The broker (only this address is contacted).
    site_points
        The site's expanded points (ids, topics, kinds).
    prefix
        Topic prefix (default ``heatreuse/<site id>``).
    site_name
        Device name for Home Assistant.
    ha_discovery
        Publish retained Home Assistant discovery configs at start.
    client_id
        MQTT client id (default ``heatreuse-twin-<site id>``).
    connect_timeout_s
        How long :meth:`start` waits for the broker's CONNACK.
    point_ids
        Publish only these points (default: all).
    max_queued_messages
        Most QoS 1 messages queued in the client; a full queue makes
        :meth:`publish` wait (:data:`MAX_QUEUED_MESSAGES`).
    connection
        The broker with credentials and TLS (:class:`heatreuse.mqttconf.MqttConnection`);
        when given, it replaces ``host`` and ``port``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        site_points: SitePoints,
        *,
        prefix: str | None = None,
        site_name: str = "",
        ha_discovery: bool = False,
        discovery_prefix: str = "homeassistant",
        client_id: str | None = None,
        connect_timeout_s: float = 10.0,
        point_ids: Sequence[str] | None = None,
        max_queued_messages: int = MAX_QUEUED_MESSAGES,
        connection: MqttConnection | None = None,
    ) -> None:
        self.broker = connection or MqttConnection(host, int(port))
        self.host = self.broker.host
        self.port = self.broker.port
        self.site_points = site_points
        self.site_id = site_points.site_id
        self.prefix = (prefix or default_topic_prefix(self.site_id)).rstrip("/")
        self.site_name = site_name or self.site_id
        self.ha_discovery = ha_discovery
        self.discovery_prefix = discovery_prefix
        self.client_id = client_id or f"heatreuse-twin-{self.site_id}"
        self.connect_timeout_s = connect_timeout_s
        if not 0 < max_queued_messages < 65_535:
            raise TwinError(
                f"MQTT publisher: max_queued_messages must be 1..65534 (message ids are 16 bit), "
                f"got {max_queued_messages}"
            )
        self.max_queued_messages = int(max_queued_messages)
        by_id = site_points.by_id()
        ids = point_ids if point_ids is not None else list(by_id)
        self.points = {pid: by_id[pid] for pid in ids if pid in by_id}
        self._topic = {pid: point_topic(self.prefix, p) for pid, p in self.points.items()}
        self._qos = {pid: 1 if p.kind == "counter" else 0 for pid, p in self.points.items()}
        self._client: Any = None
        self._connected = threading.Event()
        self._connect_rc: Any = None
        self.messages_published = 0
        self.messages_dropped = 0
        self.queue_wait_s = QUEUE_WAIT_S
        self.discovery_topics: list[str] = []
        self._dropping = False

    @property
    def availability_topic(self) -> str:
        """The retained availability topic."""
        return availability_topic(self.prefix)

    def topic_of(self, point_id: str) -> str:
        """Full topic of a point."""
        return self._topic[point_id]

    def start(self) -> None:
        """Connect (with last will), publish ``online`` and the discovery configs.

        Raises
        ------
        TwinError
            The broker is unreachable or refuses the connection.
        """
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True
        )
        try:
            self.broker.configure(client)
        except MqttConnectionError as exc:
            raise TwinError(str(exc)) from None
        client.max_queued_messages_set(self.max_queued_messages)
        client.max_inflight_messages_set(1000)
        client.will_set(self.availability_topic, "offline", qos=1, retain=True)

        def on_connect(_c: Any, _u: Any, _flags: Any, rc: Any, _props: Any = None) -> None:
            self._connect_rc = rc
            self._connected.set()
            if not rc.is_failure:  # re-announce after a reconnect
                _c.publish(self.availability_topic, "online", qos=1, retain=True)

        client.on_connect = on_connect
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        try:
            client.connect(self.host, self.port, keepalive=30)
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise TwinError(self.broker.tls_failure_message(exc, "twin")) from None
        except OSError as exc:
            raise TwinError(
                f"--mqtt {self.host}:{self.port}: cannot connect to the broker: {exc}"
            ) from None
        client.loop_start()
        self._client = client
        if not self._connected.wait(self.connect_timeout_s) or (
            self._connect_rc is not None and self._connect_rc.is_failure
        ):
            client.loop_stop()
            client.disconnect()
            self._client = None
            if self._connect_rc is not None and self._connect_rc.is_failure:
                raise TwinError(self.broker.refusal_message(self._connect_rc, "twin"))
            raise TwinError(
                f"--mqtt {self.host}:{self.port}: the broker did not accept the connection "
                f"within {self.connect_timeout_s:g} s (reason: {self._connect_rc})"
            )
        if self.ha_discovery:
            for point in self.points.values():
                topic, config = discovery_config(
                    point,
                    prefix=self.prefix,
                    site_id=self.site_id,
                    site_name=self.site_name,
                    discovery_prefix=self.discovery_prefix,
                )
                client.publish(topic, json.dumps(config), qos=1, retain=True)
                self.discovery_topics.append(topic)

    def publish(self, readings: TwinReadings) -> None:
        """Publish every sampled reading of the chunk, in time order."""
        client = self._client
        if client is None:
            raise TwinError("MQTT publisher: start() was not called")
        ids = [pid for pid in readings.point_ids if pid in self._topic]
        rows = [readings.point_ids.index(pid) for pid in ids]
        stamps = readings.index.strftime("%Y-%m-%dT%H:%M:%SZ")
        for k, stamp in enumerate(stamps):
            for pid, i in zip(ids, rows, strict=True):
                if not readings.sampled[i, k]:
                    continue
                value = float(readings.values[i, k])
                if not np.isfinite(value):
                    continue
                payload = f'{{"ts": "{stamp}", "value": {json.dumps(value)}}}'
                self._send(client, self._topic[pid], payload, self._qos[pid])

    def _send(self, client: Any, topic: str, payload: str, qos: int) -> None:
        """Publish one message; wait while the QoS 1 queue is full (up to ``queue_wait_s``)."""
        from paho.mqtt.enums import MQTTErrorCode

        deadline = time.monotonic() + self.queue_wait_s
        while True:
            info = client.publish(topic, payload, qos=qos)
            if info.rc != MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN) and (
            qos > 0 or info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
        ):
            # (a QoS 1 message is kept for the reconnect even without a connection)
            self.messages_published += 1
            if self._dropping:
                self._dropping = False
                log.info("MQTT publisher: %s:%d takes messages again", self.host, self.port)
            return
        self.messages_dropped += 1
        if not self._dropping:
            self._dropping = True
            log.warning(
                "MQTT publisher: message to %s dropped (%s); further drops are counted "
                "(messages_dropped)",
                topic,
                "queue full" if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE else "not connected",
            )

    def clear_retained(self) -> None:
        """Remove this twin's retained messages (availability, discovery) from the broker."""
        client = self._client
        if client is None:
            return
        infos = [client.publish(self.availability_topic, b"", qos=1, retain=True)]
        for topic in self.discovery_topics:
            infos.append(client.publish(topic, b"", qos=1, retain=True))
        for info in infos:
            info.wait_for_publish(timeout=5)

    def close(self, timeout_s: float = 5.0) -> None:
        """Publish ``offline`` (retained) after the queued readings, flush and disconnect.

        If ``offline`` cannot go out on this connection within ``timeout_s``
        (lost link, a backlog), it is published over a second short
        connection; if that fails too, the connection is dropped without
        DISCONNECT, so that the broker publishes the last will ``offline``.
        """
        client = self._client
        if client is None:
            return
        self._client = None
        if self._publish_offline(client, timeout_s):
            client.disconnect()
            client.loop_stop()
            return
        fresh = self._publish_offline_fresh(timeout_s)
        if fresh is None:
            log.info(
                "MQTT publisher: 'offline' sent over a second connection to %s:%d (the first "
                "one was busy or lost)",
                self.host,
                self.port,
            )
            client.disconnect()
            client.loop_stop()
            return
        log.warning(
            "MQTT publisher: could not publish 'offline' to %s:%d (%s); dropping the connection "
            "so that the broker publishes the last will 'offline'",
            self.host,
            self.port,
            fresh,
        )
        client.loop_stop()
        sock = client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _publish_offline(self, client: Any, timeout_s: float) -> bool:
        """``offline`` on the running connection, behind the queued messages; True if acked."""
        from paho.mqtt.enums import MQTTErrorCode

        deadline = time.monotonic() + timeout_s
        while True:
            info = client.publish(self.availability_topic, "offline", qos=1, retain=True)
            if info.rc != MQTTErrorCode.MQTT_ERR_QUEUE_SIZE or time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(timeout=max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError):
            return False
        return bool(info.is_published())

    def _publish_offline_fresh(self, timeout_s: float) -> str | None:
        """``offline`` over a new short connection; None on success, else why not."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{self.client_id}-stop", clean_session=True
        )
        try:
            client.connect(self.host, self.port, keepalive=10)
        except OSError as exc:
            return f"cannot connect: {exc}"
        client.loop_start()
        try:
            info = client.publish(self.availability_topic, "offline", qos=1, retain=True)
            info.wait_for_publish(timeout=timeout_s)
            if not info.is_published():
                return f"no acknowledgement within {timeout_s:g} s"
            return None
        except (RuntimeError, ValueError) as exc:
            return str(exc)
        finally:
            client.disconnect()
            client.loop_stop()
