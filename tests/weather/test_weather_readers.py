"""Weather readers against the real typical-year files shipped in pvlib and demandlib."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatreuse.errors import WeatherError
from heatreuse.physics import heating_degree_days
from heatreuse.weather import (
    WEATHER_COLUMNS,
    available_pvlib_files,
    check_full_year,
    load_weather,
    require_columns,
)


def _daily_means_lst(weather: pd.DataFrame) -> np.ndarray:
    """Daily means over local-standard-time days of a typical year."""
    local = weather["air_temp_c"].copy()
    local.index = local.index + pd.Timedelta(hours=weather.attrs["utc_offset_h"])
    return local.resample("D").mean().to_numpy()


# --------------------------------------------------------------------------- real files
def test_greensboro_tmy3_shape_and_time_stamps() -> None:
    w = load_weather("pvlib:723170TYA.CSV")
    assert len(w) == 8760
    assert str(w.index.tz) == "UTC"
    # Row 0 is 00:00-01:00 local standard time (UTC-5) on 1 Jan of the default year.
    assert w.index[0] == pd.Timestamp("2025-01-01 05:00", tz="UTC")
    assert (np.diff(w.index.asi8) == np.diff(w.index.asi8)[0]).all()
    assert list(w.columns) == list(WEATHER_COLUMNS)
    assert w.attrs["station"] == "GREENSBORO PIEDMONT TRIAD INT"
    assert w.attrs["utc_offset_h"] == -5.0
    assert w["relative_humidity_fraction"].between(0.0, 1.0).all()
    assert (w["ghi_w_per_m2"] >= 0).all()
    # Same first row as the file: 10.0 C dry bulb, 77 % RH, 6.2 m/s (723170TYA.CSV line 3).
    first = w.iloc[0]
    assert first["air_temp_c"] == pytest.approx(10.0)
    assert first["relative_humidity_fraction"] == pytest.approx(0.77)
    assert first["wind_speed_m_per_s"] == pytest.approx(6.2)


def test_greensboro_climate_plausible() -> None:
    # NOAA NCEI U.S. Climate Normals (1991-2020), Greensboro Piedmont Triad Intl Airport:
    # annual mean temperature about 59 F (15 C), heating degree days (base 65 F) about
    # 3,500 F-days. TMY3 data are 1976-2005 typical months, so bands are wide.
    w = load_weather("pvlib:723170TYA.CSV")
    assert 13.5 <= w["air_temp_c"].mean() <= 16.0
    daily = _daily_means_lst(w)
    hdd_f = np.maximum(65.0 - (daily * 9.0 / 5.0 + 32.0), 0.0).sum()
    assert 3000.0 <= hdd_f <= 4500.0
    # Eurostat-rule HDD is smaller (threshold 15 C) but of the same order.
    assert 1500.0 <= heating_degree_days(daily).sum() <= hdd_f * 5.0 / 9.0


def test_other_pvlib_files_and_tmy2() -> None:
    names = available_pvlib_files()
    assert {"723170TYA.CSV", "703165TY.csv", "12839.tm2"} <= set(names)
    sand_point = load_weather("pvlib:703165TY.csv")
    # Sand Point, Alaska: cool maritime, annual mean about 4 C (NOAA normals ~40 F).
    assert 2.0 <= sand_point["air_temp_c"].mean() <= 6.0
    assert sand_point.index[0] == pd.Timestamp("2025-01-01 09:00", tz="UTC")
    miami = load_weather("pvlib:12839.tm2")
    # Miami: annual mean about 25 C (NOAA normals 1991-2020: 77.2 F).
    assert 23.5 <= miami["air_temp_c"].mean() <= 26.0
    assert len(miami) == 8760 and miami.index[0] == pd.Timestamp("2025-01-01 05:00", tz="UTC")
    assert set(miami.columns) == set(WEATHER_COLUMNS)


def test_pvlib_name_is_case_insensitive() -> None:
    assert len(load_weather("pvlib:723170tya.csv")) == 8760


def test_dwd_try_region_4_potsdam() -> None:
    w = load_weather("dwd-try:04")
    assert w.attrs["station"] == "Potsdam"
    # TRY hours are MEZ (UTC+1): 00:00-01:00 MEZ on 1 Jan 2025 is 23:00 UTC the day before.
    assert w.index[0] == pd.Timestamp("2024-12-31 23:00", tz="UTC")
    assert len(w) == 8760
    # DWD: Potsdam annual mean 8.7 C (1961-1990) and 9.9 C (1991-2020); the TRY 2010 mean
    # year is built from 1988-2007 (DWD/BBR 2011), so about 9-10 C.
    assert 9.0 <= w["air_temp_c"].mean() <= 10.0
    # Eurostat HDD for Germany average roughly 3,000-3,300 K d a year (Eurostat nrg_chdd_a).
    hdd = heating_degree_days(_daily_means_lst(w)).sum()
    assert 2700.0 <= hdd <= 3600.0
    # GHI = direct + diffuse on the horizontal: first data row at night is 0.
    assert w["ghi_w_per_m2"].iloc[0] == 0.0
    assert w["ghi_w_per_m2"].max() > 700.0
    assert w["air_temp_c"].iloc[0] == pytest.approx(-2.6)  # first data row of the file


def test_leap_target_year_gets_feb_29_copied_from_feb_28() -> None:
    w = load_weather("dwd-try:04", year=2024)
    assert len(w) == 8784
    check_full_year(w)
    lst = w["air_temp_c"].copy()
    lst.index = lst.index + pd.Timedelta(hours=1)
    feb28 = lst["2024-02-28"].to_numpy()
    feb29 = lst["2024-02-29"].to_numpy()
    np.testing.assert_array_equal(feb28, feb29)
    assert lst["2024-03-01"].to_numpy()[0] == load_weather("dwd-try:04")["air_temp_c"].iloc[59 * 24]


# --------------------------------------------------------------------------- user files
def _write_epw(path: Path, n_rows: int = 8760, tz: float = 1.0, start: str = "2005-01-01") -> None:
    header = [
        f"LOCATION,Testville,XX,DEU,Test,000000,52.4,13.1,{tz},35.0",
        "DESIGN CONDITIONS,0",
        "TYPICAL/EXTREME PERIODS,0",
        "GROUND TEMPERATURES,0",
        "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0",
        "COMMENTS 1,synthetic",
        "COMMENTS 2,synthetic",
        "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
    ]
    stamps = pd.date_range(start, periods=max(n_rows, 8760), freq="h")[:n_rows]
    lines = []
    for k, ts in enumerate(stamps):
        temp = 10.0 + 10.0 * np.sin(2 * np.pi * k / 8760)
        fields = [
            ts.year,
            ts.month,
            ts.day,
            ts.hour + 1,
            60,
            "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9?9?9",
        ]
        fields += [f"{temp:.1f}", "5.0", "70", "101325", "0", "0", "300", "100", "50", "50"]
        fields += ["0", "0", "0", "0", "180", "3.0", "5", "5", "20000", "77777", "9", "999999999"]
        fields += ["0", "0.1", "0", "88", "0", "1.0", "1"]
        lines.append(",".join(str(f) for f in fields))
    path.write_text("\n".join(header + lines) + "\n")


def test_epw_file_relative_to_base_dir(tmp_path: Path) -> None:
    _write_epw(tmp_path / "site.epw")
    w = load_weather("site.epw", base_dir=tmp_path)
    assert len(w) == 8760
    assert w.index[0] == pd.Timestamp("2024-12-31 23:00", tz="UTC")  # UTC+1 in the header
    assert w["air_temp_c"].iloc[0] == pytest.approx(10.0)
    assert w["wind_speed_m_per_s"].iloc[0] == pytest.approx(3.0)
    assert w["ghi_w_per_m2"].iloc[0] == pytest.approx(100.0)
    assert w["relative_humidity_fraction"].iloc[0] == pytest.approx(0.70)


def test_leap_epw_loses_feb_29_for_a_non_leap_year(tmp_path: Path) -> None:
    _write_epw(tmp_path / "leap.epw", n_rows=8784, start="2004-01-01")
    w = load_weather(str(tmp_path / "leap.epw"), year=2025)
    assert len(w) == 8760
    # Row 60*24 of the file (Mar 1 00:00) follows Feb 28 23:00 directly.
    expected = 10.0 + 10.0 * np.sin(2 * np.pi * (60 * 24) / 8760)
    assert w["air_temp_c"].iloc[59 * 24] == pytest.approx(round(expected, 1))


def test_tmy3_by_path(tmp_path: Path) -> None:
    import shutil

    from heatreuse.weather.readers import _pvlib_data_dir

    shutil.copy(_pvlib_data_dir() / "703165TY.csv", tmp_path / "sandpoint.csv")
    w = load_weather("sandpoint.csv", base_dir=tmp_path, year=2030)
    assert w.index[0] == pd.Timestamp("2030-01-01 09:00", tz="UTC")
    assert w.attrs["station"] == "SAND POINT"


def test_epw_wrong_length(tmp_path: Path) -> None:
    _write_epw(tmp_path / "short.epw", n_rows=100)
    with pytest.raises(WeatherError, match=r"short\.epw.*8760.*got 100"):
        load_weather(str(tmp_path / "short.epw"))


def _write_csv(path: Path, rows: list[str], header: str = "timestamp,air_temp_c") -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_plain_csv_hourly(tmp_path: Path) -> None:
    rows = [f"2025-03-01T{h:02d}:00+01:00,{h / 2:.1f},0.5" for h in range(24)]
    p = _write_csv(tmp_path / "w.csv", rows, "timestamp,air_temp_c,relative_humidity_fraction")
    w = load_weather(str(p))
    assert len(w) == 24
    assert w.index[0] == pd.Timestamp("2025-02-28 23:00", tz="UTC")
    assert list(w.columns) == ["air_temp_c", "relative_humidity_fraction"]
    assert w.attrs["typical_year"] is False


def test_plain_csv_sub_hourly_is_averaged(tmp_path: Path) -> None:
    rows = [f"2025-03-01T00:{m:02d}:00Z,{m}" for m in (0, 15, 30, 45)]
    rows += [f"2025-03-01T01:{m:02d}:00Z,{m + 100}" for m in (0, 15, 30, 45)]
    w = load_weather(str(_write_csv(tmp_path / "q.csv", rows)))
    assert len(w) == 2
    assert w["air_temp_c"].tolist() == [22.5, 122.5]


def test_plain_csv_full_year_selected(tmp_path: Path) -> None:
    stamps = pd.date_range("2024-12-31 22:00", "2026-01-01 02:00", freq="h", tz="UTC")
    rows = [f"{ts.isoformat()},{5.0}" for ts in stamps]
    w = load_weather(str(_write_csv(tmp_path / "y.csv", rows)), year=2025)
    assert len(w) == 8760
    check_full_year(w)


# --------------------------------------------------------------------------- errors
def test_unknown_pvlib_file_lists_available() -> None:
    with pytest.raises(WeatherError, match=r"nosuch\.csv.*available: .*723170TYA\.CSV"):
        load_weather("pvlib:nosuch.csv")


@pytest.mark.parametrize("region", ["16", "00", "xx", ""])
def test_unknown_try_region(region: str) -> None:
    with pytest.raises(WeatherError, match=r"unknown DWD TRY region.*01\.\.15"):
        load_weather(f"dwd-try:{region}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeatherError, match=r"nothere\.epw.*does not exist"):
        load_weather("nothere.epw", base_dir=tmp_path)


def test_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(WeatherError, match=r"unknown format '\.txt'"):
        load_weather(str(tmp_path / "w.txt"))


def test_csv_missing_column(tmp_path: Path) -> None:
    p = _write_csv(tmp_path / "m.csv", ["2025-01-01T00:00Z,1"], "timestamp,temp")
    with pytest.raises(WeatherError, match=r"m\.csv.*column 'air_temp_c' is missing"):
        load_weather(str(p))


def test_csv_non_numeric_value_names_row(tmp_path: Path) -> None:
    rows = ["2025-01-01T00:00Z,1", "2025-01-01T01:00Z,warm", "2025-01-01T02:00Z,3"]
    with pytest.raises(WeatherError, match=r"row 3.*'air_temp_c'.*got 'warm'"):
        load_weather(str(_write_csv(tmp_path / "n.csv", rows)))


def test_csv_gap_names_first_gap_and_length(tmp_path: Path) -> None:
    rows = [f"2025-01-01T{h:02d}:00Z,1" for h in (0, 1, 2, 5, 6)]
    with pytest.raises(
        WeatherError, match=r"first gap after 2025-01-01 02:00:00\+00:00.*3 h later \(2 h missing\)"
    ):
        load_weather(str(_write_csv(tmp_path / "g.csv", rows)))


def test_csv_without_offset(tmp_path: Path) -> None:
    rows = ["2025-01-01T00:00+01:00,1", "2025-01-01T01:00,2"]
    with pytest.raises(WeatherError, match=r"row 3.*no UTC offset"):
        load_weather(str(_write_csv(tmp_path / "o.csv", rows)))


def test_csv_not_increasing(tmp_path: Path) -> None:
    rows = ["2025-01-01T01:00Z,1", "2025-01-01T00:00Z,2"]
    with pytest.raises(WeatherError, match=r"not after the previous one"):
        load_weather(str(_write_csv(tmp_path / "d.csv", rows)))


def test_csv_wrong_length_for_year(tmp_path: Path) -> None:
    rows = [f"2025-01-01T{h:02d}:00Z,1" for h in range(24)]
    with pytest.raises(WeatherError, match=r"full UTC calendar year 2025 \(8760.*got 24"):
        load_weather(str(_write_csv(tmp_path / "s.csv", rows)), year=2025)


def test_csv_step_longer_than_an_hour(tmp_path: Path) -> None:
    rows = [f"2025-01-01T{h:02d}:00Z,1" for h in (0, 3, 6)]
    with pytest.raises(WeatherError, match=r"expected hourly steps.*3 h"):
        load_weather(str(_write_csv(tmp_path / "t.csv", rows)))


def test_csv_humidity_out_of_range(tmp_path: Path) -> None:
    rows = ["2025-01-01T00:00Z,1,55", "2025-01-01T01:00Z,1,0.5"]
    p = _write_csv(tmp_path / "h.csv", rows, "timestamp,air_temp_c,relative_humidity_fraction")
    with pytest.raises(WeatherError, match=r"row 2.*fraction 0\.\.1, got 55"):
        load_weather(str(p))


def test_require_columns_and_full_year_messages(tmp_path: Path) -> None:
    rows = [f"2025-01-01T{h:02d}:00Z,1" for h in range(24)]
    w = load_weather(str(_write_csv(tmp_path / "r.csv", rows)))
    with pytest.raises(WeatherError, match=r"no column\(s\) \['ghi_w_per_m2'\] needed by pool"):
        require_columns(w, ["ghi_w_per_m2"], "pool")
    with pytest.raises(WeatherError, match=r"expected a full year.*got 24"):
        check_full_year(w)
