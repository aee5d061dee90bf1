"""Announced maintenance windows become silences of the SLA alerts (issue 11)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from heatreuse.monitoring.silences import mute_reason
from heatreuse.services.monitoring import maintenance_silences
from heatreuse.site import load_site
from heatreuse.site.model import MaintenanceWindow

POOL = Path(__file__).parents[2] / "examples" / "pool.yaml"
UTC = dt.UTC


def test_window_mutes_sla_alerts_only_and_only_inside() -> None:
    base = load_site(POOL)
    window = MaintenanceWindow(
        start=dt.datetime(2026, 1, 20, 6, tzinfo=UTC),
        end=dt.datetime(2026, 1, 20, 10, tzinfo=UTC),
        announced_at=dt.datetime(2026, 1, 10, tzinfo=UTC),
        description="heat-exchanger cleaning",
    )
    sla = base.contract.sla
    maint = sla.maintenance.model_copy(update={"windows": [window]})
    contract = base.contract.model_copy(
        update={"sla": sla.model_copy(update={"maintenance": maint})}
    )
    site = base.model_copy(update={"contract": contract})
    silences = maintenance_silences(site)
    assert len(silences) == 1 and "heat-exchanger cleaning" in silences[0].comment
    inside = dt.datetime(2026, 1, 20, 7, tzinfo=UTC)
    sla_alert = {"site": site.id, "rule": "sla_interruption", "severity": "critical"}
    pump = {"site": site.id, "rule": "pump_stopped", "severity": "warning"}
    assert mute_reason(sla_alert, inside, silences, [], []) == "silenced by maintenance-0"
    assert mute_reason(pump, inside, silences, [], []) is None  # still news
    after = dt.datetime(2026, 1, 20, 10, tzinfo=UTC)
    assert mute_reason(sla_alert, after, silences, [], []) is None
    other = dict(sla_alert, site="another-site")
    assert mute_reason(other, inside, silences, [], []) is None
    assert maintenance_silences(base) == []  # the example announces none
