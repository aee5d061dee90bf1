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
config``                                   ``name``, ``unique_id``, ``object_id``,
                                           ``state_topic``, ``value_template``,
                                           ``device_class``, ``state_class``,
                                           ``unit_of_measurement``, ``availability_topic``,
                                           ``device``. Component ``sensor``; ``binary_sensor``
                                           for 0/1 status points.
=========================================  ====================================================

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

import json
import logging
import re
import ssl
import threading
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "x"


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
        "object_id": f"{node}_{obj}",
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
        by_id = site_points.by_id()
        ids = point_ids if point_ids is not None else list(by_id)
        self.points = {pid: by_id[pid] for pid in ids if pid in by_id}
        self._topic = {pid: point_topic(self.prefix, p) for pid, p in self.points.items()}
        self._qos = {pid: 1 if p.kind == "counter" else 0 for pid, p in self.points.items()}
        self._client: Any = None
        self._connected = threading.Event()
        self._connect_rc: Any = None
        self.messages_published = 0
        self.discovery_topics: list[str] = []

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
        client.max_queued_messages_set(0)
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
                client.publish(self._topic[pid], payload, qos=self._qos[pid])
                self.messages_published += 1

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

    def close(self) -> None:
        """Publish ``offline`` (retained), flush and disconnect."""
        client = self._client
        if client is None:
            return
        try:
            info = client.publish(self.availability_topic, "offline", qos=1, retain=True)
            info.wait_for_publish(timeout=5)
        except (RuntimeError, ValueError):  # not connected any more
            log.warning("MQTT publisher: could not publish 'offline' to %s", self.host)
        client.disconnect()
        client.loop_stop()
        self._client = None
