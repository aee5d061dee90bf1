"""Weather readers: typical-year files (TMY2, TMY3, EPW, DWD TRY) and plain CSV.

Every reader returns the same frame (see :func:`load_weather`):

=============================  ==========================================================
column                         meaning
=============================  ==========================================================
``air_temp_c``                 dry-bulb air temperature [C] (always present)
``relative_humidity_fraction`` relative humidity over liquid water [0..1] (where the
                               source has it)
``ghi_w_per_m2``               global horizontal irradiance, mean over the hour [W/m2]
                               (where the source has it)
``wind_speed_m_per_s``         wind speed at 10 m [m/s] (where the source has it)
=============================  ==========================================================

Optional columns are *absent* when the source does not carry them, never filled
with zeros; a model that needs one calls :func:`require_columns`, which raises
:class:`~heatreuse.errors.WeatherError` naming the column and the source.

Time stamps. The index is a tz-aware UTC :class:`pandas.DatetimeIndex` with
hourly steps; each row is labelled with the **start** of the hour it describes
(interval-beginning). Typical-year files label rows by the *end* of the hour
(TMY2/TMY3 "hour 1" = 00:00-01:00, EPW "hour 1", DWD TRY "HH 1"), all in local
**standard** time (no daylight saving) at the UTC offset given in the file
header (TMY2/TMY3/EPW) or by the format (DWD TRY 2010: MEZ = UTC+1). So row
``i`` of a typical year is labelled ``Jan 1 00:00 LST + i h`` and converted to
UTC with the file's offset.

Typical years. Typical-year files splice months from different years. They are
re-stamped onto one calendar ``year`` (default :data:`DEFAULT_YEAR`, 2025, a
non-leap year): 8760 rows in file order. A file with 8784 rows (a leap-year
file with Feb 29) loses Feb 29 for a non-leap target year; for a leap target
year an 8760-row file gets Feb 29 as a copy of Feb 28. A typical year therefore
always covers exactly one local-standard-time calendar year (8760 or 8784 h).

Plain CSV files keep their own time stamps (ISO 8601 with a UTC offset, e.g.
``2025-01-01T00:00+01:00``); they must be regular. Steps shorter than an hour
that divide the hour are averaged to hourly means (explicit resampling, house
rule 4). With ``year`` given, the rows of that UTC calendar year are selected
and must form the full year.

References
----------
.. [1] Wilcox, S. and Marion, W. (2008). Users Manual for TMY3 Data Sets.
   NREL/TP-581-43156. doi:10.2172/928611.
.. [2] Marion, W. and Urban, K. (1995). User's Manual for TMY2s. NREL.
   doi:10.2172/87130.
.. [3] EnergyPlus Auxiliary Programs, "Weather Converter Program", EPW format.
.. [4] Deutscher Wetterdienst / BBR (2011). Aktualisierte und erweiterte
   Testreferenzjahre (TRY) von Deutschland fuer mittlere und extreme
   Witterungsverhaeltnisse. Files as shipped in ``demandlib`` (TRY 2010,
   mean year, reference period 1988-2007).
"""

from __future__ import annotations

import calendar
import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatreuse.errors import WeatherError

#: Calendar year that typical-year files are re-stamped onto unless told otherwise.
DEFAULT_YEAR = 2025

AIR_TEMP = "air_temp_c"
RELATIVE_HUMIDITY = "relative_humidity_fraction"
GHI = "ghi_w_per_m2"
WIND_SPEED = "wind_speed_m_per_s"
#: All columns a weather frame may carry, in this order; only ``air_temp_c`` is mandatory.
WEATHER_COLUMNS = (AIR_TEMP, RELATIVE_HUMIDITY, GHI, WIND_SPEED)

#: DWD TRY 2010 regions shipped in demandlib (1..15); hour stamps are MEZ = UTC+1.
TRY_REGIONS = tuple(range(1, 16))
_TRY_UTC_OFFSET_H = 1.0

