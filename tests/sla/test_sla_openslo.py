"""OpenSLO v1 export/import: lossless round trip and errors that name the field.

Field names after the OpenSLO v1 specification (github.com/OpenSLO/OpenSLO,
README sections SLO, SLI, Objectives): apiVersion openslo/v1, kind SLO,
spec.indicator.spec.ratioMetric, spec.timeWindow[].calendar, budgetingMethod,
objectives[].target.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from heatreuse.errors import SLAError
from heatreuse.site import load_site
from heatreuse.site.loader import load_site_text
from heatreuse.sla import (
    MaintenanceWindowDef,
    SlaDefinition,
    export_openslo,
    import_openslo,
    sla_terms_yaml,
    to_openslo_documents,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def pool() -> SlaDefinition:
    return SlaDefinition.from_site(load_site(EXAMPLES / "pool.yaml"))


def rich_definition(period: str = "month") -> SlaDefinition:
    t = dt.datetime(2026, 1, 10, 6, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    return SlaDefinition(
        site_id="Site_A.1",
        timezone="Europe/Berlin",
        band_min_temp_c=28.3,
        band_max_temp_c=32.1,
        target_fraction=0.9987,
        period=period,  # type: ignore[arg-type]
        contract_start_date=None,
        operating_minutes_by_weekday=(((360, 720), (780, 1320)), (), (), (), (), (), ((0, 1440),)),
        maintenance_notice_h=36.5,
        maintenance_windows=(
            MaintenanceWindowDef(t, t + dt.timedelta(hours=4), t - dt.timedelta(days=5), "pump"),
            MaintenanceWindowDef(t + dt.timedelta(days=7), t + dt.timedelta(days=7, hours=1), t),
        ),
        max_interruption_h=None,
        min_heat_per_day_kwh=2.5,
        measured_point="customer.supply_temp_c",
        redundant_point="customer.supply_temp_b_c",
        slice_rule="whole_minute",
        missing_data="excluded",
        escalation_ladder_h=(0.5, 1.5),
    )


def test_pool_round_trip_is_lossless_and_has_two_windows() -> None:
    d = pool()
    text = export_openslo(d)
    docs = list(yaml.safe_load_all(text))
    assert [x["spec"]["timeWindow"][0]["duration"] for x in docs] == ["1M", "1Y"]
    for doc in docs:
        assert doc["apiVersion"] == "openslo/v1" and doc["kind"] == "SLO"
        assert doc["spec"]["budgetingMethod"] == "Timeslices"
        assert doc["spec"]["objectives"][0]["target"] == 0.995
        assert "ratioMetric" in doc["spec"]["indicator"]["spec"]
        cal = doc["spec"]["timeWindow"][0]["calendar"]
        assert cal == {"startTime": "2025-09-01 00:00:00", "timeZone": "Europe/Berlin"}
        ann = doc["metadata"]["annotations"]
        assert ann["heatreuse.org/supply-band-min-temp-c"] == "32.0"
        assert ann["heatreuse.org/max-interruption-h"] == "4.0"
        assert all(isinstance(v, str) for v in ann.values())  # map[string]string
    assert import_openslo(text) == d


@pytest.mark.parametrize("period", ["month", "contract_year", "both"])
def test_rich_definition_round_trip(period: str) -> None:
    d = rich_definition(period)
    assert import_openslo(export_openslo(d)) == d
    name = to_openslo_documents(d)[0]["metadata"]["name"]
    assert name.startswith("site-a-1-") and len(name) <= 63


def test_import_prints_valid_site_yaml_section() -> None:
    d = pool()
    text = sla_terms_yaml(import_openslo(export_openslo(d)))
    data = yaml.safe_load(text)
    site_text = (EXAMPLES / "pool.yaml").read_text()
    site_data = yaml.safe_load(site_text)
    site_data["contract"]["sla"] = data["contract"]["sla"]
    site = load_site_text(yaml.safe_dump(site_data), "roundtrip.yaml")
    assert SlaDefinition.from_site(site) == d
    assert "customer.operating_hours" in text


def test_foreign_minimal_slo_with_target_percent() -> None:
    doc: dict[str, Any] = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {
            "name": "pool",
            "annotations": {
                "heatreuse.org/supply-band-min-temp-c": "30",
                "heatreuse.org/supply-band-max-temp-c": "40",
            },
        },
        "spec": {
            "service": "pool",
            "indicator": {
                "metadata": {"name": "x"},
                "spec": {"ratioMetric": {"good": {}, "total": {}}},
            },
            "timeWindow": [
                {
                    "duration": "1Y",
                    "isRolling": False,
                    "calendar": {"startTime": "2025-09-01 00:00:00", "timeZone": "Europe/Berlin"},
                }
            ],
            "budgetingMethod": "Timeslices",
            "objectives": [{"targetPercent": 99.5, "timeSliceWindow": "1m"}],
        },
    }
    d = import_openslo(yaml.safe_dump(doc))
    assert d.period == "contract_year" and d.contract_start_date == dt.date(2025, 9, 1)
    assert d.target_fraction == pytest.approx(0.995) and d.always_open
    assert (d.band_min_temp_c, d.band_max_temp_c, d.site_id) == (30.0, 40.0, "pool")


def _broken(mutate: Any) -> str:
    doc = to_openslo_documents(rich_definition("month"))[0]
    mutate(doc)
    return yaml.safe_dump(doc)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(apiVersion="openslo/v1alpha"), "apiVersion"),
        (lambda d: d.update(kind="SLI"), "kind"),
        (lambda d: d["metadata"].pop("name"), "metadata.name"),
        (lambda d: d["spec"]["indicator"]["spec"].pop("ratioMetric"), "ratioMetric"),
        (lambda d: d["spec"]["timeWindow"][0].update(duration="28d"), "timeWindow[0].duration"),
        (lambda d: d["spec"]["timeWindow"][0].update(isRolling=True), "timeWindow[0].isRolling"),
        (
            lambda d: d["spec"]["timeWindow"][0]["calendar"].update(timeZone="Mars/Olympus"),
            "timezone",
        ),
        (lambda d: d["spec"].update(budgetingMethod="Occurrences"), "budgetingMethod"),
        (lambda d: d["spec"]["objectives"][0].pop("target"), "objectives[0]"),
        (lambda d: d["spec"]["objectives"][0].update(timeSliceWindow="5m"), "timeSliceWindow"),
        (
            lambda d: d["metadata"]["annotations"].pop("heatreuse.org/supply-band-max-temp-c"),
            "supply-band-max-temp-c",
        ),
        (
            lambda d: d["metadata"]["annotations"].update(
                {"heatreuse.org/maintenance-windows": '[{"start": 1}]'}
            ),
            "maintenance-windows",
        ),
        (
            lambda d: d["metadata"]["annotations"].update({"heatreuse.org/slice-rule": "median"}),
            "slice_rule",
        ),
        (
            lambda d: d["spec"].update(indicatorRef="x") or d["spec"].pop("indicator"),
            "indicatorRef",
        ),
    ],
)
def test_invalid_openslo_names_the_field(mutate: Any, field: str) -> None:
    with pytest.raises(SLAError) as err:
        import_openslo(_broken(mutate), "sla.yaml")
    assert field in str(err.value) and "sla.yaml" in str(err.value)


def test_both_needs_two_documents_that_agree() -> None:
    docs = to_openslo_documents(rich_definition("both"))
    with pytest.raises(SLAError, match="period"):
        import_openslo(yaml.safe_dump(docs[0]))
    docs[1]["spec"]["objectives"][0]["target"] = 0.99
    with pytest.raises(SLAError, match=r"disagree.*target_fraction"):
        import_openslo(yaml.safe_dump_all(docs))
    with pytest.raises(SLAError, match="not valid YAML"):
        import_openslo("a: [")
