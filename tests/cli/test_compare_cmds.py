"""CLI: heatreuse compare (text, --json, --out; user errors exit 2 without a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heatreuse.cli.main import run
from heatreuse.services.ingest import ingest_file
from heatreuse.services.twin import run_offline_twin
from heatreuse.site import load_site
from heatreuse.store import open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SITE = str(EXAMPLES / "pool.yaml")
PERIOD = "2026-01-06..2026-01-06"  # one local day (Europe/Berlin)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("compare-cli")
    site = load_site(SITE)
    path = tmp / "day.parquet"
    run_offline_twin(
        site,
        start="2026-01-05T23:00Z",
        end="2026-01-06T23:00Z",
        out=path,
        scenarios=(),
        step_s=300,
    )
    url = f"sqlite:///{tmp / 'store.db'}"
    with open_store(url, create=True) as store:
        ingest_file(site, path, store)
    return url


def test_json_prints_days_totals_and_attribution(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        ["compare", SITE, "--period", PERIOD, "--store", store_url, "--json", "--step", "5min"]
    )
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert {"days", "totals", "attribution"} <= set(data)
    assert [d["date"] for d in data["days"]] == ["2026-01-06"]
    assert data["totals"]["hours_compared"] == 24
    assert {a["cause"] for a in data["attribution"]} == {
        "control",
        "sizing",
        "workload",
        "demand",
        "metering",
    }
    sizes = [abs(a["heat_kwh"]) for a in data["attribution"]]
    assert sizes == sorted(sizes, reverse=True)
    assert data["step_s"] == 300


def test_text_and_out_folder(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "cmp"
    code = run(["compare", SITE, "--period", PERIOD, "--store", store_url, "--out", str(out_dir)])
    text = capsys.readouterr().out
    assert code == 0
    assert "Variance by cause" in text and "unexplained" in text
    assert "measured" in text and "model" in text  # the inputs, each labelled
    html = out_dir / "compare_pool-potsdam_2026-01-06..2026-01-06.html"
    js = out_dir / "compare_pool-potsdam_2026-01-06..2026-01-06.json"
    assert html.is_file() and js.is_file()
    assert 'id="day0"' in html.read_text(encoding="utf-8")
    assert json.loads(js.read_text(encoding="utf-8"))["period"] == PERIOD


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "Jan 2026"], "expected YYYY-MM"),
        (["--period", "2026-01-01..2026-01-02"], "none at all: IT energy, delivered heat"),
        (["--period", PERIOD, "--step", "7min"], "--step"),
        (["--period", PERIOD, "--weather", "/nonexistent/jan.csv"], "does not exist"),
    ],
)
def test_user_errors_exit_2_with_the_reason(
    store_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(["compare", SITE, "--store", store_url, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_store_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'nothing.db'}"
    assert run(["compare", SITE, "--period", PERIOD, "--store", url]) == 2
    err = capsys.readouterr().err
    assert "nothing.db" in err and "Traceback" not in err
    assert not (tmp_path / "nothing.db").exists()  # a reader never creates a store
