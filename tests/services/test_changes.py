"""Two-person rule: who may request, approve, override and review; hashes, expiry, bounds.

End to end against the live twin's control port on loopback: request, approve by a
second user, the value written and read back from the twin, audit rows for each step.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from heatreuse.errors import AccessDeniedError
from heatreuse.services import changes, people
from heatreuse.services.changes import ChangeError
from heatreuse.services.twin import LiveTwin, TwinControlServer
from heatreuse.site import Site, load_site
from heatreuse.store import Store, open_store
from heatreuse.telemetry.commands import TwinControlExecutor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
H = people.cheap_hasher()
T0 = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)
PW = "a long enough password"

#: name -> role on the pool site. RACI of examples/pool.yaml: design_change responsible anna,
#: accountable kai; automation_override responsible anna, omar; accountable anna.
USERS = {
    "anna": "facilities",
    "kai": "facilities",
    "omar": "operator",
    "zoe": "facilities",  # facilities, but not in the RACI
    "lena": "sustainability",
    "sec": "security",
    "root": "admin",
    "root2": "admin",
    "op2": "operator",
}


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


@pytest.fixture
def store(backend_url: str, site: Site) -> Iterator[Store]:
    s = open_store(backend_url, create=True)
    for name, role in USERS.items():
        people.add_user(s, name, PW, role, site.id, by="setup", hasher=H, now=T0)
    try:
        yield s
    finally:
        s.close()


def _req(site: Site, store: Store, value: float = 45.0, by: str = "anna", **kw: object) -> dict:
    return changes.request_change(
        site,
        store,
        "setpoint",
        "supply_setpoint_c",
        value,
        "pool too cold in the morning",
        by=by,
        now=T0,
        **kw,  # type: ignore[arg-type]
    )


def test_request_names_who_what_why_expiry_and_hash(site: Site, store: Store) -> None:
    r = _req(site, store)
    assert r["state"] == "requested" and r["requested_by"] == "anna"
    assert r["command"]["target"] == "supply_setpoint_c" and r["command"]["value"] == 45.0
    assert r["command"]["bounds"]["field"] == "customer.supply_band"
    assert (r["command"]["bounds"]["min"], r["command"]["bounds"]["max"]) == (32.0, 50.0)
    assert r["expires_at"] == "2026-10-05T16:00:00Z"  # default 4 h
    assert len(r["request_hash"]) == 64
    rec = changes.rows.get_change(store, site.id, r["id"])
    assert rec is not None and changes.request_hash(rec) == r["request_hash"]
    audit = people.list_audit(store, site.id)
    assert audit[-1]["action"] == "change.request" and audit[-1]["actor"] == "anna"
    assert audit[-1]["reason"] == "pool too cold in the morning"
    assert audit[-1]["detail"]["request_hash"] == r["request_hash"]
    assert audit[-1]["detail"]["address"] == "cli"


def test_requester_cannot_approve_own_request(site: Site, store: Store) -> None:
    r = _req(site, store)
    with pytest.raises(AccessDeniedError, match="two-person rule"):
        changes.approve_change(site, store, r["id"], r["request_hash"], by="anna", now=T0)
    assert changes.show_change(site, store, r["id"], now=T0)["state"] == "requested"


def test_wrong_role_or_not_in_raci_refused(site: Site, store: Store) -> None:
    r = _req(site, store)
    # an operator lacks setpoint.approve
    with pytest.raises(AccessDeniedError, match=r"setpoint\.approve.*facilities.*holds operator"):
        changes.approve_change(site, store, r["id"], r["request_hash"], by="omar", now=T0)
    # facilities, but the RACI does not name zoe for design changes
    with pytest.raises(AccessDeniedError, match=r"ownership\.design_change.*anna, kai"):
        changes.approve_change(site, store, r["id"], r["request_hash"], by="zoe", now=T0)
    # an admin writes no plant values
    with pytest.raises(AccessDeniedError, match="holds admin"):
        changes.approve_change(site, store, r["id"], r["request_hash"], by="root", now=T0)
    # an unknown user
    with pytest.raises(AccessDeniedError, match="no such user"):
        changes.approve_change(site, store, r["id"], r["request_hash"], by="mallory", now=T0)
    # a viewer-ish role cannot even request
    with pytest.raises(AccessDeniedError, match=r"setpoint\.request"):
        _req(site, store, by="lena")
    assert changes.show_change(site, store, r["id"], now=T0)["state"] == "requested"
    # the right person can (no executor: approved, waiting for execution)
    ok = changes.approve_change(site, store, r["id"], r["request_hash"], by="kai", now=T0)
    assert ok["state"] == "approved" and ok["approved_by"] == "kai"


def test_hash_mismatch_tampering_and_expiry_refused(site: Site, store: Store) -> None:
    r = _req(site, store)
    other = _req(site, store, value=40.0)
    with pytest.raises(ChangeError, match="is not the hash of this request"):
        changes.approve_change(site, store, r["id"], other["request_hash"], by="kai", now=T0)
    with pytest.raises(ChangeError, match="is not the hash"):
        changes.approve_change(site, store, r["id"], "", by="kai", now=T0)
    # someone edits the stored command after the request (value 45 -> 50)
    with store.transaction() as tx:
        tx.execute(
            "UPDATE change_requests SET command = ? WHERE id = ?",
            (r_cmd := json.dumps({**r["command"], "value": 50.0}), r["id"]),
        )
    assert "50.0" in r_cmd
    with pytest.raises(ChangeError, match="no longer matches its hash"):
        changes.approve_change(site, store, r["id"], r["request_hash"], by="kai", now=T0)
    # expired: 4 h later the approval is refused and the request marked expired
    late = T0 + dt.timedelta(hours=4, seconds=1)
    with pytest.raises(ChangeError, match="expired at 2026-10-05T16:00:00Z"):
        changes.approve_change(site, store, other["id"], other["request_hash"], by="kai", now=late)
    assert changes.show_change(site, store, other["id"], now=T0)["state"] == "expired"
    actions = [a["action"] for a in people.list_audit(store, site.id)]
    assert actions.count("change.expire") == 1 and "change.approve" not in actions


def test_bounds_name_the_field_and_the_bounds(site: Site, store: Store) -> None:
    with pytest.raises(ChangeError) as e:
        _req(site, store, value=55.0)
    msg = str(e.value)
    assert "supply_setpoint_c" in msg and "customer.supply_band" in msg
    assert "at least 32" in msg and "at most 50" in msg and "55" in msg
    with pytest.raises(ChangeError, match=r"compute\.cooling\.coolant_supply_temp_c"):
        changes.request_change(
            site, store, "setpoint", "loop_setpoint_c", 99, "hotter", by="anna", now=T0
        )
    with pytest.raises(ChangeError, match="expected one of auto, on, off"):
        changes.request_change(
            site, store, "pump_mode", "pump.p-primary.mode", "max", "x", by="anna", now=T0
        )
    with pytest.raises(ChangeError, match=r"--target of setpoint.*expected one of"):
        changes.request_change(site, store, "setpoint", "valve", 1, "x", by="anna", now=T0)
    with pytest.raises(ChangeError, match="--reason"):
        changes.request_change(
            site, store, "setpoint", "supply_setpoint_c", 40, "  ", by="anna", now=T0
        )
    with pytest.raises(ChangeError, match="--expires"):
        _req(site, store, expires="30d")
    assert changes.list_changes(site, store, now=T0) == []


def test_reject_and_list_filters(site: Site, store: Store) -> None:
    a = _req(site, store)
    b = _req(site, store, value=38.0)
    with pytest.raises(AccessDeniedError):
        changes.reject_change(site, store, a["id"], "no", by="lena", now=T0)
    changes.reject_change(site, store, a["id"], "too hot for the swimmers", by="kai", now=T0)
    assert [c["id"] for c in changes.list_changes(site, store, state="rejected", now=T0)] == [
        a["id"]
    ]
    assert [c["id"] for c in changes.list_changes(site, store, state="requested", now=T0)] == [
        b["id"]
    ]
    with pytest.raises(ChangeError, match="--state"):
        changes.list_changes(site, store, state="done")
    with pytest.raises(ChangeError, match="state 'rejected'"):
        changes.approve_change(site, store, a["id"], a["request_hash"], by="kai", now=T0)


def test_silence_over_4h_and_role_grant_execute_in_the_store(site: Site, store: Store) -> None:
    s = changes.request_change(
        site,
        store,
        "silence",
        "silence",
        {"matchers": ["rule=stale_feed"], "duration": "6h", "comment": "meter swap"},
        "meter swap takes all day",
        by="omar",
        now=T0,
    )
    assert store.list_silences(site.id) == []  # nothing muted before approval
    with pytest.raises(AccessDeniedError, match="two-person"):
        changes.approve_change(site, store, s["id"], s["request_hash"], by="omar", now=T0)
    done = changes.approve_change(site, store, s["id"], s["request_hash"], by="op2", now=T0)
    assert done["state"] == "executed" and done["result"]["ok"] is True
    [sil] = store.list_silences(site.id)
    assert sil.id == done["result"]["silence_id"] and sil.matchers == ("rule=stale_feed",)
    assert (sil.ends_at_us - sil.starts_at_us) == 6 * 3600 * 1_000_000

    g = changes.request_change(
        site,
        store,
        "role_grant",
        "role_grant",
        {"user": "lena", "role": "auditor"},
        "annual audit",
        by="root",
        now=T0,
    )
    assert "auditor" not in str(people.list_users(store))
    with pytest.raises(AccessDeniedError):
        changes.approve_change(site, store, g["id"], g["request_hash"], by="anna", now=T0)
    done = changes.approve_change(site, store, g["id"], g["request_hash"], by="root2", now=T0)
    assert done["state"] == "executed" and done["result"]["read_back"] == f"auditor@{site.id}"
    roles = {u["name"]: u["roles"] for u in people.list_users(store)}
    assert f"auditor@{site.id}" in roles["lena"]


# --------------------------------------------------------------------------- live twin
@pytest.fixture
def live(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveTwin]:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    clock = pd.Timestamp("2026-10-05T12:00Z").timestamp()
    twin = LiveTwin(site, speed=3600, step_s=60, start="2026-10-05T06:00Z", clock=lambda: clock)
    control = TwinControlServer(twin, "127.0.0.1", 0)
    twin.sinks.append(control)
    control.start()
    try:
        yield twin
    finally:
        control.close()


def _executor(twin: LiveTwin, token: str | None = None) -> TwinControlExecutor:
    control = next(s for s in twin.sinks if isinstance(s, TwinControlServer))
    assert control.token_file is not None
    host, port = control.address
    return TwinControlExecutor(host, port, token or control.token_file.read_text().strip())


def test_end_to_end_against_the_live_twin(site: Site, store: Store, live: LiveTwin) -> None:
    ex = _executor(live)
    assert live.read_controls()["supply_setpoint_c"] == 32.0
    r = _req(site, store, value=46.5)
    assert live.read_controls()["supply_setpoint_c"] == 32.0  # nothing written on request
    done = changes.approve_change(
        site, store, r["id"], r["request_hash"], by="kai", executor=ex, now=T0
    )
    assert done["state"] == "executed"
    assert done["result"]["written"] == 46.5 and done["result"]["read_back"] == 46.5
    assert done["result"]["ok"] is True and done["result"]["executor"].startswith("twin 127.0.0.1")
    assert live.read_controls()["supply_setpoint_c"] == 46.5
    actions = [
        (a["action"], a["actor"])
        for a in people.list_audit(store, site.id)
        if a["action"].startswith("change.")
    ]
    assert actions == [
        ("change.request", "anna"),
        ("change.approve", "kai"),
        ("change.execute", "kai"),
    ]
    last = people.list_audit(store, site.id)[-1]
    assert last["detail"]["result"]["read_back"] == 46.5
    # executed once: approving again is refused
    with pytest.raises(ChangeError, match="state 'executed'"):
        changes.approve_change(site, store, r["id"], r["request_hash"], by="kai", executor=ex)


def _stepped_twin(
    site: Site, wall: list[float], controls: dict[str, Any] | None = None
) -> LiveTwin:
    """A live twin from 2026-10-05T06:00Z on the clock ``wall[0]`` [s], one step a
    minute, with ``controls`` written before its first step."""
    tw = LiveTwin(
        site,
        speed=1,
        step_s=60,
        start="2026-10-05T06:00Z",
        clock=lambda: wall[0],
        clamp_to_wall=False,
    )
    for name, value in (controls or {}).items():
        tw.write_control(name, value)
    return tw


def test_loop_setpoint_reaches_the_engine(site: Site, store: Store, tmp_path: Path) -> None:
    """The loop set point is the controller's: the simulated IT loop follows it."""
    t0 = pd.Timestamp("2026-10-05T06:00Z").timestamp()
    wall = [t0]
    twins = [_stepped_twin(site, wall) for _ in range(2)]
    control = TwinControlServer(twins[1], "127.0.0.1", 0, token_file=tmp_path / "t.token")
    control.start()
    try:
        host, port = control.address
        ex = TwinControlExecutor(host, port, (tmp_path / "t.token").read_text().strip())
        r = changes.request_change(
            site,
            store,
            "setpoint",
            "loop_setpoint_c",
            40.0,
            "more heat to the pool",
            by="anna",
            now=T0,
        )
        done = changes.approve_change(
            site, store, r["id"], r["request_hash"], by="kai", executor=ex, now=T0
        )
    finally:
        control.close()
    assert done["state"] == "executed" and done["result"]["read_back"] == 40.0
    wall[0] = t0 + 6 * 3600
    for tw in twins:
        tw.advance()
    default, changed = (tw.latest["it_loop.return_temp_c"] for tw in twins)
    assert abs(default - 48.0) < 1.0  # compute.cooling.coolant_return_temp_c
    assert abs(changed - 40.0) < 1.0


