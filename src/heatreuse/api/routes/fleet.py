"""Fleet views: ``GET /api/v1/fleet/status`` and ``GET /api/v1/fleet/kpi`` of a central serve.

Both answer for the served sites the principal may read only (``site.read``,
``kpi.read`` per site; 403 when it may on none): :func:`heatreuse.services.fleet.fleet_status`
and :func:`heatreuse.services.fleet.fleet_kpi`, the same figures as ``heatreuse fleet
status|kpi``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from heatreuse.api.auth import require_on_some_site, sites_allowed
from heatreuse.api.context import ApiContext
from heatreuse.api.errors import ApiError
from heatreuse.api.permissions import FLEET
from heatreuse.api.routes.common import jsonable
from heatreuse.errors import HeatreuseError
from heatreuse.services.people import Principal


def router(ctx: ApiContext) -> APIRouter:
    """The fleet routes."""
    r = APIRouter(tags=["fleet"])

    @r.get(FLEET + "/status")
    def fleet_status(
        stale_after_s: float = Query(900.0, gt=0, le=366 * 86_400.0),
        principal: Principal = Depends(require_on_some_site("site.read")),
    ) -> dict[str, Any]:
        """Per permitted site: last reading age, heat delivered today and this month [kWh],
        SLA state, alerts firing, ledger checkpoint age; ``counts`` per health word."""
        from heatreuse.services.fleet import fleet_status as status

        allowed = sites_allowed(ctx, principal, "site.read")
        out = status(
            [ctx.sites[sid] for sid in allowed],
            ctx.store,
            now=ctx.clock(),
            stale_after_s=stale_after_s,
        )
        # the store may hold sites not served here or not permitted: never shown
        rows = [row for row in out["sites"] if row["site_id"] in allowed]
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["health"]] = counts.get(row["health"], 0) + 1
        return dict(jsonable({**out, "sites": rows, "counts": counts}))

    @r.get(FLEET + "/kpi")
    def fleet_kpi(
        period: str | None = Query(None, max_length=10, pattern=r"^[0-9]{4}(-[0-9]{2}){0,2}$"),
        principal: Principal = Depends(require_on_some_site("kpi.read")),
    ) -> dict[str, Any]:
        """Fleet KPIs of a UTC period (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``; default the
        current month) over the permitted sites: energies summed [kWh], ratios recomputed
        from the sums, never averaged; sites without a ledger in ``sites_missing``."""
        from heatreuse.services.fleet import fleet_kpi as kpi

        per = period or ctx.clock().strftime("%Y-%m")
        allowed = sites_allowed(ctx, principal, "kpi.read")
        try:
            out = kpi([ctx.sites[sid] for sid in allowed], per, ctx.store.url)
        except HeatreuseError as exc:
            if "period" in str(exc).lower():
                raise ApiError(422, str(exc).removeprefix("--"), "period") from None
            raise
        return dict(jsonable(out))

    return r
