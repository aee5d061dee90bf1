"""``sla_seal`` entries: what a seal holds, and the checks ``heatreuse verify`` runs on them."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from heatreuse.errors import LedgerError
from heatreuse.ledger.build import sla_seal_entry
from heatreuse.ledger.seal import check_seal_entries
from heatreuse.site import load_site
from heatreuse.sla import SlaDefinition, evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEALED_AT = dt.datetime(2026, 2, 3, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def seal() -> dict[str, Any]:
    site = load_site(EXAMPLES / "pool.yaml")
    defn = SlaDefinition.from_site(site)
    start, end = pd.Timestamp("2025-12-31T23:00Z"), pd.Timestamp("2026-01-31T23:00Z")
    idx = pd.date_range(start, end, freq="min", inclusive="left")
    temp = pd.Series(38.0, index=idx)
    temp[(idx >= pd.Timestamp("2026-01-14T09:00Z")) & (idx < pd.Timestamp("2026-01-14T14:00Z"))] = (
        25.0
    )
    report = evaluate(defn, temp, period_start=start, period_end=end, period_label="2026-01",
                      period_kind="month")  # fmt: skip
    entry = sla_seal_entry(site, report.to_dict(), sealed_at=SEALED_AT)
    entry["index"] = 7
    return entry


def log_with(*entries: dict[str, Any]) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = [{"type": "method", "index": i} for i in range(7)]
    out.extend(entries)
    return out


def test_a_seal_holds_verdict_evidence_and_the_report_without_alert_state(
    seal: dict[str, Any],
) -> None:
    assert seal["type"] == "sla_seal" and seal["seal_number"] == 1
    assert seal["verdict"] == "breached" and seal["breached"] is True
    assert seal["evidence"]["bad_min"] == 300
    assert seal["period_start"] == "2025-12-31T23:00:00Z"
    assert not any(k.startswith("burn_rate") for k in seal["report"])
    assert "page_alert" not in seal["report"] and len(seal["sla_definition_sha256"]) == 64
    assert check_seal_entries(log_with(seal)) == []


def test_a_reseal_must_name_the_seal_it_replaces_and_say_why(seal: dict[str, Any]) -> None:
    second = {**copy.deepcopy(seal), "index": 8}
    problems = check_seal_entries(log_with(seal, second))
    assert {i for i, _ in problems} == {8}
    chain = next(p for _, p in problems if "already sealed at entry 7" in p)
    assert "replaced without a trace" in chain
    assert any("gives no reason" in p for _, p in problems)
    named = {**second, "seal_number": 2, "supersedes_index": 7, "reason": "late data"}
    assert check_seal_entries(log_with(seal, named)) == []
    no_reason = {**named, "reason": " "}
    assert "gives no reason" in check_seal_entries(log_with(seal, no_reason))[0][1]
    with pytest.raises(LedgerError, match="must name the seal it replaces"):
        sla_seal_entry(load_site(EXAMPLES / "pool.yaml"), seal["report"], seal_number=2,
                       sealed_at=SEALED_AT)  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda e: e["evidence"].update(good_min=e["evidence"]["good_min"] + 1), "does not add up"),
        (lambda e: e.update(data_coverage_fraction=0.5), "does not follow from the evidence"),
        (lambda e: e.update(verdict="met"), "a met verdict needs enough data"),
        (lambda e: e.update(verdict="fine"), "verdict must be one of"),
        (lambda e: e["report"].update(bad_min=0), "report.bad_min = 0 differs"),
        (lambda e: e.update(composed_from=[9]), "composed_from must list earlier"),
        (lambda e: e.update(composed_from=[3]), "which is not a seal"),
    ],
)
def test_inconsistent_seals_are_named(seal: dict[str, Any], edit: Any, message: str) -> None:
    bad = copy.deepcopy(seal)
    edit(bad)
    problems = check_seal_entries(log_with(bad))
    assert problems and all(i == 7 for i, _ in problems)
    assert any(message in p for _, p in problems), problems
