"""The edge agent of a site (``heatreuse edge``): collect locally, buffer first, forward.

Local inputs (the site's MQTT broker and/or its Modbus devices) write into the
:class:`~heatreuse.telemetry.edge.EdgeBuffer` (a local SQLite file) before
anything is acknowledged; the :class:`~heatreuse.telemetry.edge.Forwarder`
sends the buffer in order to the HTTP endpoint of a central ``heatreuse
serve`` and advances its watermark after each 200. A broken link only makes
the buffer grow; it is replayed in order when the link returns, and the
upstream stores each reading once (see :mod:`heatreuse.telemetry.edge`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heatreuse.services.lifecycle import run_until_signal
from heatreuse.services.serve import LoopThread
from heatreuse.site import Site, expand_points
from heatreuse.telemetry.edge import EdgeBuffer, Forwarder, readings_url

log = logging.getLogger(__name__)


def default_buffer_path(site_id: str) -> Path:
    """``$HEATREUSE_HOME/edge-<site>.db``."""
    from heatreuse.store import heatreuse_home

    return heatreuse_home() / f"edge-{site_id}.db"


@dataclass(frozen=True)
class EdgeConfig:
    """What ``heatreuse edge`` runs.

    Attributes
    ----------
    upstream
        Base URL of the central ``heatreuse serve`` (or its readings endpoint).
    buffer_path
        The local buffer file (None: :func:`default_buffer_path`).
    mqtt
        Local broker ``(host, port)``, or None.
    modbus_poll
        Poll the site's Modbus devices.
    modbus_default
        ``(host, port)`` for devices without a host in the site file.
    modbus_poll_interval_s
        Overrides the devices' poll interval [s].
    topic_prefix
        The site's MQTT topic prefix (None: ``heatreuse/<site>``).
    client_id
        MQTT client id (persistent session); default ``heatreuse-edge-<site>``.
    session_expiry_s
        How long the broker keeps the session while the agent is down [s].
    batch_size
        Readings per upstream request.
    min_backoff_s, max_backoff_s
        Retry interval bounds of the forwarder [s].
    stop_timeout_s
        Longest a graceful stop waits per path [s].
    """

    upstream: str
    buffer_path: Path | None = None
    mqtt: tuple[str, int] | None = None
    modbus_poll: bool = False
    modbus_default: tuple[str, int] | None = None
    modbus_poll_interval_s: float | None = None
    topic_prefix: str | None = None
    client_id: str | None = None
    session_expiry_s: int = 7 * 86_400
    batch_size: int = 2000
    min_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    stop_timeout_s: float = 30.0


class EdgeAgent:
    """Store-and-forward agent of one site (``start()``/``stop()``)."""

    def __init__(self, site: Site, config: EdgeConfig) -> None:
        self.site = site
        self.config = config
        self.url = readings_url(config.upstream, site.id)
        self.buffer: EdgeBuffer | None = None
        self.forwarder: Forwarder | None = None
        self.subscriber: Any = None
        self.poller: Any = None
        self._loop: LoopThread | None = None
        self._started = False

    def start(self) -> None:
        """Open the buffer, start the local inputs and the forwarder (returns at once)."""
        if self._started:
            return
        self._started = True
        path = self.config.buffer_path or default_buffer_path(self.site.id)
        self.buffer = EdgeBuffer(path)
        self.forwarder = Forwarder(
            self.buffer,
            self.url,
            batch_size=self.config.batch_size,
            min_backoff_s=self.config.min_backoff_s,
            max_backoff_s=self.config.max_backoff_s,
        )
        self.forwarder.start()
        if self.config.mqtt is not None:
            from heatreuse.telemetry.mqtt import MqttSettings, MqttSubscriber, TopicLayout

            layout = TopicLayout(self.site.id, self.config.topic_prefix)
            host, port = self.config.mqtt
            self.subscriber = MqttSubscriber(
                layout,
                self.buffer,
                MqttSettings(
                    host=host,
                    port=port,
                    client_id=self.config.client_id or f"heatreuse-edge-{self.site.id}",
                    session_expiry_s=self.config.session_expiry_s,
                    availability_topic=layout.service_status_topic("edge"),
                ),
            )
            self.subscriber.start()
        if self.config.modbus_poll:
            from heatreuse.telemetry.modbus import ModbusPoller, device_targets

            host_port = self.config.modbus_default or (None, None)
            targets = device_targets(
                expand_points(self.site),
                default_host=host_port[0],
                default_port=host_port[1],
                poll_interval_s=self.config.modbus_poll_interval_s,
            )
            if targets:
                self._loop = LoopThread(f"edge-modbus-{self.site.id}")
                self._loop.start()
                self.poller = ModbusPoller(targets, self.buffer)
                self._loop.submit(self.poller.run())
        log.info(
            "heatreuse edge: site %s buffering to %s, forwarding to %s",
            self.site.id,
            path,
            self.url,
        )

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        """Block until the MQTT subscriber (if any) is subscribed."""
        if self.subscriber is None:
            return True
        return bool(self.subscriber.wait_connected(timeout_s))

    def stats(self) -> dict[str, Any]:
        """Buffer, forwarder and input state."""
        return {
            "site_id": self.site.id,
            "buffer_pending": self.buffer.pending() if self.buffer is not None else 0,
            "buffer_rejects": self.buffer.rejects() if self.buffer is not None else 0,
            "watermark": self.buffer.watermark() if self.buffer is not None else 0,
            "forwarder": self.forwarder.as_dict() if self.forwarder is not None else None,
            "mqtt": self.subscriber.stats() if self.subscriber is not None else None,
            "modbus": self.poller.stats() if self.poller is not None else None,
        }

    def stop(self) -> bool:
        """Stop inputs (buffering what they received), then the forwarder; close the buffer."""
        if not self._started:
            return True
        ok = True
        if self.subscriber is not None:
            ok = self.subscriber.stop(self.config.stop_timeout_s) and ok
        if self.poller is not None and self._loop is not None:
            self._loop.call(self.poller.request_stop)
            ok = self._loop.join(self.config.stop_timeout_s) and ok
        if self.forwarder is not None:
            self.forwarder.stop(self.config.stop_timeout_s)
        if self.buffer is not None:
            self.buffer.close()
        self._started = False
        return ok

    def run_until_signal(self, on_ready: Callable[[EdgeAgent], None] | None = None) -> int:
        """Start, wait for SIGTERM/SIGINT (main thread), stop; return the exit code (0 ok)."""

        def start() -> None:
            self.start()
            if on_ready is not None:
                on_ready(self)

        return run_until_signal("edge", start, self.stop)
