"""Escalation policies from the site's RACI: ordered steps, delays, acknowledge, loops.

A policy is a ladder of steps, each naming people (person ids of
``ownership.people``) and a delay from the start of the incident. Until someone
acknowledges, each step pages its people when its delay has passed; after the
last step the ladder starts again ``loops`` more times, shifted by the ladder's
length. Acknowledge stops further steps, resolve ends the escalation. No
maintained open-source escalation engine exists to reuse (operations.md, Alerts);
the semantics follow common on-call tools (PagerDuty-style escalation rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from heatreuse.errors import HeatreuseError
from heatreuse.monitoring.matchers import all_match, matchers_from_mapping

if TYPE_CHECKING:
    from heatreuse.site.model import Ownership


@dataclass(frozen=True)
class EscalationStep:
    """Page ``targets`` (person ids) ``after_s`` seconds after the incident started."""

    after_s: float
    targets: tuple[str, ...]
    role: str = ""
    """What the step stands for in the RACI (``alarm receivers``, ...)."""


@dataclass(frozen=True)
class EscalationPolicy:
    """An ordered ladder of steps, run ``1 + loops`` times until acknowledged."""

    steps: tuple[EscalationStep, ...]
    loops: int = 0

    def __post_init__(self) -> None:
        if not self.steps:
            raise HeatreuseError("escalation policy: expected at least one step; got none")
        delays = [s.after_s for s in self.steps]
        if delays != sorted(delays) or delays[0] < 0:
            raise HeatreuseError(
                f"escalation policy: expected step delays ascending from >= 0 s; got {delays}"
            )
        if self.loops < 0:
            raise HeatreuseError(f"escalation policy: expected loops >= 0; got {self.loops}")

    @property
    def ladder_s(self) -> float:
        """Length of one pass [s]: the last step's delay plus the first gap (>= 15 min)."""
        gap = self.steps[1].after_s - self.steps[0].after_s if len(self.steps) > 1 else 900.0
        return self.steps[-1].after_s + max(gap, 900.0)


@dataclass(frozen=True)
class Page:
    """One escalation step carried out: whom it paged and when."""

    step_index: int
    loop: int
    targets: tuple[str, ...]
    role: str
    at: datetime


def policy_from_raci(
    ownership: Ownership,
    labels: Mapping[str, str],
    *,
    second_after_s: float = 900.0,
    third_after_s: float = 3600.0,
    loops: int = 1,
) -> EscalationPolicy:
    """The default ladder for an alert with ``labels`` from the site's RACI.

    Step 1 (at once): the receivers of every ``ownership.alarms`` route whose
    ``match`` matches the labels. Step 2: who is accountable for the plant's
    maintenance and who may override automation (``maintenance_signoff.accountable``,
    ``automation_override.responsible``). Step 3: who is accountable for design
    changes (``design_change.accountable``). People already paged are not repeated.
    """
    first: list[str] = []
    for route in ownership.alarms:
        if all_match(matchers_from_mapping(route.match), labels):
            first += [p for p in route.receivers if p not in first]
    if not first:
        first = list(ownership.maintenance_signoff.responsible)
    plant = [ownership.maintenance_signoff.accountable, *ownership.automation_override.responsible]
    second = list(dict.fromkeys(p for p in plant if p not in first))
    third = [p for p in [ownership.design_change.accountable] if p not in first + second]
    steps = [EscalationStep(0.0, tuple(first), "alarm receivers")]
    if second:
        steps.append(EscalationStep(second_after_s, tuple(second), "plant accountable"))
    if third:
        steps.append(EscalationStep(third_after_s, tuple(third), "design accountable"))
    return EscalationPolicy(tuple(steps), loops=loops)


class Escalation:
    """The escalation state of one incident under one policy (injectable clock)."""

    def __init__(self, policy: EscalationPolicy, started_at: datetime) -> None:
        self.policy = policy
        self.started_at = started_at
        self.acked_by: str | None = None
        self.acked_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self._done: set[tuple[int, int]] = set()

    @property
    def open(self) -> bool:
        """True while neither acknowledged nor resolved."""
        return self.acked_at is None and self.resolved_at is None

    def ack(self, by: str, at: datetime) -> None:
        """Someone took it: no further steps."""
        if self.acked_at is None:
            self.acked_by, self.acked_at = by, at

    def resolve(self, at: datetime) -> None:
        """The condition cleared: the escalation ends."""
        if self.resolved_at is None:
            self.resolved_at = at

    def due(self, now: datetime) -> list[Page]:
        """Steps whose time has come by ``now`` and that were not carried out yet."""
        out: list[Page] = []
        stops = [t for t in (self.acked_at, self.resolved_at) if t is not None]
        stop = min(stops) if stops else None
        for loop in range(self.policy.loops + 1):
            offset = loop * self.policy.ladder_s
            for i, step in enumerate(self.policy.steps):
                at = self.started_at + timedelta(seconds=offset + step.after_s)
                if at > now or (loop, i) in self._done:
                    continue
                if stop is not None and at >= stop:
                    continue
                self._done.add((loop, i))
                out.append(Page(i, loop, step.targets, step.role, at))
        return out