def test_failed_read_back_is_recorded_as_failed(site: Site, store: Store, live: LiveTwin) -> None:
    class Stuck(TwinControlExecutor):
        def read(self, target: str) -> float | str | None:
            return 32.0  # the device ignored the write

    real = _executor(live)
    ex = Stuck(real.host, real.port, real._token)
    r = _req(site, store, value=44.0)
    done = changes.approve_change(
        site, store, r["id"], r["request_hash"], by="kai", executor=ex, now=T0
    )
    assert done["state"] == "failed" and done["result"]["ok"] is False
    assert "read back 32.0, expected 44.0" in done["result"]["error"]
    assert people.list_audit(store, site.id)[-1]["action"] == "change.fail"
    # a wrong token: refused by the twin, recorded as failed
    r2 = _req(site, store, value=43.0)
    bad = TwinControlExecutor(real.host, real.port, "x" * 43)
    done = changes.approve_change(
        site, store, r2["id"], r2["request_hash"], by="kai", executor=bad, now=T0
    )
    assert done["state"] == "failed" and "401" in done["result"]["error"]
    assert live.read_controls()["supply_setpoint_c"] == 44.0  # only the stuck write landed


def test_approve_then_execute_later(site: Site, store: Store, live: LiveTwin) -> None:
    r = changes.request_change(
        site,
        store,
        "pump_mode",
        "pump.p-secondary.mode",
        "off",
        "replace seal",
        by="anna",
        now=T0,
    )
    changes.approve_change(site, store, r["id"], r["request_hash"], by="kai", now=T0)
    with pytest.raises(ChangeError, match="no executor given"):
        changes.execute_change(site, store, r["id"], by="kai", now=T0)
    with pytest.raises(AccessDeniedError):
        changes.execute_change(site, store, r["id"], by="lena", executor=_executor(live), now=T0)
    done = changes.execute_change(site, store, r["id"], by="kai", executor=_executor(live), now=T0)
    assert done["state"] == "executed" and live.read_controls()["pump.p-secondary.mode"] == "off"
    # past the expiry it does not run
    r2 = changes.request_change(
        site, store, "pump_mode", "pump.p-secondary.mode", "auto", "seal done", by="anna", now=T0
    )
    changes.approve_change(site, store, r2["id"], r2["request_hash"], by="kai", now=T0)
    with pytest.raises(ChangeError, match="before it ran"):
        changes.execute_change(
            site,
            store,
            r2["id"],
            by="kai",
            executor=_executor(live),
            now=T0 + dt.timedelta(hours=5),
        )


