"""Two-person changes over the API: request, approve by a second person (the hash of
exactly that request), execution in the store, the audit trail with the client address;
and the refusals (the requester, a role without the kind's permission, a read token,
a wrong hash, an unknown id)."""

from __future__ import annotations

from api_harness import PASSWORD, Api

from heatreuse.api.auth import CSRF_HEADER
from heatreuse.services import people


def _s(api: Api) -> str:
    return f"/api/v1/sites/{api.site_a.id}"


def test_long_silence_needs_a_second_person(api: Api) -> None:
    people.add_user(
        api.store,
        "otto",
        PASSWORD,
        "operator",
        api.site_a.id,
        by="root",
        hasher=people.cheap_hasher(),
    )
    otto, _ = people.create_token(api.store, "otto", scope="write", by="root", secret=api.secret)
    c = api.client()
    body = {"matchers": ["rule=hx_fouling"], "duration": "8h", "comment": "HX cleaning"}
    r = c.post(_s(api) + "/silences", json=body, headers=api.bearer("operator"))
    assert r.status_code == 202, r.text
    change = r.json()["change"]
    assert change["state"] == "requested" and change["kind"] == "silence"
    assert api.store.list_silences(api.site_a.id) == []
    url = _s(api) + f"/changes/{change['id']}/approve"
    # the requester may not approve; a viewer may not; a wrong hash is refused
    r = c.post(url, json={"hash": change["request_hash"]}, headers=api.bearer("operator"))
    assert r.status_code == 403 and "two-person" in r.json()["detail"]
    r = c.post(url, json={"hash": change["request_hash"]}, headers=api.bearer("viewer"))
    assert r.status_code == 403
    r = c.post(url, json={"hash": "0" * 64}, headers={"Authorization": f"Bearer {otto}"})
    assert r.status_code == 409 and r.json()["field"] == "hash"
    assert api.store.list_silences(api.site_a.id) == []
    r = c.post(
        url, json={"hash": change["request_hash"]}, headers={"Authorization": f"Bearer {otto}"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "executed" and r.json()["approved_by"] == "otto"
    assert len(api.store.list_silences(api.site_a.id)) == 1
    r = c.post(
        url, json={"hash": change["request_hash"]}, headers={"Authorization": f"Bearer {otto}"}
    )
    assert r.status_code == 409  # approved once only
    listed = c.get(_s(api) + "/changes", headers=api.bearer("viewer")).json()["items"]
    assert [x["state"] for x in listed] == ["executed"]
    audit = people.list_audit(api.store, api.site_a.id)
    steps = [a for a in audit if a["action"].startswith("change.")]
    assert [a["action"] for a in steps][:2] == ["change.request", "change.approve"]
    assert [a["actor"] for a in steps][:2] == ["operator-a", "otto"]
    assert all(a["detail"].get("address") == "testclient" for a in steps[:2]), steps


def test_role_grant_by_two_admins_through_a_browser_session(api: Api) -> None:
    people.add_user(
        api.store,
        "adam",
        PASSWORD,
        "admin",
        api.site_a.id,
        by="root",
        hasher=people.cheap_hasher(),
    )
    first = api.client()
    csrf1 = api.login(first, "admin-a")
    body = {
        "kind": "role_grant",
        "target": "role_grant",
        "reason": "new shift lead",
        "value": {"user": "viewer-a", "role": "operator", "site_id": api.site_a.id},
    }
    r = first.post(_s(api) + "/changes", json=body)
    assert r.status_code == 403  # no CSRF token
    r = first.post(_s(api) + "/changes", json=body, headers={CSRF_HEADER: csrf1})
    assert r.status_code == 201, r.text
    change = r.json()
    second = api.client()
    csrf2 = api.login(second, "adam")
    r = second.post(
        _s(api) + f"/changes/{change['id']}/approve",
        json={"hash": change["request_hash"]},
        headers={CSRF_HEADER: csrf2},
    )
    assert r.status_code == 200 and r.json()["state"] == "executed", r.text
    me = api.client().get("/api/v1/me", headers=api.bearer("viewer")).json()
    assert sorted(me["roles"][api.site_a.id]) == ["operator", "viewer"]


def test_request_refusals(api: Api) -> None:
    c = api.client()
    url = _s(api) + "/changes"
    grant = {
        "kind": "role_grant",
        "target": "role_grant",
        "reason": "x",
        "value": {"user": "viewer-a", "role": "admin", "site_id": api.site_a.id},
    }
    # an operator may not request role grants; a viewer nothing
    assert c.post(url, json=grant, headers=api.bearer("operator")).status_code == 403
    silence = {
        "kind": "silence",
        "target": "silence",
        "reason": "x",
        "value": {"matchers": ["rule=a"], "duration": "8h", "comment": "c"},
    }
    assert c.post(url, json=silence, headers=api.bearer("viewer")).status_code == 403
    # a read-scope token of an operator: the scope refuses it before the service looks
    read, _ = people.create_token(
        api.store, "operator-a", scope="read", by="root", secret=api.secret
    )
    r = c.post(url, json=silence, headers={"Authorization": f"Bearer {read}"})
    assert r.status_code == 403
    r = c.post(url, json={**silence, "kind": "warp_drive"}, headers=api.bearer("operator"))
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = c.post(url, json={**silence, "reason": ""}, headers=api.bearer("operator"))
    assert r.status_code == 422
    r = c.get(_s(api) + "/changes/cr-0123456789", headers=api.bearer("viewer"))
    assert r.status_code == 404
    r = c.get(_s(api) + "/changes/x'; DROP TABLE change_requests;--", headers=api.bearer("viewer"))
    assert r.status_code == 422
    r = c.get(_s(api) + "/changes", params={"state": "bogus"}, headers=api.bearer("viewer"))
    assert r.status_code == 422


def test_short_silence_at_once_audited_with_who_and_where(api: Api) -> None:
    c = api.client()
    body = {"matchers": ["rule=pump_dry_run"], "duration": "2h", "comment": "pump swap"}
    r = c.post(_s(api) + "/silences", json=body, headers=api.bearer("operator"))
    assert r.status_code == 201, r.text
    sid = r.json()["silence"]["id"]
    assert r.json()["silence"]["starts_at"].startswith("2026-03-10T12:00")  # the API's clock
    r = c.post(
        _s(api) + f"/silences/{sid}/expire",
        json={"comment": "done"},
        headers=api.bearer("facilities"),
    )
    assert r.status_code == 200 and r.json()["expired_by"] == "facilities-a"
    r = c.post(_s(api) + f"/silences/{sid}/expire", json={}, headers=api.bearer("facilities"))
    assert r.status_code == 400  # already ended: the service says so
    rows = [
        a
        for a in people.list_audit(api.store, api.site_a.id)
        if a["action"] in ("silence.add", "silence.expire")
    ]
    assert [(a["action"], a["actor"], a["detail"]["address"]) for a in rows] == [
        ("silence.add", "operator-a", "testclient"),
        ("silence.expire", "facilities-a", "testclient"),
    ]


def test_ack_an_alert_once_with_who_and_where(api: Api) -> None:
    from heatreuse.store.base import AlertRecord

    at = 1_773_100_000_000_000
    aid = api.store.upsert_alert(
        AlertRecord(
            site_id=api.site_a.id,
            fingerprint="f1",
            labels={"alertname": "pump_dry_run", "rule": "pump_dry_run", "severity": "critical"},
            state="firing",
            active_at_us=at,
            started_at_us=at,
        )
    )
    c = api.client()
    url = _s(api) + f"/alerts/{aid}/ack"
    assert c.post(url, json={"comment": "on it"}, headers=api.bearer("viewer")).status_code == 403
    r = c.post(url, json={"comment": "on it"}, headers=api.bearer("operator"))
    assert r.status_code == 200 and r.json()["acked_by"] == "operator-a", r.text
    r = c.post(url, json={"comment": "me too"}, headers=api.bearer("security"))
    assert r.status_code == 409 and "operator-a" in r.json()["detail"]
    firing = c.get(_s(api) + "/alerts", headers=api.bearer("viewer")).json()["items"]
    assert [(a["id"], a["acked_by"]) for a in firing] == [(aid, "operator-a")]
    acks = [a for a in people.list_audit(api.store, api.site_a.id) if a["action"] == "alert.ack"]
    assert [(a["actor"], a["reason"], a["detail"]["address"]) for a in acks] == [
        ("operator-a", "on it", "testclient")
    ]
