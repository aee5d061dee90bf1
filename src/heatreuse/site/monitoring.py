"""The ``monitoring:`` section of a site file: fault-rule parameters, routing, receivers.

Every field has a default taken from the standard sensor package and the design
notes of the fault rules (heatreuse docs, "Fault detection"; operations.md H1-H10),
so a site file without the section is monitored with sensible parameters. Durations
are seconds (``*_s``), temperatures differences kelvin (``*_k``), fractions 0..1.
"""

# No ``from __future__ import annotations`` here: pydantic would then compile and evaluate
# every field annotation from its string when the classes are made, about a quarter of
# the time ``heatreuse validate`` spends making the site models (issue 16).

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from heatreuse.site.base import SiteModel

Severity = Literal["info", "warning", "critical"]
_Pos = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
_NonNeg = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
_Frac = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class _Model(SiteModel):
    """Frozen, no unknown fields; numbers finite and plausible (:mod:`heatreuse.site.base`)."""


class _Rule(_Model):
    enabled: bool = True
    """Evaluate this rule."""
    severity: Severity = "warning"
    """Severity of its alerts: `info`, `warning` or `critical`."""
    for_s: _NonNeg = 0.0
    """How long the condition must hold before the alert fires."""
    keep_firing_for_s: _NonNeg = 0.0
    """How long a firing alert stays firing after the condition cleared."""


class StaleFeedRule(_Rule):
    """H3: a point silent for ``factor`` x its sample interval is NoData (never OK)."""

    factor: _Pos = 3.0
    """A point is stale after this many sample intervals without a reading."""
    telemetry_lost_severity: Severity = "critical"
    """Severity of `telemetry_lost` (every point stale)."""


class SpikeRule(_Rule):
    """H2: a minute that jumps away from both neighbours by more than physics allows."""

    temp_step_k: _Pos = 5.0
    """Largest jump a temperature may make away from both neighbouring minutes."""
    flow_step_fraction: _Pos = 0.5
    """Largest jump of a flow, as a fraction of the reading (reserved)."""
    for_s: _NonNeg = 0.0
    """How long the condition must hold before the alert fires."""
    keep_firing_for_s: _NonNeg = 900.0
    """How long a firing alert stays firing after the condition cleared."""


class StuckSensorRule(_Rule):
    """H1: a temperature whose max - min stays below ``min_spread_k`` for a window."""

    window_s: _Pos = 3600.0
    """Window the rule looks at."""
    min_spread_k: _Pos = 0.05
    """A temperature whose max - min stays below this over the window is stuck."""


class MeterBalanceRule(_Rule):
    """H4: rho cp V dT against the meter's power; the register against its power."""

    window_s: _Pos = 3600.0
    """Window the rule looks at."""
    max_residual_fraction: _Pos = 0.05
    """Largest relative difference of the meter's power from k V dT."""
    min_flow_fraction: _Frac = 0.1
    """Only while the flow is above this fraction of the rated flow."""
    register_max_residual_fraction: _Pos = 0.03
    """Largest relative difference of the 24 h register increase from its power integral."""


class SensorPair(_Model):
    """Two sensors on the same pipe, expected to differ by ``expected_offset_k``."""

    a: str
    """Point id of the sensor checked (e.g. the meter's)."""
    b: str
    """Point id of the reference sensor on the same pipe."""
    expected_offset_k: float = Field(0.0, allow_inf_nan=False)
    gate_off: tuple[str, ...] = ("boiler.status",)
    """Status points that must be 0 for the pair to be compared (heat added between)."""


class SensorDriftRule(_Rule):
    """H5: EWMA of the difference of a sensor pair beyond ``max_offset_k``."""

    pairs: tuple[SensorPair, ...] = (
        SensorPair(a="meter.supply_temp_c", b="customer.supply_temp_c"),
    )
    ewma_span_s: _Pos = 1800.0
    """Averaging window of the difference."""
    max_offset_k: _Pos = 1.0
    """Largest mean difference before the pair counts as drifted."""
    for_s: _NonNeg = 900.0
    """How long the condition must hold before the alert fires."""


class HxFoulingRule(_Rule):
    """H6: flow-normalised UA (UA ~ mdot^0.8) below a fraction of the baseline."""

    baseline_ua_w_per_k: _Pos | None = None
    """Commissioning baseline; ``None``: the plant's design ``heat_exchanger.ua_w_per_k``."""
    flow_exponent: _NonNeg = 0.8
    """UA ~ (volume flow)^exponent (Dittus-Boelter: 0.8); 0 for a flow-independent UA."""
    min_ua_fraction: _Frac = 0.8
    window_s: _Pos = 6 * 3600.0
    """Window the rule looks at."""
    min_heat_fraction: _Frac = 0.2
    """Only while the HX carries at least this fraction of the IT nameplate."""


