"""The pilot workflow (issue 14) on the demo's own data, as the README tells a user to run it.

``heatreuse demo`` leaves a month of the pool site (a 5 h trip of the secondary
(customer) pump on 14 January) in its store, signed with its own key and checkpoints.
On that store: commission the first days, detect, the weekly review of the week with
the trip, and measured vs model for the month; then the ledger still verifies with the
commissioning entry in it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from heatreuse.cli.main import run
from heatreuse.services.demo import find_example, run_demo

POOL = str(find_example())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    result = run_demo(out)
    assert result.verify_ok
    return out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    code = run(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_commission_review_compare_on_the_demo(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", f"sqlite:///{demo / 'heatreuse.db'}"]
    signed = [
        "--checkpoints",
        str(demo / "checkpoints"),
        "--key",
        str(demo / "keys" / "pool-potsdam.key"),
    ]

    # 1. commission the first three days: every item passes; --functional was not asked
    items = _json(
        capsys,
        [
            "commission",
            POOL,
            *store,
            *signed,
            "--start",
            "2026-01-01",
            "--end",
            "2026-01-04",
            "--json",
        ],
    )
    status = {i["item"]: i["status"] for i in items}
    assert status.pop("functional") == "skipped"
    assert set(status.values()) == {"pass"}, items
    assert {"meter_balance", "pumps_respond", "hx_baseline", "sensor_pairs"} <= set(status)

    # 2. operate: the rules over the month find the trip on the secondary (customer) pump
    fired = _json(capsys, ["detect", POOL, *store, "--end", "2026-02-01T00:00Z", "--json"])
    trip = [a for a in fired if a["rule"] == "pump_stopped"]
    assert trip and trip[0]["labels"]["equipment"] == "pump.p-secondary"
    assert trip[0]["started_at"].startswith("2026-01-14T06:")

    # 3. the weekly review of the week with the trip
    out = tmp_path / "review"
    assert (
        run(
            [
                "review",
                "weekly",
                POOL,
                "--week",
                "2026-W03",
                "--out",
                str(out),
                "--at",
                "2026-01-19T00:00Z",
                *store,
            ]
        )
        == 0
    )
    data = json.loads((out / "review_pool-potsdam_2026-W03.json").read_text())
    week = data["sla"][0]
    assert week["period"] == "week" and week["verdict"] == "breached"
    assert week["bad_min"] == 300 and week["interruptions"] == 1  # the 5 h trip, to the minute
    assert week["data_coverage_fraction"] == 1.0
    assert data["alerts_by_rule"]["pump_stopped"] >= 1
    assert (out / "review_pool-potsdam_2026-W03.pdf").read_bytes().startswith(b"%PDF")

    # 4. measured vs model for the month: the demand cause carries the trip's evidence
    cmp = _json(capsys, ["compare", POOL, "--period", "2026-01", *store, "--json"])
    causes = [a["cause"] for a in cmp["attribution"]]
    assert sorted(causes) == sorted(["control", "sizing", "workload", "demand", "metering"])
    heat = [a["heat_kwh"] for a in cmp["attribution"]]
    assert heat == sorted(heat, reverse=True)  # the largest cause first
    demand = next(a for a in cmp["attribution"] if a["cause"] == "demand")
    assert "2026-01-14 07:00-12:00 (5 h)" in " ".join(demand["evidence"])
    assert cmp["totals"]["hours_compared"] >= 743

    # 5. the ledger takes the commissioning entry and still verifies
    assert run(["ledger", "update", POOL, *store, *signed]) == 0
    export = tmp_path / "export"
    assert run(["ledger", "export", POOL, *store, *signed[:2], "--out", str(export)]) == 0
    capsys.readouterr()
    assert run(["verify", str(export)]) == 0
    verified = capsys.readouterr().out
    assert "verified: every checkpoint, entry and total checks out" in verified
    assert "commissioning" in verified, verified
