"""Every route of the app x every role (and nobody) against the one route table.

The routes come from ``app.routes``: a route added without an entry in
:data:`heatreuse.api.permissions.ROUTE_ACTIONS` fails here (and ``create_app`` refuses
it). The expected answer comes from :data:`heatreuse.services.access.PERMISSIONS`
directly: 401 for nobody, 403 for a role the table does not list, anything but
401/403 (and never 5xx) for one it lists.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_harness import ROLES, Api

from heatreuse.api import web
from heatreuse.api.auth import AUTHENTICATED
from heatreuse.api.permissions import PUBLIC, all_actions, app_routes, route_keys
from heatreuse.services import access

#: The API's route table plus the web UI's (what create_app checks the app against).
ROUTE_ACTIONS = all_actions(getattr(web, "WEB_ROUTE_ACTIONS", None))

PATH_VALUES = {
    "alert_id": "1",
    "incident_id": "1",
    "silence_id": "s-1",
    "index": "0",
    "period": "2026-03",
    "name": "nobody",
    "token_id": "abc123",
    "change_id": "cr-00",
}
QUERIES = {
    "/readings": {
        "point": "hx.secondary_supply_temp_c",
        "start": "2026-03-10T00:00Z",
        "end": "2026-03-10T01:00Z",
    },
}


def _url(path: str, site_id: str) -> str:
    url = path.replace("{site_id}", site_id)
    for key, value in PATH_VALUES.items():
        url = url.replace("{" + key + "}", value)
    assert "{" not in url, f"no test value for a parameter of {path}"
    return url


def _call(client: Any, method: str, path: str, site_id: str, headers: dict[str, str]) -> Any:
    url = _url(path, site_id)
    params = next((q for suffix, q in QUERIES.items() if path.endswith(suffix)), None)
    if method == "GET":
        return client.get(url, params=params, headers=headers)
    return client.request(method, url, params=params, json={}, headers=headers)


def _allowed(role: str | None, action: str) -> bool:
    if action == PUBLIC:
        return True
    if role is None:
        return False
    if action == AUTHENTICATED:
        return True
    return role in access.PERMISSIONS[action]


def _keys(api: Api) -> list[tuple[str, str]]:
    keys = [k for route in app_routes(api.app.routes) for k in route_keys(route)]
    assert len(keys) >= 40
    return keys


def test_every_route_is_in_the_table(api: Api) -> None:
    keys = _keys(api)
    missing = [k for k in keys if k not in ROUTE_ACTIONS]
    assert not missing
    # and the table names no route the app lacks (a stale entry would hide nothing,
    # but says the table is not what the app serves)
    assert set(ROUTE_ACTIONS) - set(keys) == set()


@pytest.mark.parametrize("role", [*ROLES, None])
def test_every_route_as_every_role(api: Api, role: str | None) -> None:
    client = api.client()
    headers = api.bearer(role) if role is not None else {}
    failures = []
    for method, path in _keys(api):
        action = ROUTE_ACTIONS[(method, path)]
        r = _call(client, method, path, api.site_a.id, headers)
        if r.status_code >= 500:
            failures.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
        elif _allowed(role, action):
            if r.status_code in (401, 403):
                failures.append(f"{method} {path} ({action}): {r.status_code}, expected allowed")
        elif r.status_code != (401 if role is None else 403):
            want = 401 if role is None else 403
            failures.append(f"{method} {path} ({action}): {r.status_code}, expected {want}")
    assert not failures, f"role {role}:\n" + "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_a_role_on_site_a_gives_nothing_on_site_b(api: Api, role: str) -> None:
    client = api.client()
    failures = []
    for method, path in _keys(api):
        action = ROUTE_ACTIONS[(method, path)]
        if "{site_id}" not in path:
            continue
        r = _call(client, method, path, api.site_b.id, api.bearer(role))
        # the readings push serves site A only: 404 for B before any token is read
        expected = {404} if action == "readings.write" else {403}
        if r.status_code not in expected:
            failures.append(f"{method} {path} on B: {r.status_code}, expected {expected}")
    assert not failures, f"role {role}:\n" + "\n".join(failures)


def test_the_same_role_granted_on_b_opens_b(api: Api) -> None:
    from heatreuse.services import people

    people.grant_role(api.store, "viewer-a", "viewer", api.site_b.id, by="root")
    client = api.client()
    url = f"/api/v1/sites/{api.site_b.id}"
    assert client.get(url, headers=api.bearer("viewer")).status_code == 200
    assert client.get(url + "/audit", headers=api.bearer("viewer")).status_code == 403