class LowDeltaTRule(_Rule):
    """H7: customer pump on and supply - return below ``min_delta_t_k``."""

    min_delta_t_k: _Pos = 3.0
    """Supply - return below this with the pump on is low delta-T."""
    for_s: _NonNeg = 900.0
    """How long the condition must hold before the alert fires."""


class PumpDegradationRule(_Rule):
    """H8: power / (rated power x speed^3) (affinity laws) off 1 by more than a margin."""

    max_power_ratio: _Pos = 1.25
    """Highest P / (P_rated n^3) before the pump counts as degraded."""
    min_power_ratio: _Pos = 0.75
    """Lowest P / (P_rated n^3) before the pump counts as degraded."""
    window_s: _Pos = 6 * 3600.0
    """Window the rule looks at."""
    min_speed_fraction: _Frac = 0.3
    """Only while the pump runs above this speed fraction."""


class CommandFaultRule(_Rule):
    """H9: status against flow (a pump on without flow, off with flow) and hunting."""

    no_flow_fraction: _Frac = 0.02
    """A running pump with flow below this fraction of its rated flow has no flow."""
    for_s: _NonNeg = 300.0
    """How long the condition must hold before the alert fires."""
    max_switches_per_h: _Pos = 6.0
    """More status changes per hour than this is hunting."""


class ItOtBalanceRule(_Rule):
    """H10: recovered + rejected heat against IT power x capture fraction."""

    window_s: _Pos = 7200.0
    """Window the rule looks at."""
    min_ratio: _Pos = 0.7
    """Lowest (recovered + rejected heat) / (IT power x capture fraction)."""
    max_ratio: _Pos = 1.3
    """Highest (recovered + rejected heat) / (IT power x capture fraction)."""
    min_it_fraction: _Frac = 0.2
    """Only while IT power is above this fraction of the nameplate."""


class UtilityFeedRule(_Rule):
    """Site feed lost (critical at once) and flapping; IT power dropping to zero."""

    severity: Severity = "critical"
    """Severity of its alerts."""
    flapping_changes_per_h: _Pos = 3.0
    """This many feed changes per hour or more is flapping."""
    compute_trip_fraction: _Frac = 0.05
    """IT power below this fraction of the nameplate with the feed on is a compute trip."""


class SlaLadderStep(_Model):
    """One rung of the per-event interruption ladder."""

    after_s: _Pos
    """Length of the out-of-band run at which this rung fires."""
    severity: Severity
    """Severity of the rung's alert."""
    note: str = ""
    """Who acts at this rung."""


class SlaInterruptionRule(_Rule):
    """The per-event interruption ladder (operations.md, Heat-delivery SLA)."""

    ladder: tuple[SlaLadderStep, ...] = (
        SlaLadderStep(after_s=900, severity="info", note="operator"),
        SlaLadderStep(after_s=3600, severity="warning", note="facilities"),
        SlaLadderStep(after_s=7200, severity="critical", note="page and customer notice"),
        SlaLadderStep(after_s=10800, severity="critical", note="breach imminent"),
        SlaLadderStep(after_s=14400, severity="critical", note="breach recorded"),
    )


class SlaBurnRateRule(_Rule):
    """Multiwindow burn-rate alerts (SRE Workbook ch. 5): page and ticket."""

    severity: Severity = "critical"
    """Severity of its alerts."""
    ticket_severity: Severity = "warning"
    """Severity of the slow-burn (ticket) alert."""


