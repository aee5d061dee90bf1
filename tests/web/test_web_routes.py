"""The web UI's routes without a browser: login redirects, assets, an empty store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from heatreuse.api.app import create_app
from heatreuse.api.context import ApiContext, ApiSettings
from heatreuse.services import people
from heatreuse.site import load_site
from heatreuse.store import open_store

POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"


@pytest.fixture
def client(tmp_path: Path) -> Any:
    site = load_site(POOL)
    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    secret = b"s" * 32
    people.add_user(store, "vic", "viewer-pass-12", "viewer", site.id, by="test")
    token, _ = people.create_token(store, "vic", scope="read", by="test", secret=secret)
    ctx = ApiContext(
        sites={site.id: site},
        store=store,
        token_secret=secret,
        settings=ApiSettings(secure_cookies="never"),
    )
    yield TestClient(create_app(ctx)), site, token
    store.close()


def test_login_page_sends_back_only_to_local_paths(client: Any) -> None:
    c, site, _ = client
    r = c.get(f"/sites/{site.id}/overview", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Fsites%2F{site.id}%2Foverview"
    assert c.get(f"/sites/{site.id}/overview", follow_redirects=False).status_code == 401
    for bad in ("//evil.example/x", "/\\evil.example", "https://evil.example/"):
        assert 'data-next="/"' in c.get("/login", params={"next": bad}).text
    assert 'data-next="/sites/x/ops"' in c.get("/login", params={"next": "/sites/x/ops"}).text


def test_assets_come_from_the_package_and_nothing_else(client: Any) -> None:
    c, site, token = client
    r = c.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert len(r.content) > 1_000_000  # plotly.js, decoded by the client
    assert c.get("/static/../app.py").status_code == 404
    assert c.get("/static/evil.js").status_code == 404
    html = c.get(f"/sites/{site.id}/history", headers={"Authorization": f"Bearer {token}"}).text
    for ref in ("src=", "href="):
        for part in html.split(ref)[1:]:
            url = part.split('"')[1]
            assert not url.startswith(("http:", "https:", "//")), url


def test_an_empty_store_reads_unknown_everywhere(client: Any) -> None:
    c, site, token = client
    auth = {"Authorization": f"Bearer {token}"}
    ov = c.get(f"/sites/{site.id}/overview.json", headers=auth).json()
    figs = ov["figures"]
    for key in ("heat_now_kw", "supply_temp_c", "it_power_kw", "heat_today_kwh", "erf", "pue"):
        assert figs[key]["status"] == "unknown" and figs[key]["value"] is None, key
    assert figs["sla_attainment_month"]["status"] != "ok"
    assert ov["last_reading_at"] is None
    # the event stream answers a non-EventSource client with one snapshot and ends
    r = c.get(f"/sites/{site.id}/events", headers=auth)
    assert r.status_code == 200 and r.text.startswith("event: figures")
    assert '"heat_now_kw"' in r.text and '"status": "unknown"' in r.text
    for view in ("facilities", "ops", "sustainability", "alerts", "history", "glossary"):
        page = c.get(f"/sites/{site.id}/{view}", headers=auth)
        assert page.status_code == 200, view
        assert "unknown" in page.text.lower() or view in ("glossary", "alerts", "history")


def test_history_windows_and_date_picker(client: Any) -> None:
    c, site, token = client
    auth = {"Authorization": f"Bearer {token}"}
    for span in ("day", "week", "month", "year"):
        r = c.get(
            f"/sites/{site.id}/history", params={"span": span, "end": "2026-03-01"}, headers=auth
        )
        assert r.status_code == 200 and f'<option value="{span}" selected>' in r.text
        assert 'value="2026-03-01"' in r.text
    r = c.get(f"/sites/{site.id}/history", params={"end": "not-a-date"}, headers=auth)
    assert r.status_code == 422 and "end: expected a date" in r.text