_PVLIB_WEATHER = re.compile(r"^(\d{5,6}TYA?\.csv|.*\.tm2|.*\.epw)$", re.IGNORECASE)
_HOUR = pd.Timedelta(hours=1)


# --------------------------------------------------------------------------- public API
def load_weather(
    spec: str, *, base_dir: Path | None = None, year: int | None = None
) -> pd.DataFrame:
    """Load hourly weather from a named source.

    Parameters
    ----------
    spec : str
        ``pvlib:<file>`` (a typical-year file in pvlib's data folder, e.g.
        ``pvlib:723170TYA.CSV``), ``dwd-try:NN`` (DWD test reference year
        2010, region 01..15, shipped inside demandlib), or a path to an
        ``.epw`` file, a TMY3 ``.csv`` file or a plain CSV with columns
        ``timestamp`` and ``air_temp_c`` (optional
        ``relative_humidity_fraction``, ``ghi_w_per_m2``,
        ``wind_speed_m_per_s``).
    base_dir : Path, optional
        Folder that relative paths are resolved against (normally the site
        file's folder). Default: the current working directory.
    year : int, optional
        Calendar year that typical-year files are re-stamped onto (default
        :data:`DEFAULT_YEAR`); for a plain CSV, the UTC calendar year to select
        (then the full year must be present).

    Returns
    -------
    pandas.DataFrame
        Hourly frame, tz-aware UTC index (interval-beginning labels), columns
        from :data:`WEATHER_COLUMNS` (``air_temp_c`` always). ``attrs`` holds
        ``source`` (the spec), ``station``, ``utc_offset_h`` (typical years)
        and ``latitude_deg`` / ``longitude_deg`` where the file gives them.

    Raises
    ------
    WeatherError
        Unknown pvlib file (lists the available ones), unknown TRY region,
        missing file, missing column, non-numeric value (with row), gaps or
        irregular steps (first gap and its length), wrong length, time stamps
        without a UTC offset.
    """
    text = spec.strip()
    if year is not None and not 1 <= year <= 9999:
        raise WeatherError(f"weather {spec!r}: year expected 1..9999, got {year}")
    lower = text.lower()
    if lower.startswith("pvlib:"):
        return _load_pvlib(text, text[len("pvlib:") :].strip(), year)
    if lower.startswith("dwd-try:"):
        return _load_dwd_try(text, text[len("dwd-try:") :].strip(), year)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.is_file():
        raise WeatherError(
            f"weather file {str(path)!r} (from {spec!r}) does not exist; expected a path to an "
            ".epw, TMY3 .csv or plain .csv file, 'pvlib:<file>' or 'dwd-try:NN'"
        )
    suffix = path.suffix.lower()
    if suffix == ".epw":
        return _load_epw(path, year)
    if suffix == ".tm2":
        return _load_tmy2(path, year)
    if suffix == ".csv":
        if _looks_like_tmy3(path):
            return _load_tmy3(path, year)
        return _load_plain_csv(path, year)
    raise WeatherError(
        f"weather file {str(path)!r}: unknown format {path.suffix!r}; expected .epw, .tm2 or .csv"
    )


def available_pvlib_files() -> list[str]:
    """Names of the typical-year weather files shipped in pvlib's data folder."""
    folder = _pvlib_data_dir()
    return sorted(p.name for p in folder.iterdir() if _PVLIB_WEATHER.match(p.name))


def require_columns(
    weather: pd.DataFrame, columns: tuple[str, ...] | list[str], needed_by: str
) -> None:
    """Raise :class:`WeatherError` unless ``weather`` has all ``columns``.

    Parameters
    ----------
    weather : pandas.DataFrame
        A frame from :func:`load_weather`.
    columns : sequence of str
        Column names needed.
    needed_by : str
        Who needs them (used in the message), e.g. ``"outdoor pool (solar gain)"``.
    """
    missing = [c for c in columns if c not in weather.columns]
    if missing:
        source = weather.attrs.get("source", "the weather data")
        raise WeatherError(
            f"weather {source!r} has no column(s) {missing} needed by {needed_by}; "
            f"it has {list(weather.columns)}"
        )


