"""Where notifications go: webhook (Alertmanager payload v4), e-mail, MQTT, Alertmanager.

The payload builders are pure; the senders are thin clients (httpx, smtplib,
paho-mqtt) that raise :class:`ReceiverError` naming the receiver and what failed,
so a dead receiver never stops the others. References: Prometheus Alertmanager
"Configuration" (``<webhook_config>``, payload ``version: "4"``) and its HTTP API v2
(``POST /api/v2/alerts``, OpenAPI ``postableAlerts``); RFC 5322 / RFC 5321 for mail.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from heatreuse.errors import HeatreuseError, MqttConnectionError
from heatreuse.monitoring.alerts import Alert, AlertState
from heatreuse.monitoring.routing import Notification
from heatreuse.mqttconf import MqttConnection

WEBHOOK_VERSION = "4"


class ReceiverError(HeatreuseError):
    """A receiver could not be reached or refused the notification."""


def _iso(t: datetime | None) -> str:
    if t is None:
        return "0001-01-01T00:00:00Z"
    return t.isoformat().replace("+00:00", "Z")


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = dict(maps[0])
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def alert_json(alert: Alert, generator_url: str = "") -> dict[str, Any]:
    """One alert as in the Alertmanager webhook payload (status, labels, times)."""
    resolved = alert.state is AlertState.RESOLVED
    return {
        "status": "resolved" if resolved else "firing",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": _iso(alert.started_at or alert.active_at),
        "endsAt": _iso(alert.resolved_at if resolved else None),
        "generatorURL": generator_url,
        "fingerprint": alert.fingerprint,
    }


def webhook_payload(
    n: Notification, *, external_url: str = "", truncated_alerts: int = 0
) -> dict[str, Any]:
    """The Alertmanager webhook payload (version 4) for one notification."""
    return {
        "version": WEBHOOK_VERSION,
        "groupKey": n.group_key,
        "truncatedAlerts": truncated_alerts,
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": dict(n.group_labels),
        "commonLabels": _common([a.labels for a in n.alerts]),
        "commonAnnotations": _common([a.annotations for a in n.alerts]),
        "externalURL": external_url,
        "alerts": [alert_json(a) for a in n.alerts],
    }


def send_webhook(
    url: str, payload: Mapping[str, Any], *, timeout_s: float = 5.0, receiver: str = ""
) -> None:
    """POST a webhook payload as JSON; any non-2xx answer is a :class:`ReceiverError`."""
    import httpx

    try:
        r = httpx.post(url, json=payload, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise ReceiverError(
            f"receiver {receiver or url}: webhook POST {url} failed: {exc}"
        ) from None
    if r.status_code // 100 != 2:
        raise ReceiverError(
            f"receiver {receiver or url}: webhook POST {url}: expected HTTP 2xx; got "
            f"{r.status_code} {r.text[:200]!r}"
        )


def email_message(n: Notification, *, sender: str, to: Sequence[str]) -> EmailMessage:
    """A plain-text e-mail for one notification (subject names status, site and rule)."""
    labels = dict(n.group_labels)
    site = labels.get("site") or (n.alerts[0].labels.get("site", "") if n.alerts else "")
    rules = sorted({a.rule for a in n.alerts})
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"[{n.status.upper()}:{len(n.alerts)}] heatreuse {site}: {', '.join(rules)}"
    lines = [f"{n.status.upper()} at {_iso(n.at)} (receiver {n.receiver}, group {n.group_key})", ""]
    for a in n.alerts:
        lines.append(f"- {a.state.value} {a.severity} {a.rule}")
        for k, v in sorted(a.labels.items()):
            lines.append(f"    {k}: {v}")
        if a.annotations.get("summary"):
            lines.append(f"    summary: {a.annotations['summary']}")
        lines.append(f"    since: {_iso(a.started_at or a.active_at)}")
        if a.resolved_at:
            lines.append(f"    resolved: {_iso(a.resolved_at)}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_email(
    msg: EmailMessage,
    *,
    host: str,
    port: int,
    timeout_s: float = 10.0,
    starttls: bool = False,
    username: str | None = None,
    password: str | None = None,
    receiver: str = "",
) -> None:
    """Send one message over SMTP (optionally STARTTLS and login)."""
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            if starttls:
                smtp.starttls()
            if username:
                smtp.login(username, password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise ReceiverError(
            f"receiver {receiver or 'email'}: SMTP {host}:{port} failed: {exc}"
        ) from None


def publish_mqtt(
    payload: Mapping[str, Any],
    *,
    host: str = "",
    port: int = 1883,
    topic: str,
    qos: int = 1,
    timeout_s: float = 10.0,
    receiver: str = "",
    connection: MqttConnection | None = None,
) -> None:
    """Publish a notification payload as JSON on an MQTT topic (waits for the PUBACK).

    ``connection`` (credentials, TLS; :class:`heatreuse.mqttconf.MqttConnection`)
    replaces ``host`` and ``port`` when given. A broker that refuses the CONNECT
    or fails the TLS handshake is a :class:`ReceiverError` naming the broker and
    the user.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    broker = connection or MqttConnection(host, port)
    name = f"receiver {receiver or topic}"
    if not broker.host:
        raise ReceiverError(f"{name}: no MQTT broker; expected host and port or a connection")
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    connack: list[Any] = []
    answered = threading.Event()

    def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        connack.append(rc)
        answered.set()

    client.on_connect = on_connect
    try:
        broker.configure(client)
        client.connect(broker.host, broker.port, keepalive=30)
    except MqttConnectionError as exc:
        raise ReceiverError(f"{name}: {exc}") from None
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise ReceiverError(broker.tls_failure_message(exc, name)) from None
    except OSError as exc:
        raise ReceiverError(f"{name}: MQTT {broker.url} unreachable: {exc}") from None
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            raise ReceiverError(f"{name}: MQTT {broker.url} did not answer within {timeout_s:g} s")
        if getattr(connack[0], "is_failure", False):
            raise ReceiverError(broker.refusal_message(connack[0], name))
        info = client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=qos)
        info.wait_for_publish(timeout=timeout_s)
        if not info.is_published():
            raise ReceiverError(
                f"{name}: MQTT publish to {topic!r} not acknowledged within {timeout_s:g} s"
            )
    finally:
        client.disconnect()
        client.loop_stop()


