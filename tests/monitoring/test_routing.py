"""Routing tree, grouping timers and inhibition/silences with an injectable clock.

Semantics checked against Prometheus Alertmanager's documentation ("Configuration",
<route>: first matching child wins unless continue; group_wait / group_interval /
repeat_interval) and its dispatcher's behaviour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heatreuse.errors import HeatreuseError
from heatreuse.monitoring.alerts import Alert, AlertState
from heatreuse.monitoring.matchers import parse_matcher
from heatreuse.monitoring.routing import Dispatcher, route_from_config
from heatreuse.monitoring.silences import InhibitRule, Silence, mute_reason

T0 = datetime(2026, 1, 14, 6, 0, tzinfo=UTC)

TREE = {
    "receiver": "default",
    "group_by": ["site", "rule"],
    "group_wait": "30s",
    "group_interval": "5m",
    "repeat_interval": "4h",
    "routes": [
        {"matchers": ["severity=critical"], "receiver": "pager", "continue": True},
        {"matchers": ["system=it"], "receiver": "it-team"},
        {
            "matchers": ["system=~plant|customer"],
            "receiver": "facilities",
            "routes": [{"matchers": ["rule=meter_balance"], "receiver": "metering"}],
        },
        {"matchers": ["system=plant"], "receiver": "never-reached"},
    ],
}


def _alert(state: AlertState = AlertState.FIRING, **labels: str) -> Alert:
    base = {
        "site": "pool",
        "system": "plant",
        "equipment": "hx",
        "rule": "hx_fouling",
        "severity": "warning",
    }
    base.update(labels)
    return Alert(labels=base, state=state, active_at=T0, started_at=T0)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"system": "it"}, ["it-team"]),
        ({"system": "plant"}, ["facilities"]),  # first match wins, no continue
        ({"system": "customer"}, ["facilities"]),
        ({"system": "plant", "rule": "meter_balance"}, ["metering"]),
        ({"system": "plant", "severity": "critical"}, ["pager", "facilities"]),  # continue
        ({"system": "ledger"}, ["default"]),
        ({"system": "plantx"}, ["default"]),  # regex is anchored
    ],
)
def test_route_match(labels: dict[str, str], expected: list[str]) -> None:
    root = route_from_config(TREE)
    assert [r.receiver for r in root.match(_alert(**labels).labels)] == expected


def test_children_inherit_timers() -> None:
    root = route_from_config(TREE)
    metering = root.routes[2].routes[0]
    assert metering.group_wait_s == 30 and metering.repeat_interval_s == 4 * 3600
    assert metering.group_by == ("site", "rule")


def test_bad_config_names_the_field() -> None:
    with pytest.raises(HeatreuseError, match=r"root\.1\.group_wait: expected a duration"):
        route_from_config({"receiver": "x", "routes": [{"receiver": "y"}, {"group_wait": "soon"}]})
    with pytest.raises(HeatreuseError, match="matcher"):
        parse_matcher("severity")


def test_group_wait_interval_repeat_and_resolve() -> None:
    d = Dispatcher(
        route_from_config(
            {
                "receiver": "facilities",
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "1h",
            }
        )
    )
    a1 = _alert(equipment="hx")
    d.update(a1, T0)
    assert d.flush(T0 + timedelta(seconds=29)) == []
    n = d.flush(T0 + timedelta(seconds=30))
    assert len(n) == 1 and n[0].status == "firing" and len(n[0].alerts) == 1
    # a second alert of the same group (same site, rule) waits for the group interval
    a2 = _alert(equipment="hx2")
    d.update(a2, T0 + timedelta(minutes=1))
    assert d.flush(T0 + timedelta(minutes=4)) == []
    n = d.flush(T0 + timedelta(seconds=330))
    assert len(n) == 1 and {a.labels["equipment"] for a in n[0].alerts} == {"hx", "hx2"}
    # unchanged: nothing until the repeat interval has passed
    assert d.flush(T0 + timedelta(seconds=630)) == []
    n = d.flush(T0 + timedelta(seconds=330 + 3600))
    assert len(n) == 1
    # one resolves: notified once as resolved beside the still-firing one
    from dataclasses import replace

    d.update(
        replace(a1, state=AlertState.RESOLVED, resolved_at=T0 + timedelta(hours=2)),
        T0 + timedelta(hours=2),
    )
    n = d.flush(T0 + timedelta(hours=2, minutes=5))
    assert len(n) == 1 and n[0].status == "firing"
    assert sorted(a.state.value for a in n[0].alerts) == ["firing", "resolved"]
    d.update(replace(a2, state=AlertState.RESOLVED), T0 + timedelta(hours=3))
    n = d.flush(T0 + timedelta(hours=3, minutes=5))
    assert len(n) == 1 and n[0].status == "resolved"
    assert d.next_due() is None  # the group is gone


def test_resolved_before_first_flush_is_never_sent() -> None:
    from dataclasses import replace

    d = Dispatcher(route_from_config({"receiver": "r", "group_wait": "30s"}))
    a = _alert()
    d.update(a, T0)
    d.update(replace(a, state=AlertState.RESOLVED), T0 + timedelta(seconds=10))
    assert d.flush(T0 + timedelta(minutes=1)) == []


def test_silence_and_inhibition_mute_notifications() -> None:
    sil = Silence.new(
        [parse_matcher("equipment=hx")],
        T0,
        T0 + timedelta(hours=2),
        "anna",
        "cleaning the heat exchanger",
    )
    lost = _alert(rule="telemetry_lost", system="site", equipment="edge", severity="critical")
    inhibit = InhibitRule(
        source=(parse_matcher("rule=telemetry_lost"),),
        target=(parse_matcher("system=~plant|it"),),
        equal=("site",),
    )
    sensor = _alert(equipment="p-secondary", rule="stuck_sensor")
    assert mute_reason(_alert().labels, T0, [sil], [], []) == f"silenced by {sil.id}"
    assert mute_reason(_alert().labels, T0 + timedelta(hours=2), [sil], [], []) is None  # expired
    assert mute_reason(sensor.labels, T0, [], [inhibit], [lost]) is not None
    # another site's telemetry loss does not mute this site
    other_site = Alert(
        labels=dict(lost.labels, site="greenhouse"), state=AlertState.FIRING, active_at=T0
    )
    assert mute_reason(sensor.labels, T0, [], [inhibit], [other_site]) is None
    # the source never inhibits itself
    assert (
        InhibitRule(source=(parse_matcher("rule=x"),), target=(parse_matcher("rule=x"),)).inhibits(
            _alert(rule="x").labels, [_alert(rule="x")]
        )
        is None
    )
    d = Dispatcher(
        route_from_config({"receiver": "r", "group_wait": "0s"}),
        muted=lambda a, t: mute_reason(a.labels, t, [sil], [], []),
    )
    d.update(_alert(), T0)
    d.update(_alert(equipment="pump"), T0)
    n = d.flush(T0)
    assert len(n) == 1 and [a.labels["equipment"] for a in n[0].alerts] == ["pump"]


def test_silence_needs_author_and_comment() -> None:
    with pytest.raises(HeatreuseError, match="comment"):
        Silence.new([parse_matcher("a=b")], T0, T0 + timedelta(hours=1), "anna", " ")
    with pytest.raises(HeatreuseError, match="ends_at after starts_at"):
        Silence.new([parse_matcher("a=b")], T0, T0, "anna", "x")
