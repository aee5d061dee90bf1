"""THE route table of the API: (method, path) -> the action it needs.

The action is one of :data:`heatreuse.services.access.PERMISSIONS` (checked on the
path's ``{site_id}``; a fleet route without one: on at least one served site, and it
answers for those sites only), :data:`PUBLIC` (nobody needs to be known: login, health, the
OpenAPI document) or :data:`~heatreuse.api.auth.AUTHENTICATED` (any valid principal).
:func:`check_routes` (run by :func:`heatreuse.api.app.create_app`) refuses to build an
app with a route missing here or guarded by another action than the one written here,
and ``tests/api/test_rbac_matrix.py`` calls every route as every role against this
table. The web UI's routes come from :data:`heatreuse.api.web` ``WEB_ROUTE_ACTIONS``
(same form) when that module defines it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from heatreuse.api.auth import AUTHENTICATED, route_action

PUBLIC = "public"
V1 = "/api/v1"
S = V1 + "/sites/{site_id}"
FLEET = V1 + "/fleet"

#: (METHOD, path template) -> action.
ROUTE_ACTIONS: Mapping[tuple[str, str], str] = {
    # infrastructure and documents
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", V1 + "/openapi.json"): PUBLIC,
    ("GET", V1 + "/docs"): PUBLIC,
    ("GET", V1 + "/docs/oauth2-redirect"): PUBLIC,
    ("GET", V1 + "/redoc"): PUBLIC,
    # sessions
    ("POST", V1 + "/login"): PUBLIC,
    ("POST", V1 + "/logout"): AUTHENTICATED,
    ("GET", V1 + "/me"): AUTHENTICATED,
    ("GET", V1 + "/sites"): AUTHENTICATED,
    # site, points, readings
    ("GET", S): "site.read",
    ("GET", S + "/points"): "site.read",
    ("GET", S + "/ingest/counters"): "site.read",
    ("GET", S + "/readings"): "readings.read",
    ("POST", S + "/readings"): "readings.write",
    # SLA, KPIs, ledger
    ("GET", S + "/sla"): "sla.read",
    ("GET", S + "/sla/periods/{period}"): "sla.read",
    ("GET", S + "/kpis"): "kpi.read",
    ("GET", S + "/ledger/entries"): "ledger.read",
    ("GET", S + "/ledger/checkpoints"): "ledger.read",
    ("GET", S + "/ledger/entries/{index}/proof"): "ledger.read",
    # watch and respond
    ("GET", S + "/alerts"): "alerts.read",
    ("POST", S + "/alerts/{alert_id}/ack"): "alerts.ack",
    ("GET", S + "/incidents"): "incidents.read",
    ("GET", S + "/incidents/{incident_id}"): "incidents.read",
    ("GET", S + "/silences"): "alerts.read",
    ("POST", S + "/silences"): "silences.write",
    ("POST", S + "/silences/{silence_id}/expire"): "silences.write",
    ("GET", S + "/actions"): "actions.read",
    ("GET", S + "/drills"): "incidents.read",
    ("GET", S + "/maintenance"): "site.read",
    ("POST", S + "/maintenance"): "maintenance.write",
    # two-person changes (the kind's own permission is checked in the route)
    ("GET", S + "/changes"): "changes.read",
    ("POST", S + "/changes"): "changes.read",
    ("GET", S + "/changes/{change_id}"): "changes.read",
    ("POST", S + "/changes/{change_id}/approve"): "changes.read",
    ("POST", S + "/changes/{change_id}/reject"): "changes.read",
    # who did what
    ("GET", S + "/audit"): "audit.read",
    ("GET", S + "/access/review"): "access.review",
    # people
    ("GET", S + "/users"): "users.manage",
    ("POST", S + "/users"): "users.manage",
    ("POST", S + "/users/{name}/disable"): "users.manage",
    ("GET", S + "/tokens"): "tokens.manage",
    ("POST", S + "/tokens"): "tokens.manage",
    ("POST", S + "/tokens/{token_id}/revoke"): "tokens.manage",
    ("POST", S + "/devices"): "devices.manage",
    # fleet views (no {site_id}: the action on at least one served site, 403 otherwise;
    # the answer holds only the sites the principal may do it on)
    ("GET", FLEET + "/status"): "site.read",
    ("GET", FLEET + "/kpi"): "kpi.read",
}


def app_routes(routes: Iterable[Any]) -> list[Any]:
    """Every route of an app, those of included routers too, with its full path.

    (FastAPI keeps included routers as one entry of ``app.routes``; its
    :func:`fastapi.routing.iter_route_contexts` unfolds them.)
    """
    from fastapi.routing import iter_route_contexts

    return [rc for rc in iter_route_contexts(list(routes)) if hasattr(rc, "path")]


def route_keys(route: Any) -> list[tuple[str, str]]:
    """``(METHOD, path)`` keys of a route (HEAD left out)."""
    methods = sorted(getattr(route, "methods", None) or {"GET"})
    return [(m, route.path) for m in methods if m != "HEAD"]


def all_actions(extra: Mapping[tuple[str, str], str] | None = None) -> dict[tuple[str, str], str]:
    """The API table plus ``extra`` (the web UI's)."""
    return {**ROUTE_ACTIONS, **(extra or {})}


def check_routes(routes: Iterable[Any], table: Mapping[tuple[str, str], str]) -> None:
    """Raise ``RuntimeError`` when a route is not in ``table`` or is guarded otherwise.

    A PUBLIC route must carry no ``require``; any other must be guarded by exactly
    the action of the table (read from its dependencies by
    :func:`heatreuse.api.auth.route_action`).
    """
    problems = []
    for route in app_routes(routes):
        guard = route_action(route)
        for key in route_keys(route):
            want = table.get(key)
            if want is None:
                problems.append(f"{key[0]} {key[1]}: not in the route table")
            elif want == PUBLIC and guard is not None:
                problems.append(f"{key[0]} {key[1]}: PUBLIC in the table, guarded by {guard}")
            elif want not in (PUBLIC, "readings.write") and guard != want:
                problems.append(f"{key[0]} {key[1]}: table says {want}, route checks {guard}")
    if problems:
        raise RuntimeError("API route table mismatch: " + "; ".join(problems))
