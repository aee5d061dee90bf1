"""Sites and points: ``GET /api/v1/sites/{site_id}``, ``.../points``, ``.../ingest/counters``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from heatreuse.api.auth import require
from heatreuse.api.context import ApiContext
from heatreuse.api.permissions import S
from heatreuse.api.routes.common import redact
from heatreuse.services.people import Principal


class SiteOut(BaseModel):
    """A site and its configuration (secrets removed)."""

    id: str
    name: str
    config: dict[str, Any]


class PointOut(BaseModel):
    """A measured point of the site."""

    id: str
    equipment: str
    quantity: str
    unit: str
    kind: str
    min_value: float
    max_value: float
    sample_interval_s: float
    description: str


def router(ctx: ApiContext) -> APIRouter:
    """Site routes."""
    r = APIRouter(tags=["sites"])

    @r.get(S, response_model=SiteOut)
    def site(site_id: str, _p: Principal = Depends(require("site.read"))) -> SiteOut:
        """The site's configuration (site file as loaded; passwords, tokens, keys and
        credentials in URLs replaced by ``<redacted>``)."""
        s = ctx.site(site_id)
        return SiteOut(id=s.id, name=s.site.name, config=redact(s.model_dump(mode="json")))

    @r.get(S + "/points", response_model=list[PointOut])
    def points(site_id: str, _p: Principal = Depends(require("site.read"))) -> list[PointOut]:
        """The site's measured points (canonical ids, units, plausible ranges)."""
        return [
            PointOut(
                id=p.id,
                equipment=p.equipment,
                quantity=p.quantity,
                unit=p.unit,
                kind=str(p.kind),
                min_value=p.min_value,
                max_value=p.max_value,
                sample_interval_s=p.sample_interval_s,
                description=p.description,
            )
            for p in ctx.points_of(site_id).points
        ]

    @r.get(S + "/ingest/counters")
    def counters(site_id: str, _p: Principal = Depends(require("site.read"))) -> dict[str, Any]:
        """Cumulative ingest counters of the site (this process)."""
        ctx.site(site_id)
        pipeline = ctx.ingestor_of(site_id)
        if pipeline is None:
            return {"site_id": site_id, "ingesting": False}
        return {"site_id": site_id, "ingesting": True, **pipeline.counters()}

    return r
