"""Live MQTT ingest benchmark: batched QoS 1 payloads through Mosquitto into SQLite.

Prints figures; asserts nothing (issue 5, "Figures", target >= 50,000
readings/s sustained with QoS 1 and zero loss)::

    .venv/bin/python benchmarks/bench_mqtt_ingest.py             # 1,000,000 readings x 3 runs
    .venv/bin/python benchmarks/bench_mqtt_ingest.py --quick     # 100,000 readings x 3 runs

Set-up (same machine, same run):

* a publisher in its own process (no shared GIL) sends ``--readings``
  readings as batch messages of ``--per-message`` readings (default 500) on
  ``<prefix>/batch`` at QoS 1 to Mosquitto at 127.0.0.1:1883; payloads
  are built before the clock starts. It keeps at most ``--window`` messages
  published and not yet stored by the subscriber (flow control, so the
  broker's per-client queue, 1000 messages by default, never overflows and
  drops: the figure is what the subscriber sustains, not what the broker
  buffers);
* the subscriber is :class:`heatreuse.telemetry.mqtt.MqttSubscriber` (paho-mqtt 2,
  MQTT 5, manual acks, persistent session) feeding the
  :class:`~heatreuse.telemetry.Ingestor` (validation, dedup, rollups) into a
  fresh SQLite store, with ``store.flush()`` (WAL fsync) before each group of
  PUBACKs: the same path ``heatreuse serve`` runs;
* side by side, the raw engine: the same payloads parsed and ingested
  in-process without a broker (the upper bound of the MQTT path);
* zero loss is checked: readings in the store == readings published, PUBACKs
  sent == messages published, nothing quarantined.

Each configuration runs 3 times; the median is printed. The topic prefix and
client id are unique per run; the session and the retained availability
message are removed afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pool.yaml"
BROKER = ("127.0.0.1", 1883)


def make_payloads(points: list[str], n: int, per_message: int) -> list[bytes]:
    """Batch payloads; every (point, ts) unique, timestamps in the past hours."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamps: dict[int, str] = {}
    payloads = []
    k = 0
    while k < n:
        items = []
        for _ in range(min(per_message, n - k)):
            back = 1 + k // len(points)
            text = stamps.get(back)
            if text is None:
                text = (now - dt.timedelta(seconds=back)).isoformat().replace("+00:00", "Z")
                stamps[back] = text
            items.append({"point_id": points[k % len(points)], "ts": text, "value": 1.0})
            k += 1
        payloads.append(json.dumps({"readings": items}, separators=(",", ":")).encode())
    return payloads


def bench_points() -> list[str]:
    from heatreuse.site import load_site
    from heatreuse.telemetry import PointRegistry

    reg = PointRegistry.from_site(load_site(EXAMPLE))
    return [
        p.id for p in reg.points if p.kind == "measurement" and p.min_value <= 1.0 <= p.max_value
    ]