def check_full_year(weather: pd.DataFrame) -> None:
    """Raise :class:`WeatherError` unless ``weather`` is one full year of hours.

    A full year has 8760 hourly rows (8784 in a leap year), regular steps.
    """
    source = weather.attrs.get("source", "weather")
    n = len(weather)
    if n not in (8760, 8784):
        raise WeatherError(
            f"weather {source!r}: expected a full year of hourly values (8760 or 8784 rows), "
            f"got {n}"
        )
    _check_regular(pd.DatetimeIndex(weather.index), str(source), _HOUR)


# --------------------------------------------------------------------------- typical years
def _pvlib_data_dir() -> Path:
    spec = importlib.util.find_spec("pvlib")
    if spec is None or spec.origin is None:  # pragma: no cover - pvlib is a dependency
        raise WeatherError("pvlib is not installed; cannot read 'pvlib:' weather files")
    return Path(spec.origin).parent / "data"


def _load_pvlib(spec: str, name: str, year: int | None) -> pd.DataFrame:
    available = available_pvlib_files()
    match = [a for a in available if a.lower() == name.lower()]
    if not match:
        raise WeatherError(
            f"weather {spec!r}: no weather file {name!r} in pvlib's data folder; "
            f"available: {', '.join(available)}"
        )
    path = _pvlib_data_dir() / match[0]
    suffix = path.suffix.lower()
    if suffix == ".tm2":
        frame = _load_tmy2(path, year)
    elif suffix == ".epw":
        frame = _load_epw(path, year)
    else:
        frame = _load_tmy3(path, year)
    frame.attrs["source"] = spec
    return frame


