"""The end-to-end demo on the embedded default (SQLite): plan -> run -> prove in one go.

Steps, each through the same service a user's command calls:

1. the pool example runs as an offline twin for one month at 60 s steps, with one
   drill in it (a primary pump failure), and writes every reading the live twin
   would publish (``heatreuse twin ... --out FILE.parquet``);
2. the readings go through the file ingest path (``heatreuse ingest``) into a
   fresh SQLite store;
3. the reuse ledger is built (``heatreuse ledger update``) and signed;
4. the SLA is evaluated for the month (``heatreuse sla report --json``);
5. the monthly report is written (``heatreuse report monthly``);
6. the ledger is exported (``heatreuse ledger export``) and verified
   (``heatreuse verify``) from nothing but the export folder.

Everything lands under one output folder so that the demo can be rerun and
inspected; the store, keys and checkpoints are the demo's own.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heatreuse.errors import HeatreuseError
from heatreuse.site import Site, load_site

DEMO_PERIOD = "2026-01"
DEMO_START = "2026-01-01T00:00:00+00:00"
DEMO_END = "2026-02-01T00:00:00+00:00"
#: One drill inside the month: the primary pump trips on a cold Wednesday morning for 5 h.
DEMO_SCENARIO = "pump_failure@2026-01-14T06:00Z+5h:secondary"


@dataclass
class DemoResult:
    """Paths and headline figures of one demo run."""

    out_dir: Path
    site_id: str
    readings_file: Path
    readings_written: int
    ingest: dict[str, Any]
    ledger: dict[str, Any]
    sla: dict[str, Any]
    kpis: dict[str, Any]
    report_html: Path
    report_pdf: Path
    sla_json: Path
    export_dir: Path
    verify_ok: bool
    verify_summary: str
    timings_s: dict[str, float] = field(default_factory=dict)


def find_example(name: str = "pool.yaml") -> Path:
    """Locate an example site file next to the source tree (the repo's ``examples/``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples" / name
        if candidate.is_file():
            return candidate
    raise HeatreuseError(
        f"example site {name!r} not found in an examples/ folder above {here.parent}; "
        "pass --site FILE"
    )


def run_demo(
    out_dir: str | Path,
    site_path: str | Path | None = None,
    *,
    step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the whole demo into ``out_dir`` (recreated) and return what it produced."""
    import time

    from heatreuse.ledger.verify import verify_export
    from heatreuse.services import ledger as ledger_service
    from heatreuse.services import sla as sla_service
    from heatreuse.services.ingest import ingest_file
    from heatreuse.services.twin import run_offline_twin
    from heatreuse.simulation.scenarios import parse_scenarios
    from heatreuse.store import open_store

    say = step or (lambda _msg: None)
    out = Path(out_dir).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    site: Site = load_site(site_path or find_example())
    store_url = f"sqlite:///{out / 'heatreuse.db'}"
    cp_dir = out / "checkpoints"
    key_path = out / "keys" / f"{site.id}.key"
    timings: dict[str, float] = {}

    t = time.perf_counter()
    say(f"offline twin: {site.id}, {DEMO_PERIOD} at 60 s steps, drill {DEMO_SCENARIO}")
    readings_file = out / f"twin-{DEMO_PERIOD}.parquet"
    twin = run_offline_twin(
        site,
        start=DEMO_START,
        end=DEMO_END,
        out=readings_file,
        scenarios=parse_scenarios([DEMO_SCENARIO]),
    )
    timings["twin"] = time.perf_counter() - t

    t = time.perf_counter()
    say(f"ingest: {twin.readings:,} readings into {store_url}")
    with open_store(store_url, create=True) as store:
        report = ingest_file(site, readings_file, store)
    ingest = report.result.as_dict()
    timings["ingest"] = time.perf_counter() - t

    t = time.perf_counter()
    say("ledger: build hourly intervals, append to the Merkle log, sign a checkpoint")
    now = dt.datetime(2026, 2, 1, 1, 0, tzinfo=dt.UTC)
    upd = ledger_service.update_ledger(
        site, store_url, now=now, checkpoint_dir=cp_dir, key_path=key_path
    )
    timings["ledger"] = time.perf_counter() - t

    t = time.perf_counter()
    say("SLA: evaluate the month on 1-minute slices")
    sla_reports = sla_service.sla_report(site, store_url, DEMO_PERIOD, now=now)
    sla_dicts = [r.to_dict() for r in sla_reports]
    sla_json = out / f"sla-{DEMO_PERIOD}.json"
    sla_json.write_text(json.dumps(sla_dicts, indent=2, default=str), encoding="utf-8")
    kpis = ledger_service.kpi_report(site, DEMO_PERIOD, store_url, checkpoint_dir=cp_dir)
    timings["sla_kpi"] = time.perf_counter() - t

    t = time.perf_counter()
    say("report: monthly HTML and PDF")
    html, pdf = ledger_service.monthly_report(
        site, DEMO_PERIOD, out / "report", store_url, checkpoint_dir=cp_dir, now=now
    )
    timings["report"] = time.perf_counter() - t

    t = time.perf_counter()
    say("export the ledger and verify it from the export folder alone")
    export_dir = out / "ledger-export"
    ledger_service.export_ledger(
        site, export_dir, store_url, checkpoint_dir=cp_dir, key_path=key_path
    )
    verified = verify_export(export_dir)
    timings["export_verify"] = time.perf_counter() - t

    return DemoResult(
        out_dir=out,
        site_id=site.id,
        readings_file=readings_file,
        readings_written=int(twin.readings),
        ingest=ingest,
        ledger=upd.to_dict(),
        sla=sla_dicts[0] if sla_dicts else {},
        kpis=kpis,
        report_html=Path(html),
        report_pdf=Path(pdf),
        sla_json=sla_json,
        export_dir=export_dir,
        verify_ok=bool(verified.ok),
        verify_summary=(
            f"{verified.entry_count} entries, {len(verified.checkpoints_verified)} signed "
            f"checkpoints, {verified.consistency_proofs_verified} consistency proofs, "
            f"{verified.totals_matched}/{verified.totals_recomputed} totals recomputed"
            + ("" if verified.ok else f"; {len(verified.problems)} problem(s)")
        ),
        timings_s=timings,
    )