def _publisher(
    topic: str,
    points: list[str],
    n: int,
    per_message: int,
    window: int,
    stored: Any,
    ready: Any,
    go: Any,
    result: Any,
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    payloads = make_payloads(points, n, per_message)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    c.connect(*BROKER)
    c.loop_start()
    ready.set()
    go.wait()
    t0 = time.perf_counter()
    infos = []
    for i, p in enumerate(payloads):
        while i - stored.value >= window:
            time.sleep(0.0005)
        infos.append(c.publish(topic, p, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    result.value = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()


def run_mqtt(points: list[str], n: int, per_message: int, window: int) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    from heatreuse.site import load_site
    from heatreuse.store import open_store
    from heatreuse.telemetry import Ingestor
    from heatreuse.telemetry.mqtt import MqttSettings, MqttSubscriber, TopicLayout, wait_until

    site = load_site(EXAMPLE)
    prefix = f"hrbench-{uuid.uuid4().hex[:10]}/{site.id}"
    cid = f"hrbench-{uuid.uuid4().hex[:8]}"
    layout = TopicLayout(site.id, prefix)
    messages = -(-n // per_message)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'bench.db'}", create=True)
        ingestor = Ingestor(site, store)
        sub = MqttSubscriber(
            layout,
            ingestor,
            MqttSettings(
                host=BROKER[0],
                port=BROKER[1],
                client_id=cid,
                session_expiry_s=300,
                receive_maximum=200,
                max_group_messages=100,
                availability_topic=layout.service_status_topic("ingest"),
            ),
            durable=store.flush,
        )
        sub.start()
        assert sub.wait_connected(30.0), "subscriber did not connect"
        ctx = mp.get_context("spawn")
        stored = ctx.Value("l", 0)
        ready, go = ctx.Event(), ctx.Event()
        pub_s = ctx.Value("d", 0.0)
        proc = ctx.Process(
            target=_publisher,
            args=(layout.batch_topic, points, n, per_message, window, stored, ready, go, pub_s),
        )
        proc.start()
        ready.wait(120)
        stop_feed = False

        def feed() -> None:
            while not stop_feed:
                stored.value = sub.stats()["acked_messages"]
                time.sleep(0.001)

        import threading

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        t0 = time.perf_counter()
        go.set()
        done = wait_until(lambda: sub.stats()["acked_messages"] >= messages, 600.0, 0.001)
        elapsed = time.perf_counter() - t0
        stop_feed = True
        proc.join(120)
        stats = sub.stats()
        sub.stop()
        count = store.count_readings(site.id)
        counters = ingestor.counters()
        store.close()
    # clean up the broker: retained availability and the persistent session
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=MQTTProtocolVersion.MQTTv5)
    c.connect(*BROKER, clean_start=True)
    c.loop_start()
    c.publish(layout.service_status_topic("ingest"), b"", qos=1, retain=True).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()
    return {
        "done": done,
        "elapsed_s": elapsed,
        "readings_per_s": n / elapsed,
        "stored": count,
        "published": n,
        "messages": messages,
        "acked": stats["acked_messages"],
        "quarantined": counters["quarantined_total"],
        "duplicates": counters["duplicates"],
    }


def run_direct(points: list[str], n: int, per_message: int) -> dict[str, Any]:
    """The raw engine: same payloads parsed and ingested in-process, no broker."""
    from heatreuse.site import load_site
    from heatreuse.store import open_store
    from heatreuse.telemetry import Ingestor
    from heatreuse.telemetry.mqtt import TopicLayout, parse_message

    site = load_site(EXAMPLE)
    layout = TopicLayout(site.id)
    payloads = make_payloads(points, n, per_message)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'direct.db'}", create=True)
        ingestor = Ingestor(site, store)
        t0 = time.perf_counter()
        group = 100
        for g in range(0, len(payloads), group):
            readings = []
            for p in payloads[g : g + group]:
                readings.extend(parse_message(layout, layout.batch_topic, p).readings)
            ingestor.ingest(readings)
            store.flush()
        elapsed = time.perf_counter() - t0
        count = store.count_readings(site.id)
        store.close()
    return {"elapsed_s": elapsed, "readings_per_s": n / elapsed, "stored": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--per-message", type=int, default=500)
    parser.add_argument("--window", type=int, default=400, help="messages in flight at most")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100,000 readings per run")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.readings
    points = bench_points()
    print(
        f"live MQTT ingest: {n:,} readings/run in messages of {args.per_message} "
        f"({-(-n // args.per_message):,} messages, QoS 1), {len(points)} points, "
        f"Mosquitto {BROKER[0]}:{BROKER[1]} -> SQLite; {args.runs} runs, medians"
    )
    mq, direct = [], []
    for i in range(args.runs):
        r = run_mqtt(points, n, args.per_message, args.window)
        loss = r["published"] - r["stored"]
        print(
            f"  run {i + 1}: MQTT {r['readings_per_s']:>10,.0f} readings/s "
            f"({r['elapsed_s']:.2f} s), stored {r['stored']:,}/{r['published']:,} "
            f"(loss {loss}), acked {r['acked']:,}/{r['messages']:,} messages, "
            f"quarantined {r['quarantined']}, duplicates {r['duplicates']}"
        )
        mq.append(r)
        d = run_direct(points, n, args.per_message)
        print(
            f"         direct (no broker) {d['readings_per_s']:>10,.0f} readings/s "
            f"({d['elapsed_s']:.2f} s), stored {d['stored']:,}"
        )
        direct.append(d)
    med = statistics.median(r["readings_per_s"] for r in mq)
    med_direct = statistics.median(d["readings_per_s"] for d in direct)
    zero_loss = all(
        r["done"] and r["stored"] == r["published"] and r["acked"] == r["messages"] for r in mq
    )
    print(
        f"median: MQTT {med:,.0f} readings/s sustained ({med / med_direct:.2f}x of the direct "
        f"pipeline {med_direct:,.0f} readings/s); zero loss: {zero_loss}; "
        f"target >= 50,000 readings/s: {'met' if med >= 50_000 and zero_loss else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
