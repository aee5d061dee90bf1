"""The drill scenarios' catalogue: names, default duration and severity, one-line meaning.

Plain data without pandas or numpy, so that ``heatreuse --help`` can list the
names without loading the engine. Parsing scenario text and turning scenarios
into faults is :mod:`heatreuse.simulation.scenarios` (which re-exports these).
"""

from __future__ import annotations

#: Scenario names, in the order of the standard drill set.
SCENARIO_NAMES: tuple[str, ...] = (
    "pump_failure",
    "hx_fouling",
    "sensor_false_low",
    "sensor_drift",
    "customer_disconnect",
    "compute_trip",
    "compute_surge",
    "utility_feed_loss",
    "reject_path_unavailable",
)

#: Default duration [s] and severity text of each scenario.
SCENARIO_DEFAULTS: dict[str, tuple[float, str]] = {
    "pump_failure": (5 * 3600.0, "primary/0"),
    "hx_fouling": (3 * 86400.0, "0.4"),
    "sensor_false_low": (6 * 3600.0, "5"),
    "sensor_drift": (3 * 86400.0, "2"),
    "customer_disconnect": (8 * 3600.0, ""),
    "compute_trip": (4 * 3600.0, "0"),
    "compute_surge": (6 * 3600.0, "1.3"),
    "utility_feed_loss": (2 * 3600.0, ""),
    "reject_path_unavailable": (24 * 3600.0, ""),
}

#: What each scenario means, one line (for reports and ``--help``).
SCENARIO_DESCRIPTIONS: dict[str, str] = {
    "pump_failure": "a circulation pump trips or runs on a fraction of its curve",
    "hx_fouling": "heat-exchanger UA falls over days to a fraction of clean",
    "sensor_false_low": "the controller's supply sensor reads low by a fixed offset",
    "sensor_drift": "the controller's supply sensor drifts low at K/day",
    "customer_disconnect": "the heat customer stops taking heat",
    "compute_trip": "IT load drops to zero (or a fraction)",
    "compute_surge": "IT load rises above its profile",
    "utility_feed_loss": "site power lost: compute and pumps stop",
    "reject_path_unavailable": "the dry cooler is out of service",
}
