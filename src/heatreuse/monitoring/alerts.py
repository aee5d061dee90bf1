"""Alert identity and lifecycle: inactive -> pending -> firing -> resolved.

Semantics of Prometheus alerting rules: a condition that holds makes an alert
*pending*; once it has held for ``for_s`` the alert *fires*; when the condition no
longer holds a firing alert stays firing for ``keep_firing_for_s`` more and then
*resolves*, while a pending one simply goes away. An evaluation without data
(``condition=None``) changes nothing: a firing alert never resolves because its
inputs went silent (the stale-feed rule raises its own NoData alert for that).
Identity is the label set (site, system, equipment, rule, severity, and point where
the rule has one). Reference: Prometheus documentation, "Alerting rules"
(``for``, ``keep_firing_for``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

IDENTITY_LABELS = ("site", "system", "equipment", "rule", "severity")


class AlertState(StrEnum):
    """Where an alert is in its lifecycle."""

    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable identity of a label set: SHA-256 of its sorted JSON, 16 hex digits."""
    canon = json.dumps(sorted(labels.items()), ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode("ascii")).hexdigest()[:16]


@dataclass(frozen=True)
class Alert:
    """One alert instance (one label set during one active run).

    Parameters
    ----------
    labels
        The identity; ``site``, ``rule`` and ``severity`` at least.
    state
        Lifecycle state.
    active_at
        When the condition first held [UTC].
    started_at
        When it started firing [UTC]; ``None`` while pending.
    resolved_at
        When it resolved [UTC]; ``None`` until then.
    value
        The rule's observed value at the last evaluation that held (its unit is
        named in ``annotations['value_unit']``).
    annotations
        Human text: ``summary``, ``description``, ``value_unit``.
    """

    labels: Mapping[str, str]
    state: AlertState
    active_at: datetime
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    value: float | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Identity of the label set (see :func:`fingerprint`)."""
        return fingerprint(self.labels)

    @property
    def rule(self) -> str:
        """The rule that raised it."""
        return self.labels.get("rule", "")

    @property
    def severity(self) -> str:
        """``info``, ``warning`` or ``critical``."""
        return self.labels.get("severity", "")


@dataclass(frozen=True)
class Transition:
    """A change of one alert's state, at one time."""

    alert: Alert
    at: datetime
    to_state: AlertState | None
    """The new state; ``None`` when a pending alert went away without firing."""


@dataclass
class _Track:
    alert: Alert
    cleared_at: datetime | None = None
    """First evaluation at which the condition no longer held (Prometheus' KeepFiringSince)."""


class AlertTracker:
    """Turns a time-ordered stream of rule evaluations into alert transitions.

    One tracker holds the active (pending or firing) alerts of any number of rules;
    feed it evaluations in time order per label set.
    """

    def __init__(self) -> None:
        self._active: dict[str, _Track] = {}

    @property
    def active(self) -> list[Alert]:
        """Alerts now pending or firing."""
        return [t.alert for t in self._active.values()]

    def restore(self, alert: Alert, cleared_at: datetime | None = None) -> None:
        """Take over an active alert from an earlier run (``serve`` restart, ``detect`` rerun).

        ``cleared_at``: when the condition of a firing alert stopped holding (it is in
        its ``keep_firing_for``), as :meth:`cleared_at` returned it.
        """
        if alert.state is AlertState.RESOLVED:
            return
        self._active[alert.fingerprint] = _Track(alert, cleared_at)

    def cleared_at(self, fp: str) -> datetime | None:
        """When the condition of the active alert ``fp`` stopped holding, or ``None``."""
        track = self._active.get(fp)
        return None if track is None else track.cleared_at

    def next_change_at(
        self, labels: Mapping[str, str], *, for_s: float, keep_firing_for_s: float
    ) -> datetime | None:
        """When the state would change if the condition stays as it is [UTC], or ``None``.

        A pending alert fires at ``active_at + for_s``; a firing alert whose condition
        cleared resolves at ``cleared_at + keep_firing_for_s``.
        """
        track = self._active.get(fingerprint(labels))
        if track is None:
            return None
        a = track.alert
        if a.state is AlertState.PENDING:
            return a.active_at + timedelta(seconds=for_s)
        if track.cleared_at is not None:
            return track.cleared_at + timedelta(seconds=keep_firing_for_s)
        return None

    def observe(
        self,
        labels: Mapping[str, str],
        condition: bool | None,
        now: datetime,
        *,
        for_s: float = 0.0,
        keep_firing_for_s: float = 0.0,
        value: float | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> list[Transition]:
        """Apply one evaluation of one label set at ``now`` [UTC].

        Parameters
        ----------
        condition
            True when the fault condition holds, False when it does not, None when
            the rule had no data to decide (no change).
        for_s
            How long [s] the condition must hold before the alert fires.
        keep_firing_for_s
            How long [s] a firing alert stays firing after the condition cleared.
        """
        fp = fingerprint(labels)
        track = self._active.get(fp)
        out: list[Transition] = []
        if condition is None:
            return out
        if condition:
            if track is None:
                alert = Alert(
                    labels=dict(labels),
                    state=AlertState.PENDING,
                    active_at=now,
                    value=value,
                    annotations=dict(annotations or {}),
                )
                track = _Track(alert)
                self._active[fp] = track
                out.append(Transition(alert, now, AlertState.PENDING))
            else:
                track.cleared_at = None
                track.alert = replace(track.alert, value=value)
            a = track.alert
            if a.state is AlertState.PENDING and (now - a.active_at).total_seconds() >= for_s:
                track.alert = replace(a, state=AlertState.FIRING, started_at=now)
                out.append(Transition(track.alert, now, AlertState.FIRING))
            return out
        if track is None:
            return out
        a = track.alert
        if a.state is AlertState.PENDING:
            del self._active[fp]
            out.append(Transition(a, now, None))
            return out
        if track.cleared_at is None:
            track.cleared_at = now
        if (now - track.cleared_at).total_seconds() >= keep_firing_for_s:
            done = replace(a, state=AlertState.RESOLVED, resolved_at=now)
            del self._active[fp]
            out.append(Transition(done, now, AlertState.RESOLVED))
        return out
