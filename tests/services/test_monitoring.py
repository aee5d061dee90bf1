"""``detect`` over stored history: eight twin days ingested into both stores.

The readings come from the twin (``run_offline_twin``, seeded sensor noise) and enter
the store through the file ingest, so detection reads exactly what a site's history
would hold: the first week is clean, on the eighth day the primary pump fails for 5 h.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from heatreuse.services.ingest import ingest_file
from heatreuse.services.monitoring import detect, monitoring_start
from heatreuse.services.twin import run_offline_twin
from heatreuse.simulation.scenarios import parse_scenarios
from heatreuse.site import Site, load_site
from heatreuse.store import Store, open_store

POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
T0 = pd.Timestamp("2026-01-05T00:00Z")
CLEAN_END = pd.Timestamp("2026-01-12T00:00Z")
FAULT_AT = pd.Timestamp("2026-01-12T06:00Z")
T1 = pd.Timestamp("2026-01-13T00:00Z")
SPLIT = pd.Timestamp("2026-01-12T07:13Z")  # inside the fault: alerts fire across it
NOW = pd.Timestamp("2026-12-01T00:00Z")
TABLES = ("alerts", "incidents", "incident_events", "actions", "detect_state")


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(POOL)


@pytest.fixture(scope="module")
def twin_file(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin") / "eight_days.parquet"
    run_offline_twin(
        site,
        start=T0,
        end=T1,
        out=out,
        scenarios=parse_scenarios([f"pump_failure@{FAULT_AT.isoformat()}+5h"]),
    )
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, site: Site, twin_file: Path
) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'detect.db'}"
        schema = None
    else:
        schema = "t_detect_" + uuid.uuid4().hex[:12]
        url = f"{PG_URL}?schema={schema}"
    st = open_store(url, create=True)
    try:
        report = ingest_file(site, twin_file, st)
        assert report.result.accepted == report.result.received > 0
        yield st
    finally:
        st.close()
        if schema is not None:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]


def _snapshot(st: Store, site_id: str) -> dict[str, Any]:
    """Everything detection recorded, without row ids (which a rerun may number anew)."""
    alerts = st.list_alerts(site_id)
    incidents = {i.id: i for i in st.list_incidents(site_id)}
    actions = {a.id: a for a in st.list_actions(site_id)}
    key_of = {a.id: (a.fingerprint, a.active_at_us) for a in alerts}
    return {
        "alerts": sorted(
            (
                a.fingerprint,
                a.active_at_us,
                a.state,
                a.started_at_us,
                a.resolved_at_us,
                a.value,
                a.muted_by,
                None if a.incident_id is None else incidents[a.incident_id].opened_at_us,
                None if a.action_id is None else actions[a.action_id].opened_at_us,
            )
            for a in alerts
        ),
        "incidents": sorted(
            (
                i.opened_at_us,
                i.status,
                i.severity,
                i.title,
                i.resolved_at_us,
                tuple(
                    (e.at_us, e.kind, key_of.get(e.alert_id))
                    for e in st.list_incident_events(int(i.id or 0))
                ),
            )
            for i in incidents.values()
        ),
        "actions": sorted(
            (a.rule, a.equipment, a.opened_at_us, a.owner, a.status) for a in actions.values()
        ),
        "state": st.get_detect_state(site_id),
    }


def _wipe(st: Store) -> None:
    with st.transaction() as tx:
        for table in TABLES:
            tx.execute(f"DELETE FROM {table}")


def test_detect_finds_the_fault_not_the_clean_week_and_is_idempotent_and_split_invariant(
    site: Site, store: Store
) -> None:
    assert monitoring_start(store, site) == T0
    # two runs split inside the fault, each in weekly blocks
    first = detect(site, store, T0, SPLIT, now=NOW)
    assert (first.start, first.end) == ("2026-01-05T00:00:00Z", "2026-01-12T07:13:00Z")
    assert first.blocks == 2
    second = detect(site, store, end=T1, now=NOW)  # resumes where the first stopped
    assert second.start == "2026-01-12T07:13:00Z" and second.minutes == 16 * 60 + 47

    alerts = store.list_alerts(site.id)
    # the clean week raises nothing at warning or above
    clean = [a for a in alerts if (a.started_at_us or 0) < CLEAN_END.value // 1000]
    assert [a for a in clean if a.severity in ("warning", "critical")] == []
    # the pump failure: the primary pump stopped while IT ran, within minutes
    stopped = [
        a for a in alerts if a.rule == "pump_stopped" and a.labels["equipment"] == "pump.p-primary"
    ]
    assert len(stopped) == 1 and stopped[0].severity == "critical"
    fired_at = pd.Timestamp(stopped[0].started_at_us, unit="us", tz="UTC")
    assert FAULT_AT <= fired_at <= FAULT_AT + pd.Timedelta(minutes=15)
    assert all(a.state == "resolved" for a in alerts)  # the fault ended at 11:00
    # one incident holds the fault's alerts; its timeline has each fired and resolved
    incidents = store.list_incidents(site.id)
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc.opened_at_us == stopped[0].started_at_us and inc.severity == "critical"
    events = store.list_incident_events(int(inc.id or 0))
    members = [a for a in alerts if a.incident_id == inc.id]
    assert len(members) >= 3
    assert sorted(e.alert_id for e in events if e.kind == "fired") == sorted(a.id for a in members)
    assert sorted(e.alert_id for e in events if e.kind == "resolved") == sorted(
        a.id for a in members
    )
    assert inc.status == "resolved" and inc.resolved_at_us == max(
        a.resolved_at_us or 0 for a in members
    )

    before = _snapshot(store, site.id)
    # re-running the whole range evaluates nothing again and records nothing twice
    again = detect(site, store, T0, T1, now=NOW)
    assert again.minutes == 0 and again.fired == 0
    assert _snapshot(store, site.id) == before
    assert len(store.list_alerts(site.id)) == len(alerts)

    # the same range in one block records exactly what the split runs recorded
    _wipe(store)
    whole = detect(site, store, T0, T1, now=NOW, block_min=8 * 1440)
    assert whole.blocks == 1
    assert _snapshot(store, site.id) == before
