"""Store tables of watch and respond (migration 3) on both backends."""

from __future__ import annotations

import pytest

from heatreuse.errors import StoreError
from heatreuse.store import (
    AlertRecord,
    AuditRecord,
    IncidentEvent,
    IncidentRecord,
    SilenceRecord,
    Store,
)

LABELS = {"site": "s1", "rule": "low_delta_t", "severity": "warning", "equipment": "meter"}


def _alert(**kw: object) -> AlertRecord:
    args: dict[str, object] = {
        "site_id": "s1",
        "fingerprint": "f1",
        "labels": LABELS,
        "state": "firing",
        "active_at_us": 1_000,
        "started_at_us": 2_000,
        "annotations": {"summary": "dT low", "value_unit": "K"},
        "value": 1.5,
    }
    args.update(kw)
    return AlertRecord(**args)  # type: ignore[arg-type]


def test_alert_upsert_keeps_one_row_per_instance_and_the_ack(store: Store) -> None:
    a = store.upsert_alert(_alert(muted_by="silenced by x"))
    store.ack_alert("s1", a, "anna", 3_000, "on it")
    # the same instance resolving: same row; ack, mute and the firing value kept
    b = store.upsert_alert(_alert(state="resolved", resolved_at_us=9_000, value=None))
    assert a == b
    (row,) = store.list_alerts("s1")
    assert (row.state, row.resolved_at_us, row.value) == ("resolved", 9_000, 1.5)
    assert (row.acked_by, row.acked_at_us, row.ack_comment) == ("anna", 3_000, "on it")
    assert row.muted_by == "silenced by x"
    assert (row.rule, row.severity, row.equipment) == ("low_delta_t", "warning", "meter")
    # a new active run of the same label set is a new instance
    c = store.upsert_alert(_alert(active_at_us=20_000, started_at_us=20_000))
    assert c != a
    assert [r.id for r in store.list_alerts("s1", state="firing")] == [c]
    # active during [start, end): fired before end, not resolved before start
    assert [r.id for r in store.list_alerts("s1", start=9_001, end=20_000)] == []
    assert [r.id for r in store.list_alerts("s1", start=9_000, end=20_001)] == [a, c]
    assert store.list_alerts("other") == []


def test_silence_expiry_moves_its_end(store: Store) -> None:
    store.add_silence(
        SilenceRecord("s1", "abc", ("rule=spike",), 100, 10_000, "anna", "maintenance", 50)
    )
    store.expire_silence("s1", "abc", "omar", 400, "done early")
    (s,) = store.list_silences("s1")
    assert (s.ends_at_us, s.expired_by, s.expired_at_us, s.expire_comment) == (
        400,
        "omar",
        400,
        "done early",
    )
    assert s.matchers == ("rule=spike",)


def test_incident_events_are_recorded_once(store: Store) -> None:
    iid = store.insert_incident(IncidentRecord("s1", 1_000, "firing", "warning", "dT low"))
    # opening it again at the same instant finds the same incident
    assert store.insert_incident(IncidentRecord("s1", 1_000, "firing", "warning", "x")) == iid
    ev = IncidentEvent(iid, 1_000, "fired", "fired:1", {"rule": "low_delta_t"}, alert_id=1)
    assert store.add_incident_event(ev) is True
    assert store.add_incident_event(ev) is False
    (got,) = store.list_incident_events(iid)
    assert (got.kind, got.alert_id, got.detail) == ("fired", 1, {"rule": "low_delta_t"})


def test_audit_rows_are_append_only(store: Store) -> None:
    rid = store.append_audit(
        AuditRecord("s1", 5, "anna", "alert.ack", "alert 1", "on it", {"alert_id": 1})
    )
    (row,) = store.list_audit("s1")
    assert (row.id, row.actor, row.detail) == (rid, "anna", {"alert_id": 1})
    for sql in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"), store.transaction() as tx:
            tx.execute(sql)
    assert store.list_audit("s1")[0].actor == "anna"
    assert store.list_audit("s1", after_id=rid) == []


def test_detect_state_claim_refuses_a_concurrent_run(store: Store) -> None:
    with store.transaction():
        store.claim_detect_state("s1", None)
        store.set_detect_state("s1", 60_000_000, "[]")
    assert store.get_detect_state("s1") == (60_000_000, "[]")
    # a run that read no state, finishing after another one recorded its block
    with pytest.raises(StoreError, match="another detection"), store.transaction():
        store.claim_detect_state("s1", None)
        store.set_detect_state("s1", 120_000_000, "[]")
    assert store.get_detect_state("s1") == (60_000_000, "[]")


def test_minute_stats_equal_the_1min_rollup(store: Store) -> None:
    import numpy as np
    import pandas as pd

    ts = pd.date_range("2026-01-01T00:00Z", periods=600, freq="7s")
    rng = np.random.default_rng(3)
    for point in ("hx.supply_temp_c", "meter.heat_power_w"):
        store.write_readings("s1", point, ts, rng.normal(40.0, 2.0, len(ts)))
    points = ["meter.heat_power_w", "hx.supply_temp_c", "absent.point_c"]
    lo, hi = ts[0] + pd.Timedelta(minutes=3), ts[-1]
    full = store.read_rollup("s1", points, lo, hi, resolution="1min")
    stats = store.read_minute_stats("s1", points, lo, hi)
    assert len(stats) == len(full) == 2 * 67  # minutes 3 .. 69
    for p in ("hx.supply_temp_c", "meter.heat_power_w"):
        a = full[full["point_id"] == p]
        b = stats[stats["point_id"] == p]
        assert b.index.equals(a.index) and b.index.name == "bucket_start"
        for col in ("count", "mean", "min", "max"):
            np.testing.assert_array_equal(b[col].to_numpy(float), a[col].to_numpy(float))
    assert store.read_minute_stats("nobody", points, lo, hi).empty
