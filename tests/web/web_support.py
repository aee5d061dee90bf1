"""Helpers of the browser tests and of benchmarks/bench_web.py: a seeded store, the
running-serve record, the login, where screenshots go."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion

from heatreuse.services.twin import window_demand
from heatreuse.simulation import simulate
from heatreuse.site import Site, load_site
from heatreuse.store import open_store
from heatreuse.telemetry.twin_points import TwinPointMap

POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"
CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).parents[2]


def artifacts_dir() -> Path:
    """Where the screenshots go."""
    d = Path(os.environ.get("HEATREUSE_WEB_ARTIFACTS", ROOT / "artifacts" / "web"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass
class Web:
    """The running serve and what the tests need to talk to it."""

    base: str
    site: Any
    service: Any
    prefix: str
    values: dict[str, float]
    display_token: str
    display_token_id: str
    read_token: str
    alert_id: int
    passwords: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_web(home: Path) -> Web:
    """Seed a store under ``home`` (36 h of twin readings, a ledger, users olga/operator and
    vic/viewer, a display token, one firing alert) and start serve on it: MQTT at
    127.0.0.1:1883 under a unique prefix, HTTP (the API and web UI) on a free port.
    ``$HEATREUSE_HOME`` must already point at ``home``; stop with ``web.service.stop()``."""
    import pandas as pd

    from heatreuse.api.app import app_for_service
    from heatreuse.services import people
    from heatreuse.services.ledger import update_ledger
    from heatreuse.services.serve import IngestService, ServeConfig
    from heatreuse.store import open_store
    from heatreuse.store.base import AlertRecord, IncidentEvent, IncidentRecord

    url = f"sqlite:///{home / 'web.db'}"
    site, values = seed_store(url)
    checkpoints = str(home / "checkpoints")
    update_ledger(site, url, checkpoint_dir=checkpoints, key_path=str(home / "ledger.key"))
    passwords = {"olga": "operator-pass-1", "vic": "viewer-pass-12"}
    secret = people.load_token_secret(create=True)
    with open_store(url) as store:
        people.add_user(store, "olga", passwords["olga"], "operator", site.id, by="test")
        people.add_user(store, "vic", passwords["vic"], "viewer", site.id, by="test")
        people.add_user(store, "wally", "display-pass-1", "viewer", site.id, by="test")
        display, dinfo = people.create_token(
            store, "wally", scope="display", by="test", secret=secret
        )
        read, _ = people.create_token(store, "vic", scope="read", by="test", secret=secret)
        now_us = int(pd.Timestamp.now(tz="UTC").value // 1000)
        alert_id = store.upsert_alert(
            AlertRecord(
                site_id=site.id,
                fingerprint=f"web-{uuid.uuid4().hex[:8]}",
                labels={"rule": "low_delta_t", "severity": "warning", "equipment": "hx"},
                state="firing",
                active_at_us=now_us - 600_000_000,
                started_at_us=now_us - 300_000_000,
                value=2.1,
                annotations={"summary": "HX delta-T below 3 K", "value_unit": "K"},
            )
        )
        # a resolved incident with its timeline (the alerts view shows it)
        inc_id = store.insert_incident(
            IncidentRecord(
                site_id=site.id,
                opened_at_us=now_us - 7_200_000_000,
                status="resolved",
                severity="critical",
                title="utility_feed: site feed lost",
                resolved_at_us=now_us - 5_400_000_000,
            )
        )
        for dt_s, kind, detail in (
            (7200, "fired", {"rule": "utility_feed"}),
            (7190, "notified", {"to": "facilities on call"}),
            (6600, "acked", {"by": "olga", "comment": "feeder breaker tripped"}),
            (5400, "resolved", {"rule": "utility_feed"}),
        ):
            store.add_incident_event(
                IncidentEvent(inc_id, now_us - dt_s * 1_000_000, kind, f"{kind}-{dt_s}", detail)
            )
    prefix = f"hrtest-{uuid.uuid4().hex[:10]}/{site.id}"
    port = _free_port()
    svc = IngestService(
        site,
        ServeConfig(
            store_url=url,
            mqtt=("127.0.0.1", 1883),
            http=("127.0.0.1", port),
            topic_prefix=prefix,
            client_id=f"hrtest-{uuid.uuid4().hex[:8]}",
            session_expiry_s=0,
            watch=False,
            stop_timeout_s=5.0,
            checkpoint_dir=checkpoints,
            key_path=str(home / "ledger.key"),
        ),
        app_factory=lambda s: app_for_service(s),
    )
    svc.start()
    assert svc.wait_ready(15)
    return Web(
        f"http://127.0.0.1:{port}",
        site,
        svc,
        prefix,
        values,
        display,
        dinfo["id"],
        read,
        int(alert_id),
        passwords,
    )


def seed_store(
    url: str, site: Site | None = None, hours: float = 36.0
) -> tuple[Site, dict[str, float]]:
    """Write ``hours`` of the pool twin's readings (60 s steps) ending at the current minute;
    returns the site and the last values by point (to publish more like them)."""
    site = site or load_site(POOL)
    end = pd.Timestamp.now(tz="UTC").floor("min")
    start = end - pd.Timedelta(hours=hours)
    # simulate a fixed winter window and re-stamp it onto [start, end)
    t0 = pd.Timestamp("2026-01-12T00:00Z") + (start - start.normalize())
    sim_end = t0 + (end - start)
    frame = simulate(site, window_demand(site, t0, sim_end, 60), step_s=60)
    readings, _ = TwinPointMap(site, 60).readings(frame.frame)
    steps, codes, values = readings.long_arrays()
    shift = (start - t0).value // 1000
    ts_us = readings.index.as_unit("us").asi8[steps] + shift
    pids = np.asarray(readings.point_ids, dtype=object)[codes]
    with open_store(url, create=True) as store:
        store.write_readings(site.id, list(pids), ts_us, values)
    return site, readings.latest()


def login(browser: Any, web: Web, user: str, viewport: dict[str, int] | None = None) -> Any:
    """A new browser context logged in as ``user`` through the login form; returns the page."""
    context = browser.new_context(viewport=viewport or {"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{web.base}/sites/{web.site.id}/overview")
    assert "/login" in page.url  # no session: sent to the login form
    page.fill("#name", user)
    page.fill("#password", web.passwords[user])
    page.press("#password", "Enter")
    page.wait_for_url(f"**/sites/{web.site.id}/overview")
    return page


def publish(prefix: str, readings: dict[str, float]) -> float:
    """Publish one batch (now) over Mosquitto, QoS 1; returns the monotonic send time."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", 1883)
    c.loop_start()
    ts = pd.Timestamp.now(tz="UTC").isoformat().replace("+00:00", "Z")
    body = {"readings": [{"point_id": p, "ts": ts, "value": v} for p, v in readings.items()]}
    sent = time.monotonic()
    c.publish(f"{prefix}/batch", json.dumps(body), qos=1).wait_for_publish(10)
    c.loop_stop()
    c.disconnect()
    return sent


#: Text elements whose contrast against their background is below WCAG 2.1 AA (4.5:1,
#: 3:1 for large text), as "selector-ish: ratio" strings.
CONTRAST_JS = """() => {
  const lum = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(",").map(Number);
    if (p.length === 4 && p[3] === 0) return null;
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(p[0]) + 0.7152 * f(p[1]) + 0.0722 * f(p[2]);
  };
  const bg = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const l = lum(getComputedStyle(e).backgroundColor); if (l !== null) return l;
    }
    return 1.0;
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const cs = getComputedStyle(el);
    if (!own || cs.visibility === "hidden" || cs.display === "none") continue;
    if (!el.getClientRects().length) continue;
    if (el.closest("svg.main-svg, .js-plotly-plot")) continue;  // plotly draws its own axes
    const fg = lum(cs.color); if (fg === null) continue;
    const b = bg(el);
    const ratio = (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
    const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3.0 : 4.5;
    if (ratio < need) {
      const text = el.textContent.trim().slice(0, 30);
      bad.push(el.tagName + "." + el.className + " '" + text + "': " + ratio.toFixed(2));
    }
  }
  return bad;
}"""
