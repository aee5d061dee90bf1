"""Watch and respond: alerts (ack), incidents, silences (create, expire), actions, drills,
maintenance records. Every change goes through :mod:`heatreuse.services.monitoring` or
:mod:`heatreuse.services.maintenance`, which write its audit row (actor: the principal)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from heatreuse.api.auth import client_address, require, require_display
from heatreuse.api.context import ApiContext
from heatreuse.api.errors import ApiError, not_found
from heatreuse.api.permissions import S
from heatreuse.api.routes.common import iso, jdict, page
from heatreuse.errors import HeatreuseError
from heatreuse.services.people import Principal


def _id() -> Any:
    return Path(ge=1, le=2**62)


class AckIn(BaseModel):
    """Acknowledge an alert: why / what is being done."""

    model_config = ConfigDict(extra="forbid")
    comment: str = Field("", max_length=2000)


class SilenceIn(BaseModel):
    """Mute alerts matching every matcher (``NAME=VALUE``, ``!=``, ``=~``, ``!~``)."""

    model_config = ConfigDict(extra="forbid")
    matchers: list[str] = Field(min_length=1, max_length=20)
    duration: str = Field(min_length=1, max_length=20, description="30m, 2h or seconds.")
    comment: str = Field(min_length=1, max_length=2000)
    start: str | None = Field(None, max_length=64)


class ExpireIn(BaseModel):
    """End a silence now."""

    model_config = ConfigDict(extra="forbid")
    comment: str = Field("", max_length=2000)


class MaintenanceIn(BaseModel):
    """A maintenance task of the site's schedule, done."""

    model_config = ConfigDict(extra="forbid")
    task_id: str = Field(min_length=1, max_length=64)
    note: str = Field(min_length=1, max_length=2000)
    done_at: str | None = Field(None, max_length=64)


