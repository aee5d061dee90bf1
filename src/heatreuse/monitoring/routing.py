"""Alert routing with Alertmanager semantics: a routing tree, groups and their timers.

An alert enters at the root; a route matches when all its matchers match; its
children are tried in order and the first that matches takes the alert unless it
says ``continue``; a route none of whose children matched handles the alert itself.
Children inherit receiver, ``group_by`` and timers from their parent. Alerts of one
route with the same values of the ``group_by`` labels form one group: its first
notification waits ``group_wait_s`` (to collect what fires together), later changes
go out at most every ``group_interval_s``, and an unchanged firing group is
re-notified after ``repeat_interval_s``. A resolved alert is notified once if its
firing was. Muted alerts (silences, inhibition) are left out of notifications.
Reference: Prometheus Alertmanager, "Configuration" (``<route>``) and its
dispatcher/dedup stages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from heatreuse.errors import HeatreuseError
from heatreuse.monitoring.alerts import Alert, AlertState
from heatreuse.monitoring.matchers import Matcher, all_match, parse_matcher

ALL_LABELS = "..."


@dataclass(frozen=True)
class Route:
    """One node of the routing tree (``id`` is its path, e.g. ``root.1.0``)."""

    id: str
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] = ("site", "rule")
    group_wait_s: float = 30.0
    group_interval_s: float = 300.0
    repeat_interval_s: float = 4 * 3600.0
    continue_matching: bool = False
    routes: tuple[Route, ...] = ()

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that take an alert with ``labels`` (Alertmanager's Route.Match)."""
        if not all_match(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            hit = child.match(labels)
            found += hit
            if hit and not child.continue_matching:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that name an alert's group on this route."""
        if ALL_LABELS in self.group_by:
            return dict(sorted(labels.items()))
        return {k: labels.get(k, "") for k in self.group_by}

    def walk(self) -> list[Route]:
        """This route and every descendant, depth first."""
        out = [self]
        for child in self.routes:
            out += child.walk()
        return out


_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration_s(text: str | float | int, where: str) -> float:
    """``30s``, ``5m``, ``4h``, ``1d`` or a number of seconds -> seconds [s]."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        s = str(text).strip()
        unit = _DURATION_UNITS.get(s[-1:]) if s else None
        try:
            value = float(s[:-1]) * unit if unit else float(s)
        except ValueError:
            value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise HeatreuseError(
            f"{where}: expected a duration such as 30s, 5m, 4h or 1d; got {text!r}"
        )
    return value


def route_from_config(
    cfg: Mapping[str, Any], *, parent: Route | None = None, path: str = "root"
) -> Route:
    """Build a routing tree from a mapping (the site file's ``monitoring.route``).

    Keys: ``receiver``, ``matchers`` (list of ``NAME=VALUE`` strings) or ``match``
    (mapping), ``group_by``, ``group_wait``, ``group_interval``, ``repeat_interval``,
    ``continue``, ``routes``. Unset keys inherit from the parent.
    """
    known = {
        "receiver",
        "matchers",
        "match",
        "group_by",
        "group_wait",
        "group_interval",
        "repeat_interval",
        "continue",
        "routes",
    }
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise HeatreuseError(f"{path}: unknown key(s) {unknown}; expected some of {sorted(known)}")
    receiver = cfg.get("receiver", parent.receiver if parent else None)
    if not receiver:
        raise HeatreuseError(f"{path}.receiver: expected a receiver name; got none")
    matchers = tuple(parse_matcher(str(m)) for m in cfg.get("matchers", []))
    matchers += tuple(
        Matcher(str(k), "=", str(v)) for k, v in sorted(dict(cfg.get("match", {})).items())
    )
    base = parent or Route(id=path, receiver=str(receiver))
    node = Route(
        id=path,
        receiver=str(receiver),
        matchers=matchers,
        group_by=tuple(cfg.get("group_by", base.group_by)),
        group_wait_s=parse_duration_s(
            cfg.get("group_wait", base.group_wait_s), f"{path}.group_wait"
        ),
        group_interval_s=parse_duration_s(
            cfg.get("group_interval", base.group_interval_s), f"{path}.group_interval"
        ),
        repeat_interval_s=parse_duration_s(
            cfg.get("repeat_interval", base.repeat_interval_s), f"{path}.repeat_interval"
        ),
        continue_matching=bool(cfg.get("continue", False)),
    )
    children = tuple(
        route_from_config(c, parent=node, path=f"{path}.{i}")
        for i, c in enumerate(cfg.get("routes", []))
    )
    return Route(**{**node.__dict__, "routes": children})


@dataclass(frozen=True)
class Notification:
    """What one receiver is told about one group at one instant."""

    receiver: str
    route_id: str
    group_key: str
    group_labels: Mapping[str, str]
    status: str
    """``firing`` when any alert in it fires, else ``resolved``."""
    alerts: tuple[Alert, ...]
    at: datetime


@dataclass
class _Group:
    route: Route
    labels: dict[str, str]
    key: str
    next_flush_at: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)
    notified_firing: frozenset[str] = frozenset()
    notified_at: datetime | None = None


Muted = Callable[[Alert, datetime], "str | None"]


class Dispatcher:
    """Groups alerts per route and decides when each receiver is notified.

    Feed it every firing and resolved alert with :meth:`update`; call :meth:`flush`
    with the current time (an injectable clock) to get the notifications that are due.
    """

    def __init__(self, root: Route, muted: Muted | None = None) -> None:
        self.root = root
        self._muted = muted or (lambda _a, _t: None)
        self._groups: dict[tuple[str, str], _Group] = {}

    def update(self, alert: Alert, now: datetime) -> None:
        """Insert or replace ``alert`` (by fingerprint) in the groups of its routes."""
        if alert.state is AlertState.PENDING:
            return
        fp = alert.fingerprint
        for route in self.root.match(alert.labels):
            glabels = route.group_labels(alert.labels)
            key = "{" + ",".join(f'{k}="{v}"' for k, v in glabels.items()) + "}"
            g = self._groups.get((route.id, key))
            if g is None:
                if alert.state is AlertState.RESOLVED:
                    continue  # resolved before anyone heard of it
                g = _Group(
                    route,
                    glabels,
                    f"{route.id}:{key}",
                    now + timedelta(seconds=route.group_wait_s),
                )
                self._groups[(route.id, key)] = g
            g.alerts[fp] = alert

    def next_due(self) -> datetime | None:
        """When the next group timer runs out, or ``None`` with no groups."""
        return min((g.next_flush_at for g in self._groups.values()), default=None)

    def flush(self, now: datetime) -> list[Notification]:
        """Run every group timer that has run out by ``now``; return the notifications."""
        out: list[Notification] = []
        for gkey, g in list(self._groups.items()):
            if g.next_flush_at > now:
                continue
            visible = [a for a in g.alerts.values() if self._muted(a, now) is None]
            firing = frozenset(a.fingerprint for a in visible if a.state is AlertState.FIRING)
            resolved_now = [
                a
                for a in visible
                if a.state is AlertState.RESOLVED and a.fingerprint in g.notified_firing
            ]
            repeat_due = (
                g.notified_at is not None
                and (now - g.notified_at).total_seconds() >= g.route.repeat_interval_s
            )
            send = bool(firing - g.notified_firing) or bool(resolved_now)
            send = send or (bool(firing) and repeat_due)
            if send:
                alerts = tuple(a for a in visible if a.fingerprint in firing) + tuple(resolved_now)
                out.append(
                    Notification(
                        receiver=g.route.receiver,
                        route_id=g.route.id,
                        group_key=g.key,
                        group_labels=dict(g.labels),
                        status="firing" if firing else "resolved",
                        alerts=alerts,
                        at=now,
                    )
                )
                g.notified_firing = firing
                g.notified_at = now
            for fp in [fp for fp, a in g.alerts.items() if a.state is AlertState.RESOLVED]:
                del g.alerts[fp]
            if not g.alerts:
                del self._groups[gkey]
                continue
            g.next_flush_at = now + timedelta(seconds=g.route.group_interval_s)
        return out


def receivers_of(routes: Sequence[Route]) -> list[str]:
    """Receiver names in route order, each once."""
    seen: list[str] = []
    for r in routes:
        if r.receiver not in seen:
            seen.append(r.receiver)
    return seen