class MonitoringRules(_Model):
    """Parameters of every fault rule (each can be switched off with ``enabled: false``)."""

    stale_feed: StaleFeedRule = StaleFeedRule()
    """Rule `stale_feed` (see heatreuse.monitoring.rules)."""
    spike: SpikeRule = SpikeRule()
    """Rule `spike` (see heatreuse.monitoring.rules)."""
    stuck_sensor: StuckSensorRule = StuckSensorRule()
    """Rule `stuck_sensor` (see heatreuse.monitoring.rules)."""
    meter_balance: MeterBalanceRule = MeterBalanceRule()
    """Rule `meter_balance` (see heatreuse.monitoring.rules)."""
    sensor_drift: SensorDriftRule = SensorDriftRule()
    """Rule `sensor_drift` (see heatreuse.monitoring.rules)."""
    hx_fouling: HxFoulingRule = HxFoulingRule()
    """Rule `hx_fouling` (see heatreuse.monitoring.rules)."""
    low_delta_t: LowDeltaTRule = LowDeltaTRule()
    """Rule `low_delta_t` (see heatreuse.monitoring.rules)."""
    pump_degradation: PumpDegradationRule = PumpDegradationRule()
    """Rule `pump_degradation` (see heatreuse.monitoring.rules)."""
    command_fault: CommandFaultRule = CommandFaultRule()
    """Rule `command_fault` (see heatreuse.monitoring.rules)."""
    it_ot_balance: ItOtBalanceRule = ItOtBalanceRule()
    """Rule `it_ot_balance` (see heatreuse.monitoring.rules)."""
    utility_feed: UtilityFeedRule = UtilityFeedRule()
    """Rule `utility_feed` (see heatreuse.monitoring.rules)."""
    sla_interruption: SlaInterruptionRule = SlaInterruptionRule()
    """Rule `sla_interruption` (see heatreuse.monitoring.rules)."""
    sla_burn_rate: SlaBurnRateRule = SlaBurnRateRule()
    """Rule `sla_burn_rate` (see heatreuse.monitoring.rules)."""


class Receiver(_Model):
    """Where notifications go: exactly one of webhook, email, mqtt, alertmanager."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    """Name the routing tree refers to."""
    webhook_url: str | None = None
    """POST the Alertmanager webhook payload (version 4) here."""
    email_to: tuple[str, ...] = ()
    """Person ids of ``ownership.people`` or addresses."""
    smtp: str | None = None
    """``HOST:PORT`` of the site's SMTP relay."""
    email_from: str = "heatreuse@localhost"
    """Sender address of the e-mails."""
    mqtt: str | None = None
    """``HOST:PORT/TOPIC``."""
    alertmanager_url: str | None = None
    """Base URL of an existing Prometheus Alertmanager (API v2)."""

    @model_validator(mode="after")
    def _one_kind(self) -> "Receiver":
        kinds = [
            k
            for k, v in (
                ("webhook_url", self.webhook_url),
                ("email_to", self.email_to),
                ("mqtt", self.mqtt),
                ("alertmanager_url", self.alertmanager_url),
            )
            if v
        ]
        if len(kinds) != 1:
            raise ValueError(
                "expected exactly one of webhook_url, email_to, mqtt, alertmanager_url; "
                f"got {kinds or 'none'}"
            )
        if self.email_to and not self.smtp:
            raise ValueError("email_to needs smtp: HOST:PORT of the site's relay")
        return self


class InhibitConfig(_Model):
    """A firing source alert mutes targets that share the ``equal`` labels."""

    source: tuple[str, ...]
    """Matchers of the alert that mutes (`rule=telemetry_lost`)."""
    target: tuple[str, ...]
    """Matchers of the alerts it mutes."""
    equal: tuple[str, ...] = ("site",)
    """Labels that must be equal on both."""


class Monitoring(_Model):
    """Fault rules, gating, routing, inhibition, receivers and escalation of one site."""

    rules: MonitoringRules = MonitoringRules()
    """Parameters of every fault rule."""
    mode_change_quiet_s: _NonNeg = 1800.0
    """Rules that compare against steady state wait this long after a pump or mode change."""
    route: dict[str, Any] | None = None
    """Alertmanager-style routing tree; ``None``: one route per RACI alarm route."""
    inhibit: tuple[InhibitConfig, ...] = (
        InhibitConfig(source=("rule=telemetry_lost",), target=("rule!=telemetry_lost",)),
        InhibitConfig(
            source=("rule=command_fault",),
            target=("rule=~low_delta_t|meter_balance|it_ot_balance",),
        ),
        InhibitConfig(
            source=("rule=utility_feed",),
            target=("rule=~compute_trip|command_fault|low_delta_t|it_ot_balance",),
        ),
    )
    receivers: tuple[Receiver, ...] = ()
    """Where notifications go (none: alerts are recorded and logged only)."""
    escalation_second_after_s: _Pos = 900.0
    """When the second escalation step pages (plant accountable)."""
    escalation_third_after_s: _Pos = 3600.0
    """When the third escalation step pages (design accountable)."""
    escalation_loops: Annotated[int, Field(ge=0, le=10)] = 1
    """How often the ladder repeats until acknowledged."""