def router(ctx: ApiContext) -> APIRouter:
    """Alert, incident, silence, action, drill and maintenance routes."""
    from heatreuse.services import maintenance, monitoring

    r = APIRouter(tags=["operations"])

    @r.get(S + "/alerts")
    def alerts(
        site_id: str,
        state: Literal["firing", "resolved", "all"] = "firing",
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=32),
        _p: Principal = Depends(require_display("alerts.read")),
    ) -> dict[str, Any]:
        """Alerts of the site in a state, oldest first."""
        items = monitoring.list_alerts(ctx.site(site_id), ctx.store, state)
        return jdict(page(items, limit, cursor))

    @r.post(S + "/alerts/{alert_id}/ack")
    def ack(
        site_id: str,
        body: AckIn,
        request: Request,
        alert_id: int = _id(),
        p: Principal = Depends(require("alerts.ack")),
    ) -> dict[str, Any]:
        """Acknowledge an alert (stops its incident's escalation; audited)."""
        site = ctx.site(site_id)
        rec = ctx.store.get_alert(site_id, alert_id)
        if rec is None:
            raise not_found(f"alert {alert_id} of site {site_id!r}")
        if rec.acked_by is not None:
            raise ApiError(409, f"alert {alert_id}: already acknowledged by {rec.acked_by}")
        out = monitoring.ack_alert(
            site,
            ctx.store,
            alert_id,
            p.name,
            body.comment,
            now=ctx.clock(),
            address=client_address(request),
        )
        return jdict(out)

    @r.get(S + "/incidents")
    def incidents(
        site_id: str,
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=32),
        _p: Principal = Depends(require("incidents.read")),
    ) -> dict[str, Any]:
        """Incidents of the site, oldest first."""
        return jdict(page(monitoring.list_incidents(ctx.site(site_id), ctx.store), limit, cursor))

    @r.get(S + "/incidents/{incident_id}")
    def incident(
        site_id: str,
        incident_id: int = _id(),
        _p: Principal = Depends(require("incidents.read")),
    ) -> dict[str, Any]:
        """One incident: alerts, timeline, SLA impact, post-incident template."""
        site = ctx.site(site_id)
        if ctx.store.get_incident(site_id, incident_id) is None:
            raise not_found(f"incident {incident_id} of site {site_id!r}")
        return jdict(monitoring.show_incident(site, ctx.store, incident_id, now=ctx.clock()))

    @r.get(S + "/silences")
    def silences(
        site_id: str,
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=32),
        _p: Principal = Depends(require("alerts.read")),
    ) -> dict[str, Any]:
        """Silences of the site with their state now (pending, active, expired)."""
        items = monitoring.list_silences(ctx.site(site_id), ctx.store, now=ctx.clock())
        return jdict(page(items, limit, cursor))

    @r.post(
        S + "/silences",
        status_code=201,
        responses={202: {"description": "Longer than 4 h: a change request was filed instead."}},
    )
    def add_silence(
        site_id: str,
        body: SilenceIn,
        request: Request,
        response: Response,
        p: Principal = Depends(require("silences.write")),
    ) -> dict[str, Any]:
        """Create a silence (audited). Longer than 4 h it is a two-person change: a change
        request is filed (202, ``{"change": ...}``) for a second person to approve."""
        from heatreuse.monitoring.routing import parse_duration_s
        from heatreuse.services import changes

        site = ctx.site(site_id)
        try:
            seconds = parse_duration_s(body.duration, "duration")
        except HeatreuseError as exc:
            raise ApiError(422, str(exc), "duration") from None
        if 0 < seconds <= changes.LONG_SILENCE_S:
            return jdict(
                {
                    "silence": monitoring.add_silence(
                        site,
                        ctx.store,
                        body.matchers,
                        body.duration,
                        p.name,
                        body.comment,
                        start=body.start,
                        now=ctx.clock(),
                        address=client_address(request),
                    )
                }
            )
        out = changes.add_silence_or_request(
            site,
            ctx.store,
            body.matchers,
            body.duration,
            p.name,
            body.comment,
            start=body.start,
            address=client_address(request),
            now=ctx.clock(),
        )
        if "change" in out:
            response.status_code = 202
        return jdict(out)

    @r.post(S + "/silences/{silence_id}/expire")
    def expire(
        site_id: str,
        body: ExpireIn,
        request: Request,
        silence_id: str = Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$"),
        p: Principal = Depends(require("silences.write")),
    ) -> dict[str, Any]:
        """End a silence now (audited)."""
        site = ctx.site(site_id)
        found = [s for s in ctx.store.list_silences(site_id) if s.id == silence_id]
        if not found:
            raise not_found(f"silence {silence_id} of site {site_id!r}")
        out = monitoring.expire_silence(
            site,
            ctx.store,
            silence_id,
            p.name,
            body.comment,
            now=ctx.clock(),
            address=client_address(request),
        )
        return jdict(out)

    @r.get(S + "/actions")
    def actions(
        site_id: str,
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=32),
        _p: Principal = Depends(require("actions.read")),
    ) -> dict[str, Any]:
        """Corrective actions of the site."""
        return jdict(page(monitoring.list_actions(ctx.site(site_id), ctx.store), limit, cursor))

    @r.get(S + "/drills")
    def drills(site_id: str, _p: Principal = Depends(require("incidents.read"))) -> dict[str, Any]:
        """Recorded drills (evidence) and whether the quarterly drill is due."""
        site = ctx.site(site_id)
        status = maintenance.drill_status(site, ctx.store, now=ctx.clock())
        records = [
            {
                "id": d.id,
                "drilled_at": iso(dt.datetime.fromtimestamp(d.drilled_at_us / 1e6, dt.UTC)),
                "recorded_by": d.recorded_by,
                "verdict": d.verdict,
                "summary": d.summary,
                "evidence": d.evidence,
            }
            for d in ctx.store.list_drill_records(site_id)
        ]
        return jdict({**status.to_dict(), "drills": records})

    @r.get(S + "/maintenance")
    def maintenance_records(
        site_id: str,
        task_id: str | None = Query(None, max_length=64),
        _p: Principal = Depends(require("site.read")),
    ) -> dict[str, Any]:
        """The maintenance schedule and the records of tasks done."""
        site = ctx.site(site_id)
        return jdict(
            {
                "schedule": [t.model_dump(mode="json") for t in maintenance.schedule(site)],
                "records": maintenance.list_records(site, ctx.store, task_id),
            }
        )

    @r.post(S + "/maintenance", status_code=201)
    def maintenance_done(
        site_id: str,
        body: MaintenanceIn,
        request: Request,
        p: Principal = Depends(require("maintenance.write")),
    ) -> dict[str, Any]:
        """Record a task of the schedule as done (who: the principal; audited)."""
        site = ctx.site(site_id)
        out = maintenance.add_record(
            site,
            ctx.store,
            body.task_id,
            by=p.name,
            note=body.note,
            done_at=body.done_at,
            now=ctx.clock(),
            address=client_address(request),
        )
        return jdict(out)

    return r