def alertmanager_alerts(
    alerts: Iterable[Alert], *, generator_url: str = ""
) -> list[dict[str, Any]]:
    """Alerts in the form of Alertmanager API v2 ``postableAlerts``.

    A firing alert carries no ``endsAt`` (Alertmanager resolves it after its
    ``resolve_timeout`` unless it is pushed again); a resolved one carries the time
    it resolved.
    """
    out: list[dict[str, Any]] = []
    for a in alerts:
        item: dict[str, Any] = {
            "labels": {"alertname": a.rule, **dict(a.labels)},
            "annotations": dict(a.annotations),
            "startsAt": _iso(a.started_at or a.active_at),
        }
        if a.state is AlertState.RESOLVED and a.resolved_at is not None:
            item["endsAt"] = _iso(a.resolved_at)
        if generator_url:
            item["generatorURL"] = generator_url
        out.append(item)
    return out


def push_to_alertmanager(
    base_url: str, alerts: Iterable[Alert], *, timeout_s: float = 5.0, receiver: str = ""
) -> int:
    """``POST /api/v2/alerts`` to an existing Prometheus Alertmanager; returns the count."""
    import httpx

    body = alertmanager_alerts(alerts)
    url = base_url.rstrip("/") + "/api/v2/alerts"
    try:
        r = httpx.post(url, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise ReceiverError(f"receiver {receiver or base_url}: POST {url} failed: {exc}") from None
    if r.status_code // 100 != 2:
        raise ReceiverError(
            f"receiver {receiver or base_url}: POST {url}: expected HTTP 200; got "
            f"{r.status_code} {r.text[:200]!r}"
        )
    return len(body)
