"""Readings: ``GET /api/v1/sites/{site_id}/readings`` (raw or rollups; paged JSON or NDJSON).

Parameters: ``point`` (repeatable, up to :data:`MAX_POINTS`), ``start`` and ``end``
(ISO 8601 with offset or epoch seconds; ``start <= ts < end``), ``resolution``
(``raw``, ``1min``, ``15min``, ``1h``), ``limit`` (rows per page) and ``cursor`` (the
``next_cursor`` of the previous page), ``format`` (``json``: one page; ``ndjson``: the
whole range streamed, one row a line, read from the store a window at a time).

Rows (long form, ordered by time then point): raw ``{"point_id", "ts", "value"}``;
rollups ``{"point_id", "ts" (bucket start), "count", "mean", "min", "max", "first",
"last"}`` [the point's unit].
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from heatreuse.api.auth import require_display
from heatreuse.api.context import ApiContext
from heatreuse.api.errors import ApiError
from heatreuse.api.permissions import S
from heatreuse.api.routes.common import iso, parse_time
from heatreuse.rawtext import preview
from heatreuse.services.people import Principal

MAX_POINTS = 20
_BUCKET_S = {"1min": 60.0, "15min": 900.0, "1h": 3600.0}
_NDJSON_WINDOW_ROWS = 20_000
#: The first time window a request reads at most [s] (:class:`_Windows`).
_PROBE_S = 1.0


class ReadingsPage(BaseModel):
    """A page of readings."""

    site_id: str
    resolution: str
    start: str
    end: str
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _num(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _iso_us(us: np.ndarray) -> list[str]:
    """ISO 8601 UTC texts of µs since the epoch (``Z``; fraction only when not 0)."""
    sec = np.datetime_as_string(us.astype("datetime64[us]"), unit="s")
    frac = us % 1_000_000
    with_frac = np.char.add(np.char.add(sec, np.char.mod(".%06d", frac)), "Z")
    return [str(x) for x in np.where(frac == 0, np.char.add(sec, "Z"), with_frac)]


def _us(t: dt.datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _from_us(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)


class _Reader:
    """Reads the rows of one request window by window."""

    def __init__(self, ctx: ApiContext, site_id: str, points: list[str], resolution: str) -> None:
        self.ctx = ctx
        self.site_id = site_id
        self.points = points
        self.resolution = resolution
        known = {p.id: p for p in ctx.points_of(site_id).points}
        for p in points:
            if p not in known:
                raise ApiError(404, f"point: site {site_id!r} has no point {preview(p)}", "point")
        step = (
            _BUCKET_S[resolution]
            if resolution in _BUCKET_S
            else min(known[p].sample_interval_s for p in points)
        )
        self.step_s = max(step, 0.001)

    def window_s(self, rows: int) -> float:
        """A time window expected to hold about ``rows`` rows [s]."""
        return max(60.0, rows * self.step_s / len(self.points))

    def read(self, start_us: int, end_us: int, max_rows: int | None = None) -> list[dict[str, Any]]:
        """Rows with ``start_us <= ts < end_us``, by time then point; the first
        ``max_rows`` of them when given (the rows past it are never built)."""
        store = self.ctx.store
        if self.resolution == "raw":
            frame = store.read_series(
                self.site_id, self.points, start_us, end_us, "raw", max_rows=max_rows
            )
            if frame.empty:
                return []
            us_all = pd.DatetimeIndex(frame.index).as_unit("us").asi8
            names = sorted(str(c) for c in frame.columns)  # rows: by time, then point id
            parts_us, parts_p, parts_v = [], [], []
            for col in frame.columns:
                k = names.index(str(col))
                values = frame[col].to_numpy(dtype=float, na_value=np.nan)
                keep = np.isfinite(values)
                parts_us.append(us_all[keep])
                parts_p.append(np.full(int(keep.sum()), k))
                parts_v.append(values[keep])
            us = np.concatenate(parts_us)
            pk = np.concatenate(parts_p)
            vals = np.concatenate(parts_v)
            order = np.lexsort((pk, us))
            if max_rows is not None:
                order = order[:max_rows]
            us, pk, vals = us[order], pk[order], vals[order]
            return [
                {"point_id": names[k], "ts": t, "value": v, "_us": u}
                for u, k, v, t in zip(
                    us.tolist(), pk.tolist(), vals.tolist(), _iso_us(us), strict=True
                )
            ]
        frame = store.read_rollup(
            self.site_id,
            self.points,
            start_us,
            end_us,
            self.resolution,  # type: ignore[arg-type]
        )
        out2: list[dict[str, Any]] = []
        for ts, rec in zip(frame.index, frame.to_dict("records"), strict=True):
            out2.append(
                {
                    "point_id": str(rec["point_id"]),
                    "ts": iso(ts.to_pydatetime()),
                    "count": int(rec["count"]),
                    "mean": _num(rec["mean"]),
                    "min": _num(rec["min"]),
                    "max": _num(rec["max"]),
                    "first": _num(rec["first"]),
                    "last": _num(rec["last"]),
                    "_us": int(ts.value // 1000),
                }
            )
        out2.sort(key=lambda r: (r["_us"], r["point_id"]))
        return out2 if max_rows is None else out2[:max_rows]


class _Windows:
    """Time windows of about ``rows`` rows each, from the rows actually found.

    The points' declared sample intervals say nothing about how dense the stored
    data is (a device may push many times faster; backfills), and a window read
    whole costs memory and time in proportion to its rows: the first window is a
    probe of at most :data:`_PROBE_S`, each next one is sized from the rows per
    second seen so far (+25 %), at most 64 times what was covered, 8 times larger
    while nothing was found.
    """

    def __init__(self, reader: _Reader, start_us: int, rows: int) -> None:
        self.start_us = start_us
        self.rows = rows
        self.found = 0
        self.next_us = int(min(reader.window_s(rows), _PROBE_S) * 1e6)

    def saw(self, cur_us: int, found: int, rows: int | None = None) -> None:
        """``found`` more rows up to ``cur_us``; ``rows`` wanted next (default as before)."""
        self.found += found
        if rows is not None:
            self.rows = rows
        covered = max(1, cur_us - self.start_us)
        if self.found == 0:
            self.next_us *= 8
            return
        per_us = self.found / covered
        want = int(1.25 * self.rows / per_us)
        self.next_us = max(1_000, min(want, 64 * covered))


def _page(reader: _Reader, start_us: int, end_us: int, limit: int) -> tuple[list[Any], int | None]:
    """Up to ``limit`` rows from ``start_us``; the cursor (µs) of the rest or None."""
    rows: list[dict[str, Any]] = []
    cur = start_us
    want = limit + 1  # one more than a page: the next page's first instant
    windows = _Windows(reader, start_us, want)
    while cur < end_us and len(rows) < want:
        stop = min(end_us, cur + windows.next_us)
        got = reader.read(cur, stop, max_rows=want - len(rows))
        rows.extend(got)
        cur = stop
        windows.saw(cur, len(got), max(1, want - len(rows)))
    if len(rows) <= limit:
        return rows, None
    cut = rows[limit]["_us"]
    kept = [r for r in rows[:limit] if r["_us"] < cut]
    if not kept:  # more rows at one instant than a page holds
        raise ApiError(
            422,
            f"limit: {limit} is smaller than the number of rows at {iso(_from_us(cut))}; "
            "ask for a larger page",
            "limit",
        )
    return kept, cut


def router(ctx: ApiContext) -> APIRouter:
    """Readings routes."""
    r = APIRouter(tags=["readings"])

    @r.get(
        S + "/readings",
        response_model=ReadingsPage,
        responses={
            200: {
                "content": {"application/x-ndjson": {}},
                "description": "A page (JSON) or the whole range (format=ndjson).",
            },
            404: {"description": "Unknown site or point."},
            422: {"description": "Bad time, resolution, limit or cursor (field named)."},
        },
    )
    def readings(
        site_id: str,
        point: list[str] = Query(..., min_length=1, max_length=MAX_POINTS),
        start: str = Query(..., max_length=64),
        end: str = Query(..., max_length=64),
        resolution: Literal["raw", "1min", "15min", "1h"] = "raw",
        limit: int = Query(1000, ge=1, le=100_000),
        cursor: str | None = Query(None, max_length=32),
        format: Literal["json", "ndjson"] = "json",
        _p: Principal = Depends(require_display("readings.read")),
    ) -> Any:
        """Readings of one or more points over a time range (raw or rollups)."""
        t0 = parse_time(start, "start")
        t1 = parse_time(end, "end")
        assert t0 is not None and t1 is not None
        if t1 <= t0:
            raise ApiError(422, f"end: expected a time after start ({iso(t0)}), got {end}", "end")
        reader = _Reader(ctx, site_id, list(dict.fromkeys(point)), resolution)
        start_us, end_us = _us(t0), _us(t1)
        if cursor:
            if not cursor.isdigit() or not start_us <= int(cursor) < end_us:
                raise ApiError(
                    422,
                    f"cursor: expected the next_cursor of a previous page, got {preview(cursor)}",
                    "cursor",
                )
            start_us = int(cursor)
        if format == "ndjson":
            return StreamingResponse(
                _ndjson(reader, start_us, end_us), media_type="application/x-ndjson"
            )
        rows, nxt = _page(reader, start_us, end_us, limit)
        for row in rows:
            row.pop("_us", None)
        doc = {
            "site_id": site_id,
            "resolution": resolution,
            "start": str(iso(t0)),
            "end": str(iso(t1)),
            "rows": rows,
            "next_cursor": None if nxt is None else str(nxt),
        }
        # the rows are built JSON-ready (finite floats, texts): no second validation
        # pass, and orjson encodes a page of 5,000 rows in about a tenth of json's time
        return Response(orjson.dumps(doc), media_type="application/json")

    return r


def _ndjson(reader: _Reader, start_us: int, end_us: int) -> Iterator[bytes]:
    cur = start_us
    windows = _Windows(reader, start_us, _NDJSON_WINDOW_ROWS)
    while cur < end_us:
        stop = min(end_us, cur + windows.next_us)
        chunk = reader.read(cur, stop)
        cur = stop
        windows.saw(cur, len(chunk))
        if chunk:
            lines = []
            for row in chunk:
                row.pop("_us", None)
                lines.append(orjson.dumps(row))
            yield b"\n".join(lines) + b"\n"
