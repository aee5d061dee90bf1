"""Export a site's stored history as Parquet (``heatreuse store export``).

``OUT/readings.parquet`` holds the raw readings in the long format ``heatreuse ingest``
reads (``timestamp`` as ``timestamp[us, tz=UTC]``, ``point_id``, ``value`` float64;
see :mod:`heatreuse.telemetry.files`), so ingesting it into another store gives the same
readings back. ``OUT/rollup_1h.parquet`` holds the hourly rollups (``bucket_start``,
``point_id``, ``count``, ``min``, ``max``, ``sum``, ``mean``, ``first``, ``last``,
``first_ts``, ``last_ts``, ``delta``, ``delta_since``), values in each point's unit.
Both read directly in pandas (``pd.read_parquet``) and DuckDB (``read_parquet``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from heatreuse.errors import HeatreuseError
from heatreuse.site import Site
from heatreuse.store import Store

#: Raw readings are read and written one day at a time (bounded memory).
_CHUNK = pd.Timedelta(days=1)


@dataclass(frozen=True)
class ExportReport:
    """What ``store export`` wrote."""

    site_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    readings: int
    rollup_rows: int
    points: int
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "site_id": self.site_id,
            "start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": self.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "readings": self.readings,
            "rollup_1h_rows": self.rollup_rows,
            "points": self.points,
            "files": list(self.files),
        }


def export_site_history(
    site: Site, store: Store, start: pd.Timestamp, end: pd.Timestamp, out_dir: str | Path
) -> ExportReport:
    """Write a site's raw readings and hourly rollups in ``[start, end)`` as Parquet.

    Parameters
    ----------
    site
        The site (its id names the store's series).
    store
        The open store.
    start, end
        Period, tz-aware UTC.
    out_dir
        Folder for ``readings.parquet`` and ``rollup_1h.parquet`` (created; existing
        files of these names are replaced).

    Raises
    ------
    HeatreuseError
        When ``end <= start`` or the store holds no series of the site.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if end <= start:
        raise HeatreuseError(f"--end {end.isoformat()}: expected after --start {start.isoformat()}")
    points = store.list_points(site.id)
    if not points:
        raise HeatreuseError(
            f"store {store.url}: no readings of site {site.id!r}; sites in the store: "
            f"{', '.join(store.list_sites()) or '(none)'}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("point_id", pa.string()),
            ("value", pa.float64()),
        ]
    )
    readings_path = out / "readings.parquet"
    n = 0
    with pq.ParquetWriter(readings_path, schema, compression="zstd") as writer:
        t = start
        while t < end:
            t1 = min(end, t + _CHUNK)
            wide = store.read_series(site.id, points, t, t1)
            if not wide.empty:
                long = wide.stack(future_stack=True).dropna()
                if len(long):
                    idx = long.index
                    ts = pd.DatetimeIndex(idx.get_level_values(0)).tz_convert("UTC").as_unit("us")
                    table = pa.table(
                        {
                            "timestamp": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
                            "point_id": pa.array(
                                [str(p) for p in idx.get_level_values(1)], type=pa.string()
                            ),
                            "value": pa.array(long.to_numpy(dtype=float), type=pa.float64()),
                        },
                        schema=schema,
                    )
                    writer.write_table(table)
                    n += len(long)
            t = t1
    roll = store.read_rollup(site.id, points, start, end, resolution="1h")
    roll = roll.rename_axis("bucket_start").reset_index()
    roll_path = out / "rollup_1h.parquet"
    roll.to_parquet(roll_path, index=False, compression="zstd")
    report = ExportReport(
        site_id=site.id,
        start=start,
        end=end,
        readings=n,
        rollup_rows=len(roll),
        points=len(points),
        files=(str(readings_path), str(roll_path)),
    )
    (out / "export.json").write_text(
        json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return report