def _looks_like_tmy3(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            fh.readline()
            second = fh.readline()
    except OSError as exc:
        raise WeatherError(f"weather file {str(path)!r}: cannot read: {exc}") from exc
    return second.startswith("Date (MM/DD/YYYY)")


def _load_tmy3(path: Path, year: int | None) -> pd.DataFrame:
    from pvlib.iotools import read_tmy3

    try:
        data, meta = read_tmy3(str(path), map_variables=True)
    except Exception as exc:  # pvlib raises many types on malformed files
        raise WeatherError(f"weather file {str(path)!r}: not a readable TMY3 file: {exc}") from exc
    columns = {
        AIR_TEMP: _numeric(data, "temp_air", path),
        RELATIVE_HUMIDITY: _numeric(data, "relative_humidity", path) / 100.0,
        GHI: _numeric(data, "ghi", path),
        WIND_SPEED: _numeric(data, "wind_speed", path),
    }
    dates = pd.to_datetime(data["Date (MM/DD/YYYY)"], format="%m/%d/%Y", errors="coerce")
    return _typical_year(
        columns,
        path=path,
        utc_offset_h=float(meta["TZ"]),
        year=year,
        months=dates.dt.month.to_numpy(),
        days=dates.dt.day.to_numpy(),
        attrs={
            "station": str(meta.get("Name", "")).strip('"'),
            "latitude_deg": float(meta["latitude"]),
            "longitude_deg": float(meta["longitude"]),
        },
    )


def _load_tmy2(path: Path, year: int | None) -> pd.DataFrame:
    from pvlib.iotools import read_tmy2

    try:
        data, meta = read_tmy2(str(path))
    except Exception as exc:
        raise WeatherError(f"weather file {str(path)!r}: not a readable TMY2 file: {exc}") from exc
    columns = {
        AIR_TEMP: _numeric(data, "DryBulb", path) / 10.0,  # tenths of C
        RELATIVE_HUMIDITY: _numeric(data, "RHum", path) / 100.0,
        GHI: _numeric(data, "GHI", path),  # Wh/m2 over the hour = mean W/m2
        WIND_SPEED: _numeric(data, "Wspd", path) / 10.0,  # tenths of m/s
    }
    return _typical_year(
        columns,
        path=path,
        utc_offset_h=float(meta["TZ"]),
        year=year,
        months=data["month"].to_numpy(),
        days=data["day"].to_numpy(),
        attrs={
            "station": str(meta.get("City", "")),
            "latitude_deg": float(meta["latitude"]),
            "longitude_deg": float(meta["longitude"]),
        },
    )


def _load_epw(path: Path, year: int | None) -> pd.DataFrame:
    from pvlib.iotools import read_epw

    try:
        data, meta = read_epw(str(path))
    except Exception as exc:
        raise WeatherError(f"weather file {str(path)!r}: not a readable EPW file: {exc}") from exc
    columns = {
        AIR_TEMP: _numeric(data, "temp_air", path),
        RELATIVE_HUMIDITY: _numeric(data, "relative_humidity", path) / 100.0,
        GHI: _numeric(data, "ghi", path),
        WIND_SPEED: _numeric(data, "wind_speed", path),
    }
    return _typical_year(
        columns,
        path=path,
        utc_offset_h=float(meta["TZ"]),
        year=year,
        attrs={
            "station": str(meta.get("city", "")),
            "latitude_deg": float(meta["latitude"]),
            "longitude_deg": float(meta["longitude"]),
        },
        months=data["month"].to_numpy(),
        days=data["day"].to_numpy(),
    )


def _try_path(region: int) -> Path:
    spec = importlib.util.find_spec("demandlib")
    if spec is None or spec.origin is None:  # pragma: no cover - demandlib is a dependency
        raise WeatherError("demandlib is not installed; cannot read 'dwd-try:' weather")
    return Path(spec.origin).parent / "vdi" / "resources_weather" / f"TRY2010_{region:02d}_Jahr.dat"


def _load_dwd_try(spec: str, region_text: str, year: int | None) -> pd.DataFrame:
    if not region_text.isdigit() or int(region_text) not in TRY_REGIONS:
        raise WeatherError(
            f"weather {spec!r}: unknown DWD TRY region {region_text!r}; expected 01..15 "
            "(DWD test reference year 2010 regions, e.g. 'dwd-try:04' for Potsdam)"
        )
    region = int(region_text)
    path = _try_path(region)
    if not path.is_file():  # pragma: no cover - shipped with demandlib
        raise WeatherError(f"weather {spec!r}: file {str(path)!r} is missing from demandlib")
    lines = path.read_text(encoding="latin-1").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("***")) + 1
    except StopIteration:
        raise WeatherError(
            f"weather file {str(path)!r}: no '***' line before the data; not a DWD TRY 2010 file"
        ) from None
    header = lines[start - 2].split()
    station = lines[1].split("WMO")[0].replace("Station:", "").strip() if len(lines) > 1 else ""
    rows = [line.split() for line in lines[start:] if line.strip()]
    width = len(header)
    for k, row in enumerate(rows):
        if len(row) != width:
            raise WeatherError(
                f"weather file {str(path)!r}, line {start + k + 1}: expected {width} fields "
                f"({' '.join(header)}), got {len(row)}"
            )
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise WeatherError(f"weather file {str(path)!r}: non-numeric value: {exc}") from exc
    col = {name: table[:, i] for i, name in enumerate(header)}
    columns = {
        AIR_TEMP: col["t"],
        RELATIVE_HUMIDITY: col["RF"] / 100.0,
        # B: direct on the horizontal plane, D: diffuse; GHI = B + D.
        GHI: col["B"] + col["D"],
        WIND_SPEED: col["WG"],
    }
    frame = _typical_year(
        columns,
        path=path,
        utc_offset_h=_TRY_UTC_OFFSET_H,
        year=year,
        attrs={"station": station},
        months=col["MM"].astype(int),
        days=col["DD"].astype(int),
    )
    frame.attrs["source"] = spec
    return frame