def test_break_glass_executes_at_once_flagged_until_reviewed(
    site: Site, store: Store, live: LiveTwin
) -> None:
    ex = _executor(live)
    # not named in ownership.automation_override
    with pytest.raises(AccessDeniedError, match=r"automation_override.*anna, omar"):
        changes.override(
            site,
            store,
            "reject_override",
            "heat_reject_override",
            "on",
            "x",
            by="kai",
            executor=ex,
            now=T0,
        )
    with pytest.raises(ChangeError, match="only plant commands"):
        changes.override(site, store, "role_grant", "role_grant", {}, "x", by="omar", executor=ex)
    with pytest.raises(ChangeError, match=r"customer\.supply_band"):
        changes.override(
            site, store, "setpoint", "supply_setpoint_c", 80, "x", by="omar", executor=ex, now=T0
        )
    o = changes.override(
        site,
        store,
        "reject_override",
        "heat_reject_override",
        "on",
        "loop at 58 C and rising, customer offline",
        by="omar",
        executor=ex,
        now=T0,
    )
    assert o["state"] == "overridden" and o["break_glass"] and o["flagged_for_review"]
    assert o["result"]["read_back"] == "on" and live.read_controls()["heat_reject_override"] == "on"
    assert [c["id"] for c in changes.list_changes(site, store, flagged=True, now=T0)] == [o["id"]]
    actions = [a["action"] for a in people.list_audit(store, site.id)]
    assert actions[-2:] == ["change.break_glass", "change.override"]
    # review: not by who overrode, not without the role
    with pytest.raises(AccessDeniedError, match="made the override"):
        changes.review(site, store, o["id"], "fine", by="omar", now=T0)
    with pytest.raises(AccessDeniedError, match=r"changes\.review"):
        changes.review(site, store, o["id"], "fine", by="lena", now=T0)
    rv = changes.review(site, store, o["id"], "justified: customer tripped", by="sec", now=T0)
    assert rv["flagged_for_review"] is False and rv["reviewed_by"] == "sec"
    assert rv["state"] == "overridden"
    assert changes.list_changes(site, store, flagged=True, now=T0) == []
    assert people.list_audit(store, site.id)[-1]["action"] == "change.review"


