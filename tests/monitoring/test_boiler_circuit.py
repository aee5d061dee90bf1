"""The backup boiler shares the customer circuit's pump: the twin and the rules agree.

During a 5 h primary-pump trip the tank runs cold, no water flows through the plant's
side (meter flow 0) and the boiler carries the pool. The engine keeps the customer
circuit's pump running for the boiler, so the twin must report that pump running
(before: status 0 three times that morning, ``pump_stopped`` x 3, a corrective action
for a pump that never stopped), and H9 must not read "running with no metered flow"
as a command fault while the boiler fires (the water goes through the boiler).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from heatreuse.cli.main import run
from heatreuse.services.ingest import ingest_file
from heatreuse.services.twin import run_offline_twin
from heatreuse.simulation.scenarios import parse_scenarios
from heatreuse.site import load_site
from heatreuse.store import open_store

POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def test_boiler_keeps_the_customer_pump_running_and_no_false_pump_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    site = load_site(POOL)
    day = tmp_path / "day.parquet"
    run_offline_twin(
        site,
        start="2026-01-14T00:00Z",
        end="2026-01-15T00:00Z",
        out=day,
        scenarios=parse_scenarios(["pump_failure@2026-01-14T06:00Z+5h"]),
    )
    d = pd.read_parquet(day).pivot(index="timestamp", columns="point_id", values="value")
    trip = d.loc["2026-01-14T06:30Z":"2026-01-14T10:59Z"]
    boiler_alone = (trip["boiler.heat_power_w"] > 1.0) & (trip["meter.flow_m3_per_h"] < 0.1)
    assert boiler_alone.sum() > 30  # the case at hand: the boiler carries the pool alone
    assert (trip.loc[boiler_alone, "pump.p-secondary.status"] == 1.0).all()
    assert (trip["pump.p-primary.status"] == 0.0).all()

    url = f"sqlite:///{tmp_path / 'b.db'}"
    with open_store(url, create=True) as st:
        ingest_file(site, day, st)
    capsys.readouterr()
    assert run(["detect", str(POOL), "--store", url, "--end", "2026-01-15T00:00Z", "--json"]) == 0
    fired = json.loads(capsys.readouterr().out)
    on_secondary = [a["rule"] for a in fired if a["labels"].get("equipment") == "pump.p-secondary"]
    assert on_secondary == []
    primary = [a for a in fired if a["labels"].get("equipment") == "pump.p-primary"]
    assert [a["rule"] for a in primary] == ["pump_stopped"]  # the real fault is still found
