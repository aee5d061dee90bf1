"""The dashboard and the wall display in a real browser (Debian chromium via Playwright).

Against a running serve (MQTT + the API + the web UI): log in through the form; the
overview's figures equal the API's JSON; a reading published over MQTT shows up on the
open page by server-sent events; a viewer sees no ack button and the API refuses a forged
ack; the wall display renders with a display token and is refused without one (and
after the token is revoked). A screenshot of every view goes to ``artifacts/web/``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pandas as pd
import pytest
from web_support import CONTRAST_JS, Web, artifacts_dir, login, publish

VIEWS = ("overview", "facilities", "ops", "sustainability", "alerts", "history", "glossary")


def _fig_text(page: Any, key: str) -> str:
    return str(page.locator(f'[data-fig="{key}"]').first.inner_text()).strip()


def test_every_view_renders_after_login(web: Web, browser: Any) -> None:
    page = login(browser, web, "olga")
    out = artifacts_dir()
    for view in VIEWS:
        page.goto(f"{web.base}/sites/{web.site.id}/{view}")
        assert page.locator("h1").first.is_visible()
        assert page.locator('nav a[aria-current="page"]').inner_text().lower() == view
        assert page.evaluate(CONTRAST_JS) == [], f"{view}: text below WCAG AA contrast"
        page.screenshot(path=str(out / f"{view}.png"), full_page=True)
    # the keyboard reaches the first figure and its source shows on focus
    page.goto(f"{web.base}/sites/{web.site.id}/overview")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    fig = page.locator('.fig[data-key="heat_now_kw"]')
    fig.focus()
    assert page.locator("#src-heat_now_kw").is_visible()
    assert "meter.heat_power_w" in page.locator("#src-heat_now_kw").inner_text()
    page.context.close()


def test_phone_layout_has_no_horizontal_scroll(web: Web, browser: Any) -> None:
    page = login(browser, web, "vic", viewport={"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width} px wide on a 390 px phone"
    page.screenshot(path=str(artifacts_dir() / "overview-phone.png"), full_page=True)
    page.context.close()


def test_overview_figures_equal_the_api(web: Web, browser: Any) -> None:
    page = login(browser, web, "vic")
    as_of = page.locator("#as-of").get_attribute("datetime") or ""
    heat_text = _fig_text(page, "heat_now_kw")
    att_text = _fig_text(page, "sla_attainment_month")
    budget_text = _fig_text(page, "sla_budget_left_month")
    page.context.close()
    auth = {"Authorization": f"Bearer {web.read_token}"}
    now = pd.Timestamp(as_of)
    api = f"{web.base}/api/v1/sites/{web.site.id}"
    with httpx.Client(headers=auth, timeout=30) as c:
        rows = c.get(
            api + "/readings",
            params={
                "point": "meter.heat_power_w",
                "start": (now - pd.Timedelta(minutes=10)).isoformat(),
                "end": (now + pd.Timedelta(seconds=1)).isoformat(),
            },
        ).json()["rows"]
        sla = c.get(api + "/sla", params={"now": now.isoformat()}).json()["reports"][0]
    assert rows, "the API has no heat reading in the last 10 minutes"
    assert heat_text == f"{rows[-1]['value'] / 1000:.1f}"
    assert att_text == f"{sla['attainment_fraction'] * 100:.2f}"
    assert budget_text == f"{sla['error_budget_left_min']:,.0f}"


def test_reading_over_mqtt_reaches_the_open_pages_by_sse(web: Web, browser: Any) -> None:
    page = login(browser, web, "olga")
    wall_ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    wall = wall_ctx.new_page()
    wall.goto(f"{web.base}/wall/{web.site.id}?token={web.display_token}")
    for p in (page, wall):
        p.wait_for_function("document.body.dataset.liveSeq !== undefined", timeout=15_000)
    before = _fig_text(page, "heat_now_kw")
    value_w = 45_678.0 if before != "45.7" else 44_321.0
    want = f"{value_w / 1000:.1f}"
    sent = publish(web.prefix, {"meter.heat_power_w": value_w})
    js = f"document.querySelector('[data-fig=\"heat_now_kw\"]').textContent.trim() === '{want}'"
    page.wait_for_function(js, timeout=10_000)
    latency_s = time.monotonic() - sent
    wall.wait_for_function(js, timeout=10_000)
    print(f"MQTT publish -> figure on the page: {latency_s:.2f} s")  # a figure; bench_web: p99
    assert int(page.evaluate("document.body.dataset.liveSeq")) >= 1
    wall_ctx.close()
    page.context.close()


def test_viewer_has_no_ack_and_forged_acks_are_refused(web: Web, browser: Any) -> None:
    url = f"/api/v1/sites/{web.site.id}/alerts/{web.alert_id}/ack"
    page = login(browser, web, "vic")
    page.goto(f"{web.base}/sites/{web.site.id}/alerts")
    assert page.locator(f'tr[data-alert="{web.alert_id}"]').is_visible()
    timeline = page.locator("details", has_text="utility_feed: site feed lost")
    timeline.locator("summary").click()  # resolved incidents start folded
    assert "acked" in timeline.inner_text() and "feeder breaker tripped" in timeline.inner_text()
    assert page.locator("[data-ack]").count() == 0
    assert page.locator("#silence-form").count() == 0
    page.screenshot(path=str(artifacts_dir() / "alerts-viewer.png"), full_page=True)
    forged = """async (url) => {
        const csrf = (document.cookie.match(/heatreuse_csrf=([^;]*)/) || [])[1] || "";
        const r = await fetch(url, {method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
            body: JSON.stringify({comment: "forged"})});
        return r.status;
    }"""
    assert page.evaluate(forged, url) == 403  # the viewer's own session and CSRF token
    page.context.close()
    # an operator's session without the CSRF token (what a cross-site form would send)
    op = login(browser, web, "olga")
    no_csrf = """async (url) => (await fetch(url, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: "{}"})).status"""
    assert op.evaluate(no_csrf, url) == 403
    with httpx.Client(timeout=30) as c:
        r = c.post(web.base + url, json={}, headers={"Authorization": f"Bearer {web.read_token}"})
        assert r.status_code == 403
        r = c.post(web.base + url, json={}, params={"token": web.display_token})
        assert r.status_code == 401
    op.goto(f"{web.base}/sites/{web.site.id}/alerts")
    assert op.locator(f'tr[data-alert="{web.alert_id}"] td').nth(4).inner_text() == "no"
    # the operator acknowledges from the page: the button, the prompt, the audited ack
    op.once("dialog", lambda d: d.accept("taking it, checking the HX"))
    op.click(f'[data-ack="{web.alert_id}"]')
    op.wait_for_function(
        f"!document.querySelector('[data-ack=\"{web.alert_id}\"]')", timeout=10_000
    )
    assert (
        op.locator(f'tr[data-alert="{web.alert_id}"] td').nth(4).inner_text().startswith("olga at ")
    )
    # and silences through the form (the API checks role and CSRF, audits it)
    op.fill("#sil-matchers", "rule=low_delta_t")
    op.fill("#sil-duration", "30m")
    op.fill("#sil-comment", "HX cleaning this afternoon")
    op.press("#sil-comment", "Enter")
    op.wait_for_selector("text=HX cleaning this afternoon", timeout=10_000)
    assert "rule=low_delta_t" in op.locator("section", has_text="Silences").last.inner_text()
    op.context.close()


def test_wall_display_with_token_and_refused_without(web: Web, browser: Any) -> None:
    from heatreuse.services import people
    from heatreuse.store import open_store

    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = ctx.new_page()
    resp = page.goto(f"{web.base}/wall/{web.site.id}?token={web.display_token}")
    assert resp is not None and resp.status == 200
    for key in ("heat_now_kw", "heat_today_kwh", "supply_temp_c", "sla_budget_left_month"):
        assert page.locator(f'.tile[data-key="{key}"]').is_visible()
    # read only: no controls at all; one screen, no scrolling; readable from 3 m
    assert page.locator("button, input, select, textarea, form, nav").count() == 0
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080
    assert page.evaluate("document.documentElement.scrollWidth") <= 1920
    big_px = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.tile .big')).fontSize)"
    )
    assert big_px >= 96, f"tile figures are {big_px} px high"
    assert page.evaluate(CONTRAST_JS) == []
    page.screenshot(path=str(artifacts_dir() / "wall.png"))
    # refused: no token, a token of another scope, then the display token once revoked
    assert page.goto(f"{web.base}/wall/{web.site.id}").status == 401
    assert page.goto(f"{web.base}/wall/{web.site.id}?token={web.read_token}").status == 401
    events = page.request.get(f"{web.base}/sites/{web.site.id}/events")
    assert events.status == 401
    url = web.service.store.url
    with open_store(url) as store:
        people.revoke_token(store, web.display_token_id, by="test")
    assert page.goto(f"{web.base}/wall/{web.site.id}?token={web.display_token}").status == 401
    ctx.close()


def test_sla_figures_are_refreshed_by_the_stream(
    web: Web, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heatreuse.api import web as web_ui

    monkeypatch.setattr(web_ui, "SSE_PERIODIC_S", 0.5)
    web_ui._PERIODIC.clear()
    page = login(browser, web, "vic")
    page.wait_for_function("document.body.dataset.periodicAt !== undefined", timeout=15_000)
    at = page.evaluate("document.body.dataset.periodicAt")
    assert page.locator("#as-of").get_attribute("datetime") == at
    assert _fig_text(page, "sla_budget_left_month") not in ("", "unknown")
    page.context.close()
