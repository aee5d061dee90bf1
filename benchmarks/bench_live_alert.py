"""Live alert latency: a reading published over MQTT -> the webhook receiving the alert.

Prints figures; asserts nothing (issue 11, "Figures": median <= 2 s)::

    .venv/bin/python benchmarks/bench_live_alert.py [--rounds 20]

Each round runs a fresh ``serve`` (its own site id, topic prefix and store rows) with
the site's last 10 minutes of healthy readings already stored, a route with
``group_wait: 0s`` to a webhook receiver on loopback, and Mosquitto at 127.0.0.1:1883.
The round publishes one batch of every point with the site feed lost
(``utility.feed_status = 0``) and measures the time until the webhook receives the
firing ``utility_feed`` alert (Alertmanager payload v4). Median and p99 over the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion

from heatreuse.services.serve import IngestService, ServeConfig
from heatreuse.services.twin import window_demand
from heatreuse.simulation import simulate
from heatreuse.site import load_site
from heatreuse.site.monitoring import Receiver
from heatreuse.store import open_store
from heatreuse.telemetry.twin_points import TwinPointMap

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pool.yaml"


class Sink:
    def __init__(self) -> None:
        self.got: dict[str, float] = {}
        self.cond = threading.Condition()
        sink = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with sink.cond:
                    for a in body["alerts"]:
                        if a["labels"].get("rule") == "utility_feed" and a["status"] == "firing":
                            sink.got.setdefault(a["labels"]["site"], time.monotonic())
                    sink.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, site_id: str, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while site_id not in self.got and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
            return self.got.get(site_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    base = load_site(EXAMPLE)
    t0 = pd.Timestamp("2026-01-12T00:00Z")
    frame = simulate(base, window_demand(base, t0, t0 + pd.Timedelta(hours=1), 60), step_s=60)
    values = TwinPointMap(base, 60).readings(frame.frame)[0].latest()
    sink = Sink()
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'bench.db'}"
    latencies: list[float] = []
    for k in range(args.rounds):
        sid = f"bench-{uuid.uuid4().hex[:8]}"
        mon = base.monitoring.model_copy(
            update={
                "route": {"receiver": "hook", "group_wait": "0s"},
                "receivers": (Receiver(name="hook", webhook_url=sink.url),),
            }
        )
        site = base.model_copy(
            update={"site": base.site.model_copy(update={"id": sid}), "monitoring": mon}
        )
        now = pd.Timestamp.now(tz="UTC").floor("10s")
        idx = pd.date_range(now - pd.Timedelta(minutes=10), now, freq="10s", inclusive="left")
        with open_store(url, create=True) as store:
            pids: list[str] = []
            for pid in values:
                pids += [pid] * len(idx)
            store.write_readings(
                sid,
                pids,
                np.tile(idx.as_unit("us").asi8, len(values)),
                np.concatenate([np.full(len(idx), v) for v in values.values()]),
            )
        prefix = f"hrbench-{uuid.uuid4().hex[:8]}/{sid}"
        svc = IngestService(
            site,
            ServeConfig(
                store_url=url,
                mqtt=("127.0.0.1", 1883),
                http=None,
                topic_prefix=prefix,
                client_id=f"hrbench-{uuid.uuid4().hex[:8]}",
                session_expiry_s=0,
            ),
        )
        svc.start()
        svc.wait_ready(15)
        time.sleep(0.5)
        c = mqtt.Client(CallbackAPIVersion.VERSION2)
        c.connect("127.0.0.1", 1883)
        c.loop_start()
        ts = pd.Timestamp.now(tz="UTC").isoformat().replace("+00:00", "Z")
        readings = [
            {"point_id": p, "ts": ts, "value": 0.0 if p == "utility.feed_status" else v}
            for p, v in values.items()
        ]
        sent = time.monotonic()
        c.publish(f"{prefix}/batch", json.dumps({"readings": readings}), qos=1).wait_for_publish(10)
        got = sink.wait(sid, 30.0)
        c.loop_stop()
        c.disconnect()
        svc.stop()
        if got is None:
            print(f"round {k}: no alert within 30 s")
            continue
        latencies.append(got - sent)
        print(f"round {k}: {got - sent:.3f} s")
    if latencies:
        lat = sorted(latencies)
        p99 = lat[min(len(lat) - 1, int(np.ceil(0.99 * len(lat))) - 1)]
        print(
            f"MQTT publish -> webhook, {len(lat)} rounds: median {statistics.median(lat):.3f} s, "
            f"p99 {p99:.3f} s, max {lat[-1]:.3f} s"
        )


if __name__ == "__main__":
    main()
