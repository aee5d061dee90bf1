"""Escalation from the RACI with an injectable clock: steps, delays, ack, loops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from heatreuse.monitoring.escalation import Escalation, policy_from_raci
from heatreuse.site import load_site

T0 = datetime(2026, 1, 14, 6, 0, tzinfo=UTC)
POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"


def test_policy_from_pool_raci() -> None:
    site = load_site(POOL)
    plant = policy_from_raci(site.ownership, {"system": "plant", "severity": "warning"})
    assert [s.targets for s in plant.steps] == [("anna",), ("omar",), ("kai",)]
    crit = policy_from_raci(site.ownership, {"system": "plant", "severity": "critical"})
    assert crit.steps[0].targets == ("anna", "pool-duty")  # both matching alarm routes
    it = policy_from_raci(site.ownership, {"system": "it", "severity": "warning"})
    assert it.steps[0].targets == ("omar",) and it.steps[1].targets == ("anna",)


def test_steps_fire_on_time_and_stop_at_ack() -> None:
    site = load_site(POOL)
    esc = Escalation(policy_from_raci(site.ownership, {"system": "plant"}), T0)
    assert [p.targets for p in esc.due(T0)] == [("anna",)]
    assert esc.due(T0 + timedelta(minutes=14)) == []
    assert [p.targets for p in esc.due(T0 + timedelta(minutes=15))] == [("omar",)]
    esc.ack("omar", T0 + timedelta(minutes=20))
    assert esc.due(T0 + timedelta(hours=5)) == []  # no step after the ack


def test_loops_repeat_the_ladder_until_acked() -> None:
    site = load_site(POOL)
    pol = policy_from_raci(site.ownership, {"system": "plant"}, loops=1)
    esc = Escalation(pol, T0)
    pages = esc.due(T0 + timedelta(hours=10))
    assert [(p.loop, p.targets) for p in pages] == [
        (0, ("anna",)),
        (0, ("omar",)),
        (0, ("kai",)),
        (1, ("anna",)),
        (1, ("omar",)),
        (1, ("kai",)),
    ]
    assert pages[3].at == T0 + timedelta(seconds=pol.ladder_s)
    assert esc.due(T0 + timedelta(hours=20)) == []  # each step once


def test_resolve_ends_escalation() -> None:
    site = load_site(POOL)
    esc = Escalation(policy_from_raci(site.ownership, {"system": "plant"}), T0)
    esc.due(T0)
    esc.resolve(T0 + timedelta(minutes=5))
    assert esc.due(T0 + timedelta(hours=2)) == []