def _numeric(data: pd.DataFrame, column: str, path: Path) -> np.ndarray[Any, np.dtype[np.float64]]:
    if column not in data.columns:
        raise WeatherError(f"weather file {str(path)!r}: column {column!r} is missing")
    values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise WeatherError(
            f"weather file {str(path)!r}: column {column!r} row {row + 1} of the data: "
            f"expected a number, got {data[column].iloc[row]!r}"
        )
    return values


def _typical_year(
    columns: dict[str, np.ndarray[Any, np.dtype[np.float64]]],
    *,
    path: Path,
    utc_offset_h: float,
    year: int | None,
    attrs: dict[str, Any],
    months: np.ndarray[Any, Any] | None = None,
    days: np.ndarray[Any, Any] | None = None,
) -> pd.DataFrame:
    """Re-stamp typical-year rows onto one calendar year (see module docstring)."""
    target = DEFAULT_YEAR if year is None else year
    n = len(columns[AIR_TEMP])
    if n not in (8760, 8784):
        raise WeatherError(
            f"weather file {str(path)!r}: expected a typical year of 8760 hourly rows "
            f"(8784 with Feb 29), got {n}"
        )
    values = dict(columns)
    has_feb29 = n == 8784
    if has_feb29 and months is not None and days is not None:
        feb29 = (np.asarray(months) == 2) & (np.asarray(days) == 29)
        if int(feb29.sum()) != 24:
            raise WeatherError(
                f"weather file {str(path)!r}: 8784 rows but {int(feb29.sum())} rows on Feb 29 "
                "(expected 24)"
            )
    elif has_feb29:
        feb29 = np.zeros(n, dtype=bool)
        feb29[59 * 24 : 60 * 24] = True
    leap = calendar.isleap(target)
    if has_feb29 and not leap:
        values = {k: v[~feb29] for k, v in values.items()}
    elif not has_feb29 and leap:
        cut = 59 * 24  # rows of Jan + Feb 1..28
        values = {
            k: np.concatenate([v[:cut], v[cut - 24 : cut], v[cut:]]) for k, v in values.items()
        }
    hours = 8784 if leap else 8760
    offset = pd.Timedelta(hours=utc_offset_h)
    start_utc = pd.Timestamp(year=target, month=1, day=1) - offset
    index = pd.date_range(start_utc, periods=hours, freq="h", tz="UTC")
    frame = pd.DataFrame({k: values[k] for k in WEATHER_COLUMNS if k in values}, index=index)
    frame.index.name = "time"
    frame.attrs.update(attrs)
    frame.attrs["source"] = str(path)
    frame.attrs["utc_offset_h"] = utc_offset_h
    frame.attrs["typical_year"] = True
    return frame


