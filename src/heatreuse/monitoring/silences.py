"""Silences and inhibition: what mutes an alert's notifications (never its state).

A silence mutes alerts whose labels match all its matchers while ``starts_at <= now
< ends_at``; announced maintenance windows become silences. An inhibition rule
mutes a *target* alert while a firing *source* alert exists whose ``equal`` labels
have the same values (site telemetry lost mutes that site's sensor alerts; a pump
trip mutes low flow and low delta-T). An alert never inhibits itself. Reference:
Prometheus Alertmanager, "Configuration" (``inhibit_rules``) and "Silences".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from heatreuse.errors import HeatreuseError
from heatreuse.monitoring.alerts import Alert, AlertState
from heatreuse.monitoring.matchers import Matcher, all_match, parse_matcher
from heatreuse.site.monitoring import InhibitConfig


@dataclass(frozen=True)
class Silence:
    """Mute matching alerts between two instants; who and why are part of it."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def __post_init__(self) -> None:
        if not self.matchers:
            raise HeatreuseError("silence: expected at least one matcher; got none")
        if self.ends_at <= self.starts_at:
            raise HeatreuseError(
                f"silence: expected ends_at after starts_at; got {self.starts_at.isoformat()}"
                f" .. {self.ends_at.isoformat()}"
            )
        if not self.created_by.strip():
            raise HeatreuseError("silence: expected an author (--by); got an empty name")
        if not self.comment.strip():
            raise HeatreuseError("silence: expected a comment saying why; got an empty one")

    @staticmethod
    def new(
        matchers: Iterable[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> Silence:
        """A silence with a fresh random id."""
        return Silence(
            uuid.uuid4().hex[:12], tuple(matchers), starts_at, ends_at, created_by, comment
        )

    @property
    def duration_s(self) -> float:
        """Length of the silence [s]."""
        return (self.ends_at - self.starts_at).total_seconds()

    def is_active(self, now: datetime) -> bool:
        """True while ``starts_at <= now < ends_at``."""
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """True when active and every matcher matches ``labels``."""
        return self.is_active(now) and all_match(self.matchers, labels)


@dataclass(frozen=True)
class InhibitRule:
    """A firing source alert mutes target alerts that share the ``equal`` labels."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ("site",)
    name: str = ""

    def inhibits(self, target: Mapping[str, str], firing: Iterable[Alert]) -> Alert | None:
        """The firing source alert that mutes ``target``, or ``None``."""
        if not all_match(self.target, target):
            return None
        for src in firing:
            if src.state is not AlertState.FIRING or dict(src.labels) == dict(target):
                continue
            if not all_match(self.source, src.labels):
                continue
            if all(src.labels.get(k, "") == target.get(k, "") for k in self.equal):
                return src
        return None


def inhibit_rules(configs: Iterable[InhibitConfig]) -> list[InhibitRule]:
    """The inhibition rules of a site file's ``monitoring.inhibit`` section."""
    return [
        InhibitRule(
            source=tuple(parse_matcher(m) for m in c.source),
            target=tuple(parse_matcher(m) for m in c.target),
            equal=tuple(c.equal),
            name=f"inhibit[{i}]",
        )
        for i, c in enumerate(configs)
    ]


def mute_reason(
    labels: Mapping[str, str],
    now: datetime,
    silences: Iterable[Silence],
    inhibit_rules: Iterable[InhibitRule],
    firing: Iterable[Alert],
) -> str | None:
    """Why an alert is muted now (``silenced by ID`` / ``inhibited by RULE``), or ``None``."""
    for s in silences:
        if s.mutes(labels, now):
            return f"silenced by {s.id}"
    firing = list(firing)
    for rule in inhibit_rules:
        src = rule.inhibits(labels, firing)
        if src is not None:
            return f"inhibited by {src.rule or rule.name} ({src.fingerprint})"
    return None