def test_maintenance_window_signed_off_per_raci_and_sla_edit_stays_approved(
    site: Site, store: Store
) -> None:
    w = changes.request_change(
        site,
        store,
        "maintenance_window",
        "maintenance_window",
        {"start": "2026-10-06T06:00Z", "end": "2026-10-06T14:00Z", "description": "HX clean"},
        "annual heat-exchanger cleaning",
        by="zoe",
        now=T0,
    )
    assert w["command"]["value"]["start"] == "2026-10-06T06:00:00+00:00"
    # maintenance_signoff: accountable and responsible are anna only
    with pytest.raises(AccessDeniedError, match=r"ownership\.maintenance_signoff.*anna"):
        changes.approve_change(site, store, w["id"], w["request_hash"], by="kai", now=T0)
    done = changes.approve_change(site, store, w["id"], w["request_hash"], by="anna", now=T0)
    assert done["state"] == "executed"
    [sil] = store.list_silences(site.id)
    assert sil.matchers == (f"site={site.id}", "rule=~sla_.*")
    assert (sil.ends_at_us - sil.starts_at_us) == 8 * 3600 * 1_000_000
    with pytest.raises(ChangeError, match="must be after"):
        changes.request_change(
            site,
            store,
            "maintenance_window",
            "maintenance_window",
            {"start": "2026-10-06T14:00Z", "end": "2026-10-06T06:00Z"},
            "x",
            by="zoe",
            now=T0,
        )

    e = changes.request_change(
        site,
        store,
        "sla_edit",
        "contract.sla.target_fraction",
        {"from": 0.995, "to": 0.99},
        "renegotiated",
        by="lena",
        now=T0,
    )
    done = changes.approve_change(site, store, e["id"], e["request_hash"], by="anna", now=T0)
    assert done["state"] == "approved" and done["result"] is None
    with pytest.raises(ChangeError, match="edit the site file"):
        changes.execute_change(site, store, e["id"], by="anna", now=T0)


