"""Weather readers (``heatreuse.weather.load_weather``).

See :mod:`heatreuse.weather.readers` for the sources, columns, time-stamp
convention and how typical years are re-stamped onto one calendar year.
"""

from heatreuse.weather.readers import (
    AIR_TEMP,
    DEFAULT_YEAR,
    GHI,
    RELATIVE_HUMIDITY,
    TRY_REGIONS,
    WEATHER_COLUMNS,
    WIND_SPEED,
    available_pvlib_files,
    check_full_year,
    load_weather,
    require_columns,
)

__all__ = [
    "AIR_TEMP",
    "DEFAULT_YEAR",
    "GHI",
    "RELATIVE_HUMIDITY",
    "TRY_REGIONS",
    "WEATHER_COLUMNS",
    "WIND_SPEED",
    "available_pvlib_files",
    "check_full_year",
    "load_weather",
    "require_columns",
]