# --------------------------------------------------------------------------- plain CSV
def _load_plain_csv(path: Path, year: int | None) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise WeatherError(f"weather file {str(path)!r}: not a readable CSV file: {exc}") from exc
    for required in ("timestamp", AIR_TEMP):
        if required not in raw.columns:
            raise WeatherError(
                f"weather file {str(path)!r}: column {required!r} is missing; expected columns "
                f"'timestamp' (ISO 8601 with offset) and 'air_temp_c', got {list(raw.columns)}"
            )
    if raw.empty:
        raise WeatherError(f"weather file {str(path)!r}: no data rows")
    stamps = raw["timestamp"].astype(str).str.strip()
    offset_ok = stamps.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True)
    if not bool(offset_ok.all()):
        row = int(np.flatnonzero(~offset_ok.to_numpy())[0])
        raise WeatherError(
            f"weather file {str(path)!r}, row {row + 2}: timestamp {stamps.iloc[row]!r} has no UTC "
            "offset; expected ISO 8601 with an offset, e.g. 2025-01-01T00:00+01:00"
        )
    try:
        index = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise WeatherError(
            f"weather file {str(path)!r}: column 'timestamp': expected ISO 8601 times with an "
            f"offset: {exc}"
        ) from exc
    data: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for name in WEATHER_COLUMNS:
        if name not in raw.columns:
            continue
        values = pd.to_numeric(raw[name], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise WeatherError(
                f"weather file {str(path)!r}, row {row + 2} (line {row + 2}), column {name!r}: "
                f"expected a number, got {raw[name].iloc[row]!r}"
            )
        data[name] = values
    if RELATIVE_HUMIDITY in data:
        rh = data[RELATIVE_HUMIDITY]
        if bool(((rh < 0) | (rh > 1)).any()):
            row = int(np.flatnonzero((rh < 0) | (rh > 1))[0])
            raise WeatherError(
                f"weather file {str(path)!r}, row {row + 2}, column {RELATIVE_HUMIDITY!r}: "
                f"expected a fraction 0..1, got {float(rh[row]):g}"
            )
    frame = pd.DataFrame(data, index=index)
    frame.index.name = "time"
    source = str(path)
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        order = np.diff(frame.index.to_numpy(dtype="datetime64[ns]")).astype(np.int64)
        row = int(np.flatnonzero(order <= 0)[0]) + 1
        raise WeatherError(
            f"weather file {source!r}, row {row + 2}: timestamp {frame.index[row]} is not after "
            f"the previous one ({frame.index[row - 1]}); expected strictly increasing times"
        )
    if len(frame) < 2:
        raise WeatherError(f"weather file {source!r}: expected at least 2 rows, got {len(frame)}")
    step = frame.index[1] - frame.index[0]
    if step > _HOUR or (_HOUR % step) != pd.Timedelta(0):
        raise WeatherError(
            f"weather file {source!r}: expected hourly steps (or steps that divide an hour), "
            f"got a first step of {_fmt(step)}"
        )
    _check_regular(pd.DatetimeIndex(frame.index), source, step)
    if step < _HOUR:
        if frame.index[0] != frame.index[0].floor("h"):
            raise WeatherError(
                f"weather file {source!r}: sub-hourly data must start on a full hour to be "
                f"averaged to hours, got first timestamp {frame.index[0]}"
            )
        per_hour = int(_HOUR / step)
        if len(frame) % per_hour:
            raise WeatherError(
                f"weather file {source!r}: {len(frame)} rows of {_fmt(step)} do not make whole "
                f"hours (expected a multiple of {per_hour})"
            )
        frame = frame.resample("h").mean()
    if year is not None:
        selected = frame[pd.DatetimeIndex(frame.index).year == year]
        expected = 8784 if calendar.isleap(year) else 8760
        if len(selected) != expected:
            raise WeatherError(
                f"weather file {source!r}: expected the full UTC calendar year {year} "
                f"({expected} hourly rows), got {len(selected)}"
            )
        frame = selected.copy()
    frame.attrs["source"] = source
    frame.attrs["typical_year"] = False
    return frame


def _fmt(duration: pd.Timedelta) -> str:
    """A duration as '3 h', '15 min' or '30 s'."""
    seconds = duration / pd.Timedelta(seconds=1)
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _check_regular(index: pd.DatetimeIndex, source: str, step: pd.Timedelta) -> None:
    if len(index) < 2:
        return
    diffs = np.diff(index.to_numpy(dtype="datetime64[ns]")).astype(np.int64)
    bad = diffs != int(step / pd.Timedelta(1, unit="ns"))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        gap = pd.Timedelta(int(diffs[k]), unit="ns")
        raise WeatherError(
            f"weather {source!r}: irregular time stamps; expected a step of {_fmt(step)} "
            f"throughout, first gap after {index[k]} (row {k + 2}): next time stamp "
            f"{index[k + 1]} is {_fmt(gap)} later ({_fmt(gap - step)} missing)"
        )