def test_long_silence_refused_without_an_approved_change(site: Site, store: Store) -> None:
    from heatreuse.services.monitoring import MonitoringError, add_silence

    with pytest.raises(MonitoringError, match="need a second person"):
        add_silence(site, store, ["rule=spike"], "5h", "omar", "x")
    assert store.list_silences(site.id) == []
    out = changes.add_silence_or_request(site, store, ["rule=spike"], "4h", "omar", "x", now=T0)
    assert "silence" in out and out["silence"]["state"] == "active"
    out = changes.add_silence_or_request(site, store, ["rule=spike"], "5h", "omar", "x", now=T0)
    assert out["change"]["state"] == "requested" and len(store.list_silences(site.id)) == 1


def test_expire_due_records_lapsed_requests_once(site: Site, store: Store) -> None:
    a = _req(site, store)
    b = _req(site, store, expires="8h")
    late = T0 + dt.timedelta(hours=5)
    states = {c["id"]: c["state"] for c in changes.list_changes(site, store, now=late)}
    assert states == {a["id"]: "expired", b["id"]: "requested"}
    assert changes.expire_due(site, store, now=T0) == []
    assert changes.expire_due(site, store, now=late) == [a["id"]]
    assert changes.expire_due(site, store, now=late) == []
    assert changes.show_change(site, store, a["id"], now=T0)["state"] == "expired"
    assert changes.show_change(site, store, b["id"], now=T0)["state"] == "requested"
    expired = [a for a in people.list_audit(store, site.id) if a["action"] == "change.expire"]
    assert len(expired) == 1 and expired[0]["actor"] == "system"


