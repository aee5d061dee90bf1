"""Telemetry: point registry, validation and quarantine pipeline, file and HTTP ingest.

* :mod:`heatreuse.telemetry.registry` -- :class:`PointRegistry`: canonical
  points and the source keys (MQTT topic, Modbus register, file column) that
  map to them.
* :mod:`heatreuse.telemetry.validate` -- :class:`Ingestor`: the one pipeline
  every adapter feeds (:class:`RawReading` or columnar :class:`ReadingBatch`),
  with counters and quarantine reasons :data:`REASONS`.
* :mod:`heatreuse.telemetry.files` -- CSV/Parquet readings files (long and
  wide format; the format is documented there).
* :mod:`heatreuse.telemetry.http` -- the HTTP push endpoint
  (:func:`create_ingest_app`, :func:`ingest_router`); imported on demand.
* :mod:`heatreuse.telemetry.brick` -- Brick Turtle export; imported on demand.

Adapters (mqtt, modbus, http, files) never import each other; services wire them.
"""

from heatreuse.telemetry.registry import PointRegistry
from heatreuse.telemetry.validate import (
    REASONS,
    IngestCounters,
    Ingestor,
    IngestResult,
    QuarantineRecord,
    RawReading,
    ReadingBatch,
    format_ts_us,
    parse_timestamp_us,
)

__all__ = [
    "REASONS",
    "IngestCounters",
    "IngestResult",
    "Ingestor",
    "PointRegistry",
    "QuarantineRecord",
    "RawReading",
    "ReadingBatch",
    "format_ts_us",
    "parse_timestamp_us",
]
