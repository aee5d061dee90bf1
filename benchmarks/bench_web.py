"""The web UI in Debian's chromium: time to first render, page weight, SSE update latency.

Prints figures; asserts nothing (issue 13, "Figures")::

    .venv/bin/python benchmarks/bench_web.py [--rounds 30] [--loads 5]

Starts ``serve`` (MQTT at 127.0.0.1:1883 under a unique prefix, the API and web UI on a
free loopback port) over a store seeded with 36 h of the pool twin's readings and a
ledger (``tests/web/web_support.py``), then with Playwright and ``/usr/bin/chromium``:

* time to first render: ``first-contentful-paint`` of the overview (logged in) and of
  the wall display (display token), each loaded ``--loads`` times in a fresh browser
  context (cold cache); also ``responseEnd`` of the HTML (server time included);
* page weight: bytes transferred (``transferSize`` of the document and every resource,
  cold cache) for the overview, the history page (plotly.js) and the wall;
* SSE latency: ``--rounds`` readings of ``meter.heat_power_w`` published over MQTT, each
  with a new value; time from the publish to the overview showing it (the split:
  publish -> the ingest pipeline's accepted counter moving, in this process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "web"))

from web_support import CHROMIUM, login, publish, start_web

_PAINT = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const res = performance.getEntriesByType("resource");
  const bytes = (nav ? nav.transferSize : 0) + res.reduce((a, r) => a + r.transferSize, 0);
  return {fcp_ms: fcp ? fcp.startTime : null, html_ms: nav ? nav.responseEnd : null,
          bytes: bytes, resources: res.length};
}"""


def _q(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _measure(browser: Any, url: str, loads: int, cookies: list[Any]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1920, "height": 1080})  # cold cache
        context.add_cookies(cookies)
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length")
        out.append(page.evaluate(_PAINT))
        context.close()
    return {
        "fcp_ms": statistics.median(o["fcp_ms"] for o in out),
        "html_ms": statistics.median(o["html_ms"] for o in out),
        "bytes": statistics.median(o["bytes"] for o in out),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30, help="SSE latency samples")
    ap.add_argument("--loads", type=int, default=5, help="page loads per figure")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HEATREUSE_HOME"] = tmp
        t0 = time.monotonic()
        web = start_web(Path(tmp))
        print(f"serve with 36 h of readings and a ledger ready in {time.monotonic() - t0:.1f} s")
        site = web.site.id
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = login(browser, web, "olga")
                session = page.context.cookies()
                for name, url, cookies in (
                    ("overview", f"{web.base}/sites/{site}/overview", session),
                    ("history", f"{web.base}/sites/{site}/history", session),
                    ("wall", f"{web.base}/wall/{site}?token={web.display_token}", []),
                ):
                    m = _measure(browser, url, args.loads, cookies)
                    print(
                        f"{name:9s} first contentful paint {m['fcp_ms']:7.0f} ms (median of "
                        f"{args.loads}), HTML received {m['html_ms']:6.0f} ms, page weight "
                        f"{m['bytes'] / 1024:8.1f} KiB transferred (cold cache)"
                    )
                page.goto(f"{web.base}/sites/{site}/overview")
                page.wait_for_function("document.body.dataset.liveSeq !== undefined")
                ingestor = web.service.ingestor
                lat: list[float] = []
                commit: list[float] = []
                for i in range(args.rounds):
                    value_w = 40_000.0 + 123.0 * (i + 1)
                    want = f"{value_w / 1000:.1f}"
                    before = ingestor.counters()["accepted"]
                    sent = publish(web.prefix, {"meter.heat_power_w": value_w})
                    while ingestor.counters()["accepted"] == before:
                        time.sleep(0.002)
                    commit.append(time.monotonic() - sent)
                    page.wait_for_function(
                        "document.querySelector('[data-fig=\"heat_now_kw\"]').textContent"
                        f".trim() === '{want}'",
                        polling=10,
                        timeout=15_000,
                    )
                    lat.append(time.monotonic() - sent)
                    time.sleep(0.3)
                browser.close()
        finally:
            web.service.stop()
    print(
        f"SSE: MQTT publish -> figure on the overview: median {statistics.median(lat):.3f} s, "
        f"p99 {_q(lat, 0.99):.3f} s, max {max(lat):.3f} s over {len(lat)} readings"
    )
    after = [a - c for a, c in zip(lat, commit, strict=True)]
    print(
        f"     publish -> committed (accepted counter): median "
        f"{statistics.median(commit):.3f} s, p99 {_q(commit, 0.99):.3f} s; "
        f"committed -> on the page: median {statistics.median(after):.3f} s, "
        f"p99 {_q(after, 0.99):.3f} s"
    )


if __name__ == "__main__":
    main()
