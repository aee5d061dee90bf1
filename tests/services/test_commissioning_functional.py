"""``commission --functional`` (issue 14): the reject-path and backup takeover tests as
``functional_test`` change requests under the two-person rule, run against a live twin on
loopback, reported as checklist items with evidence."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from heatreuse.services import changes, people
from heatreuse.services.commissioning import functional_items, run_commissioning
from heatreuse.services.ingest import ingest_file
from heatreuse.services.twin import LiveTwin, TwinControlServer, run_offline_twin
from heatreuse.site import Site, load_site
from heatreuse.store import Store, open_store
from heatreuse.telemetry.commands import TwinControlExecutor

POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
PW = "a long enough password"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(POOL)


@pytest.fixture
def store(tmp_path: Path, site: Site) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path / 's.db'}", create=True)
    for name in ("anna", "kai"):
        people.add_user(st, name, PW, "facilities", site.id, by="t", hasher=people.cheap_hasher())
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def twin(site: Site, tmp_path: Path) -> Iterator[TwinControlExecutor]:
    """A live twin running at 600x in a thread, its control port on loopback."""
    live = LiveTwin(site, speed=600, step_s=60)
    control = TwinControlServer(live, "127.0.0.1", 0, token_file=tmp_path / "twin.token")
    live.sinks.append(control)
    live.start_sinks()
    thread = threading.Thread(target=live.run, kwargs={"tick_s": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = control.address
        yield TwinControlExecutor(host, port, (tmp_path / "twin.token").read_text().strip())
    finally:
        live.stop()
        thread.join(10)


def _by_item(items: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {i["item"]: i for i in items}


def test_takeover_tests_through_the_two_person_flow(
    site: Site, store: Store, twin: TwinControlExecutor
) -> None:
    # no live device: skipped, and why
    items = _by_item(functional_items(site, store))
    assert set(items) == {"functional_reject_path", "functional_backup_takeover"}
    for it in items.values():
        assert it["status"] == "skipped" and "no live device given" in it["evidence"]
    assert changes.list_changes(site, store) == []

    # with the twin and --by: the tests are requested, not run (a second person approves)
    items = _by_item(functional_items(site, store, executor=twin, by="anna"))
    reqs = {c["target"]: c for c in changes.list_changes(site, store, state="requested")}
    assert set(reqs) == {"reject_path", "backup_takeover"}
    for name, c in reqs.items():
        it = items[f"functional_{name}"]
        assert it["status"] == "skipped" and c["id"] in it["evidence"]
        assert c["requested_by"] == "anna" and c["command"]["value"]["duration_s"] == 3600
    # asking again does not file them twice
    again = _by_item(functional_items(site, store, executor=twin, by="anna"))
    assert "awaits approval" in again["functional_reject_path"]["evidence"]
    assert len(changes.list_changes(site, store)) == 2

    # anna cannot approve her own; kai approves each, which runs it on the twin
    c = reqs["reject_path"]
    with pytest.raises(Exception, match="two-person rule"):
        changes.approve_change(site, store, c["id"], c["request_hash"], by="anna", executor=twin)
    for c in reqs.values():
        done = changes.approve_change(
            site, store, c["id"], c["request_hash"], by="kai", executor=twin
        )
        assert done["state"] == "executed", done["result"]
        ev = done["result"]["evidence"]
        assert ev["peak"] > max(ev["before"] or 0.0, 0.0)
    # the twin is healthy again afterwards
    status, body = twin.request("GET", "/faults")
    assert status == 200 and body["faults"] == []

    items = _by_item(functional_items(site, store))
    for name in ("reject_path", "backup_takeover"):
        it = items[f"functional_{name}"]
        assert it["status"] == "pass", it
        assert reqs[name]["id"] in it["evidence"] and "approved by kai" in it["evidence"]
    assert "dry_cooler.heat_power_w before" in items["functional_reject_path"]["evidence"]
    assert "boiler.heat_power_w before" in items["functional_backup_takeover"]["evidence"]
    actions = [a["action"] for a in people.list_audit(store, site.id)]
    assert actions.count("change.execute") == 2


def test_a_takeover_that_does_not_happen_fails(site: Site, store: Store, tmp_path: Path) -> None:
    """A twin whose dry cooler is out of service: the reject-path test fails with evidence."""
    live = LiveTwin(site, speed=600, step_s=60, scenarios=[])
    live.inject("reject_path_unavailable+30d")
    control = TwinControlServer(live, "127.0.0.1", 0, token_file=tmp_path / "t2.token")
    live.sinks.append(control)
    live.start_sinks()
    thread = threading.Thread(target=live.run, kwargs={"tick_s": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = control.address
        ex = TwinControlExecutor(host, port, (tmp_path / "t2.token").read_text().strip())
        c = changes.request_change(
            site, store, "functional_test", "reject_path", "30m", "commissioning", by="anna"
        )
        result = changes.run_functional_test(ex, c["command"], timeout_s=3.0)
        # the fault that was there before the test is still there; the test's is gone
        status, body = ex.request("GET", "/faults")
        assert status == 200 and [f.split("@")[0] for f in body["faults"]] == [
            "reject_path_unavailable"
        ]
    finally:
        live.stop()
        thread.join(10)
    assert result["ok"] is False
    assert "dry_cooler.heat_power_w did not rise above" in result["error"]


def test_run_commissioning_takes_the_functional_items(
    site: Site, store: Store, tmp_path: Path
) -> None:
    t0 = pd.Timestamp("2026-01-05T00:00Z")
    out = tmp_path / "day.parquet"
    run_offline_twin(site, start=t0, end=t0 + pd.Timedelta(days=1), out=out)
    assert ingest_file(site, out, store).result.accepted > 0
    asked = run_commissioning(
        site, store, t0, t0 + pd.Timedelta(days=1), functional=True, now=t0 + pd.Timedelta(days=2)
    )
    status = {i["item"]: i["status"] for i in asked.items}
    assert status["functional_reject_path"] == "skipped"
    assert status["functional_backup_takeover"] == "skipped"
    assert "functional" not in status
    not_asked = run_commissioning(site, store, t0, t0 + pd.Timedelta(days=1))
    [f] = [i for i in not_asked.items if i["item"] == "functional"]
    assert f["status"] == "skipped" and "two-person" in f["evidence"]
