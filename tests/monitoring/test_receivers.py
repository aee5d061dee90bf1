"""Receivers against real peers: a webhook sink, aiosmtpd, Mosquitto, Alertmanager v2.

Payload format: Prometheus Alertmanager "Configuration", <webhook_config> (version 4);
API v2 postableAlerts (POST /api/v2/alerts).
"""

from __future__ import annotations

import email
import json
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from aiosmtpd.controller import Controller

from heatreuse.monitoring.alerts import Alert, AlertState
from heatreuse.monitoring.receivers import (
    ReceiverError,
    email_message,
    publish_mqtt,
    push_to_alertmanager,
    send_email,
    send_webhook,
    webhook_payload,
)
from heatreuse.monitoring.routing import Dispatcher, route_from_config

T0 = datetime(2026, 1, 14, 6, 0, tzinfo=UTC)


def _alert(**labels: str) -> Alert:
    base = {
        "site": "pool-potsdam",
        "system": "plant",
        "equipment": "p-secondary",
        "rule": "low_delta_t",
        "severity": "warning",
    }
    base.update(labels)
    return Alert(
        labels=base,
        state=AlertState.FIRING,
        active_at=T0,
        started_at=T0,
        value=1.8,
        annotations={"summary": "delta-T 1.8 K below design 8 K"},
    )


def _notification() -> Any:
    d = Dispatcher(route_from_config({"receiver": "facilities", "group_wait": "0s"}))
    d.update(_alert(), T0)
    d.update(_alert(equipment="p-primary"), T0)
    (n,) = d.flush(T0)
    return n


def test_webhook_payload_v4(webhook_sink: Any) -> None:
    n = _notification()
    payload = webhook_payload(n, external_url="http://127.0.0.1:8080")
    send_webhook(webhook_sink.url, payload, receiver="facilities")
    body = webhook_sink.wait_for(lambda b: True)
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["receiver"] == "facilities"
    assert body["groupLabels"] == {"site": "pool-potsdam", "rule": "low_delta_t"}
    assert body["commonLabels"]["rule"] == "low_delta_t"
    assert "equipment" not in body["commonLabels"]  # differs between the two alerts
    assert {a["labels"]["equipment"] for a in body["alerts"]} == {"p-secondary", "p-primary"}
    assert body["alerts"][0]["startsAt"] == "2026-01-14T06:00:00Z"


def test_webhook_failure_names_receiver(free_port: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing-here"
    with pytest.raises(ReceiverError, match="receiver facilities: webhook POST"):
        send_webhook(url, {"x": 1}, receiver="facilities", timeout_s=2)


class _Keep:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.rcpt: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        self.rcpt.append(list(envelope.rcpt_tos))
        return "250 OK"


def test_email_over_real_smtp(free_port: Any) -> None:
    handler = _Keep()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        msg = email_message(
            _notification(), sender="heatreuse@example.org", to=["anna.becker@example.org"]
        )
        send_email(msg, host="127.0.0.1", port=port, receiver="anna")
    finally:
        ctl.stop()
    (got,) = handler.messages
    assert handler.rcpt == [["anna.becker@example.org"]]
    assert got["Subject"] == "[FIRING:2] heatreuse pool-potsdam: low_delta_t"
    text = got.get_payload()
    assert "equipment: p-primary" in text and "delta-T 1.8 K below design 8 K" in text


def test_mqtt_receiver_through_mosquitto() -> None:
    topic = f"hr-test-{uuid.uuid4().hex[:8]}/alerts"
    got: list[dict[str, Any]] = []
    ready, arrived = threading.Event(), threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_subscribe = lambda *_a: ready.set()

    def on_message(_c: Any, _u: Any, m: Any) -> None:
        got.append(json.loads(m.payload))
        arrived.set()

    sub.on_message = on_message
    sub.connect("127.0.0.1", 1883)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    try:
        assert ready.wait(10)
        publish_mqtt(webhook_payload(_notification()), host="127.0.0.1", port=1883, topic=topic)
        assert arrived.wait(10)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert got[0]["version"] == "4" and len(got[0]["alerts"]) == 2


def test_push_to_real_alertmanager(alertmanager: str, webhook_sink: Any) -> None:
    a = _alert()
    assert push_to_alertmanager(alertmanager, [a]) == 1
    listed = httpx.get(alertmanager + "/api/v2/alerts", timeout=5).json()
    assert [x["labels"]["alertname"] for x in listed] == ["low_delta_t"]
    assert listed[0]["labels"]["equipment"] == "p-secondary"
    # Alertmanager routes it on to its own receiver (our sink) with our labels
    fired = webhook_sink.wait_for(lambda b: b["status"] == "firing")
    assert fired["alerts"][0]["labels"]["site"] == "pool-potsdam"
    # resolved: pushed with endsAt, Alertmanager notifies resolved
    done = replace(
        a, state=AlertState.RESOLVED, resolved_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    push_to_alertmanager(alertmanager, [done])
    resolved = webhook_sink.wait_for(lambda b: b["status"] == "resolved")
    assert resolved["alerts"][0]["labels"]["rule"] == "low_delta_t"