def test_serve_records_lapsed_requests_every_minute(site: Site, store: Store) -> None:
    """``serve``'s change-expiry job (with the live watch) records the lapse itself."""
    from heatreuse.services.serve import IngestService, ServeConfig

    a = _req(site, store, expires="1h")
    now = [T0]
    service = IngestService(
        site, ServeConfig(http=None, job_tick_s=3600), store=store, clock=lambda: now[0]
    )
    service.start()
    try:
        now[0] = T0 + dt.timedelta(minutes=30)
        assert "change-expiry" in service.jobs.run_due()
        assert changes.show_change(site, store, a["id"], now=T0)["state"] == "requested"
        now[0] = T0 + dt.timedelta(hours=1, minutes=1)
        assert "change-expiry" in service.jobs.run_due()
        assert changes.show_change(site, store, a["id"], now=T0)["state"] == "expired"
        audit = [r for r in people.list_audit(store, site.id) if r["action"] == "change.expire"]
        assert len(audit) == 1 and audit[0]["actor"] == "system"
    finally:
        assert service.stop()


def test_pump_modes_reject_override_and_supply_setpoint_reach_the_engine(site: Site) -> None:
    """Every control an approved change writes acts on the simulated plant, not only on a
    register read back: a primary pump commanded off stops the loop's flow and heat
    through the exchanger (the loop heats up, compute throttles); the dry cooler
    commanded off rejects nothing while the customer is disconnected (the loop runs
    hotter); a higher supply set point lifts the customer's supply temperature."""
    t0 = pd.Timestamp("2026-10-05T06:00Z").timestamp()
    wall = [t0]

    default = _stepped_twin(site, wall)
    pump_off = _stepped_twin(site, wall, {"pump.p-primary.mode": "off"})
    pump_on = _stepped_twin(site, wall, {"pump.p-primary.mode": "on"})
    supply_45 = _stepped_twin(site, wall, {"supply_setpoint_c": 45.0})
    cut = _stepped_twin(site, wall)
    cut_no_reject = _stepped_twin(site, wall, {"heat_reject_override": "off"})
    for tw in (cut, cut_no_reject):
        tw.inject("customer_disconnect@2026-10-05T06:00Z")
    wall[0] = t0 + 3 * 3600
    for tw in (default, pump_off, pump_on, supply_45, cut, cut_no_reject):
        tw.advance()
    d, off = default.latest, pump_off.latest
    assert d["pump.p-primary.status"] == 1.0 and off["pump.p-primary.status"] == 0.0
    assert d["hx.heat_power_w"] > 20_000.0 and off["hx.heat_power_w"] == 0.0
    assert off["it_loop.return_temp_c"] > d["it_loop.return_temp_c"] + 5.0
    assert off["elec.it_power_w"] < d["elec.it_power_w"]
    assert pump_on.latest == d  # "on": the controller runs it as in auto
    assert d["customer.supply_temp_c"] < 44.0
    assert supply_45.latest["customer.supply_temp_c"] >= 45.0 - 0.5
    assert cut.latest["dry_cooler.heat_power_w"] > 10_000.0
    assert cut_no_reject.latest["dry_cooler.heat_power_w"] == 0.0
    assert cut_no_reject.latest["it_loop.return_temp_c"] > cut.latest["it_loop.return_temp_c"]
