"""Changes to the plant under the two-person rule, and break-glass overrides.

A change request names **who** (``requested_by``), **what** (the exact command: target,
value and the bounds it was checked against, canonical JSON), **why** (``reason``) and
an **expiry**. Its ``request_hash`` is the SHA-256 of the canonical request
(:func:`request_hash`). A *different* user who holds the approving permission on the
site, and whom the site's RACI names for that activity, approves **that hash**; the
request then executes (:mod:`heatreuse.telemetry.commands`: the twin's control port, a
Modbus register, an MQTT command), the value is read back and compared, and the result
is recorded. Silences over :data:`LONG_SILENCE_S`, maintenance windows and role grants
go through the same flow and execute in the store.

=====================  ====================  =====================  =====================
kind                   request permission    approve permission     RACI activity
=====================  ====================  =====================  =====================
setpoint               setpoint.request      setpoint.approve       design_change
reject_override        setpoint.request      setpoint.approve       design_change
pump_mode              setpoint.request      setpoint.approve       design_change
functional_test        setpoint.request      setpoint.approve       design_change
sla_edit               sla.write             sla.write              design_change
maintenance_window     maintenance.write     maintenance.write      maintenance_signoff
silence                silences.write        silences.write         (none)
role_grant             users.manage          users.manage           (none)
=====================  ====================  =====================  =====================

The RACI names people by id; a store user acts for the person whose id is the user's
name. An approver must be the activity's ``accountable`` or one of its ``responsible``.

**Break-glass** (:func:`override`): a person named in the RACI's
``automation_override`` (responsible or accountable) who holds ``setpoint.request`` on
the site executes a plant command at once (state ``overridden``), flagged for review
until someone else with ``changes.review`` reviews it (:func:`review`).

States: ``requested`` -> ``approved`` -> ``executed`` | ``failed``; ``requested`` ->
``rejected`` | ``expired``; break-glass: ``overridden`` (or ``failed``). Every step is an
``audit`` row (who, what, when, why, from where), folded into the ledger by ``heatreuse
ledger update``, so ``heatreuse verify`` covers them.

Reference: operations.md, section Security; NIST SP 800-53 CM-5(4) (dual authorisation),
AC-6 (least privilege).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from heatreuse.errors import AccessDeniedError, HeatreuseError
from heatreuse.services import access
from heatreuse.services.people import _audit, _iso, _now_us
from heatreuse.site import Site
from heatreuse.store import changes as rows
from heatreuse.store import people as people_rows
from heatreuse.store.base import Store
from heatreuse.telemetry.commands import CommandError, CommandExecutor, TwinControlExecutor

#: Silences longer than this need the two-person rule [s] (4 h).
LONG_SILENCE_S = access.TWO_PERSON_SILENCE_S
#: Default lifetime of a request [s] (4 h).
DEFAULT_EXPIRY = "4h"
#: Longest lifetime of a request [s] (7 d).
MAX_EXPIRY_S = 7 * 86400.0
#: Tolerance when a numeric read-back is compared with the written value.
READBACK_TOLERANCE = 1e-6

STATES = ("requested", "approved", "executed", "failed", "rejected", "expired", "overridden")
#: Kinds that write to the plant (an executor needed; break-glass allowed).
PLANT_KINDS = ("setpoint", "reject_override", "pump_mode")
#: Kinds executed in the store on approval (no device involved).
STORE_KINDS = ("silence", "maintenance_window", "role_grant")


@dataclass(frozen=True)
class KindRule:
    """Who requests and who approves a kind of change."""

    request: str
    approve: str
    raci: str | None


KINDS: Mapping[str, KindRule] = {
    "setpoint": KindRule("setpoint.request", "setpoint.approve", "design_change"),
    "reject_override": KindRule("setpoint.request", "setpoint.approve", "design_change"),
    "pump_mode": KindRule("setpoint.request", "setpoint.approve", "design_change"),
    "functional_test": KindRule("setpoint.request", "setpoint.approve", "design_change"),
    "sla_edit": KindRule("sla.write", "sla.write", "design_change"),
    "maintenance_window": KindRule("maintenance.write", "maintenance.write", "maintenance_signoff"),
    "silence": KindRule("silences.write", "silences.write", None),
    "role_grant": KindRule("users.manage", "users.manage", None),
}


class ChangeError(HeatreuseError):
    """A change request that cannot be made, approved, executed or reviewed (says why)."""


@dataclass(frozen=True)
class SiteId:
    """A site known by its id only (role grants need no site file)."""

    id: str


#: A site file, or just a site id where the kind needs nothing else (role grants).
SiteLike = Site | SiteId


def _site_file(site: SiteLike, what: str) -> Site:
    if not isinstance(site, Site):
        raise ChangeError(
            f"{what} on site {site.id!r}: needs the site file (SITE.yaml), not the id"
        )
    return site


# --------------------------------------------------------------------------- canonical form
def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8, no NaN: the text that is hashed."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _request_body(rec: rows.ChangeRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "site_id": rec.site_id,
        "kind": rec.kind,
        "command": json.loads(rec.command),
        "reason": rec.reason,
        "requested_by": rec.requested_by,
        "requested_at": _iso(rec.requested_at_us),
        "expires_at": _iso(rec.expires_at_us),
        "break_glass": rec.break_glass,
    }


def request_hash(rec: rows.ChangeRecord) -> str:
    """SHA-256 (hex) of the canonical request: id, site, kind, command, reason, who, times."""
    return hashlib.sha256(canonical_json(_request_body(rec)).encode()).hexdigest()


# --------------------------------------------------------------------------- bounds
def _band(lo: float, hi: float, field: str, unit: str, lo_open: bool = False) -> dict[str, Any]:
    return {"min": lo, "max": hi, "field": field, "unit": unit, "min_exclusive": lo_open}


def _modes(field: str) -> dict[str, Any]:
    from heatreuse.services.twin import COMMAND_MODES

    return {"choices": list(COMMAND_MODES), "field": field}


def _number(kind: str, target: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ChangeError(f"--value of {kind} {target}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ChangeError(f"--value of {kind} {target}: expected a finite number, got {value!r}")
    return v


def _plant_targets(site: Site) -> dict[str, tuple[str, dict[str, Any]]]:
    """target -> (kind, bounds) for the plant commands of ``site``."""
    cooling = site.compute.cooling
    band = site.sla_band
    band_field = (
        "contract.sla.supply_band" if site.contract.sla.supply_band else "customer.supply_band"
    )
    out: dict[str, tuple[str, dict[str, Any]]] = {
        "supply_setpoint_c": (
            "setpoint",
            _band(band.min_temp_c, band.max_temp_c, band_field, "C"),
        ),
        "loop_setpoint_c": (
            "setpoint",
            _band(
                cooling.coolant_supply_temp_c,
                cooling.max_coolant_return_temp_c,
                "compute.cooling.coolant_supply_temp_c .. max_coolant_return_temp_c",
                "C",
                lo_open=True,
            ),
        ),
    }
    if site.plant.heat_reject is not None:
        out["heat_reject_override"] = ("reject_override", _modes("plant.heat_reject"))
    for i, pump in enumerate(site.plant.pumps):
        out[f"pump.{pump.id}.mode"] = ("pump_mode", _modes(f"plant.pumps[{i}]"))
    return out


#: Functional tests (issue 14): the fault injected, the site-file part they need, and the
#: point that shows the takeover. A test passes when the point, while the fault is
#: active, rises above both ``above`` and its value just before the fault.
FUNCTIONAL_TESTS: Mapping[str, dict[str, Any]] = {
    "reject_path": {
        "scenario": "customer_disconnect",
        "needs": "plant.heat_reject",
        "watch": "dry_cooler.heat_power_w",
        "above": 0.0,
        "what": "the customer stops taking heat: the dry cooler takes the surplus",
    },
    "backup_takeover": {
        "scenario": "compute_trip",
        "needs": "plant.backup_boiler",
        "watch": "boiler.heat_power_w",
        "above": 0.0,
        "what": "the IT load trips: the backup boiler takes over the customer's heat",
    },
}


def make_command(site: SiteLike, kind: str, target: str, value: Any) -> dict[str, Any]:
    """The exact command with its bounds, checked against the site file.

    Raises
    ------
    ChangeError
        Unknown kind or target, or a value outside its bounds (the site-file field
        and the bounds are named).
    """
    if kind not in KINDS:
        raise ChangeError(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "role_grant":
        return _role_grant_command(site, value)
    site = _site_file(site, kind)
    if kind in PLANT_KINDS:
        targets = {t: b for t, (k, b) in _plant_targets(site).items() if k == kind}
        if target not in targets:
            raise ChangeError(
                f"--target of {kind} on site {site.id!r}: expected one of "
                f"{', '.join(sorted(targets)) or '(none on this site)'}, got {target!r}"
            )
        bounds = targets[target]
        if "choices" in bounds:
            if value not in bounds["choices"]:
                raise ChangeError(
                    f"--value of {target}: expected one of {', '.join(bounds['choices'])} "
                    f"({bounds['field']}), got {value!r}"
                )
            v: Any = str(value)
        else:
            v = _number(kind, target, value)
            lo, hi = bounds["min"], bounds["max"]
            below = v <= lo if bounds["min_exclusive"] else v < lo
            if below or v > hi:
                op = "above" if bounds["min_exclusive"] else "at least"
                raise ChangeError(
                    f"--value of {target}: {v:g} {bounds['unit']} is outside the bounds of "
                    f"{bounds['field']}: expected {op} {lo:g} and at most {hi:g} {bounds['unit']}"
                )
        return {"target": target, "value": v, "bounds": bounds}
    if kind == "functional_test":
        if target not in FUNCTIONAL_TESTS:
            raise ChangeError(
                f"--target of functional_test: expected one of {', '.join(FUNCTIONAL_TESTS)}, "
                f"got {target!r}"
            )
        test = FUNCTIONAL_TESTS[target]
        need = str(test["needs"])
        if getattr(site.plant, need.split(".")[1]) is None:
            raise ChangeError(f"functional_test {target}: site {site.id!r} has no {need}")
        duration = value if value not in (None, "") else "1h"
        from heatreuse.monitoring.routing import parse_duration_s

        seconds = parse_duration_s(str(duration), "--value (test duration)")
        if not 0 < seconds <= 86400:
            raise ChangeError(f"--value of functional_test: expected 1s..24h, got {duration!r}")
        return {
            "target": target,
            "value": {"scenario": f"{test['scenario']}+{int(seconds)}s", "duration_s": seconds},
            "bounds": {
                "watch": test["watch"],
                "above": test["above"],
                "field": need,
                "what": test["what"],
            },
        }
    if not isinstance(value, Mapping):
        raise ChangeError(f"{kind}: expected the command as a mapping, got {value!r}")
    if kind == "silence":
        from heatreuse.monitoring.routing import parse_duration_s

        seconds = parse_duration_s(str(value.get("duration")), "--duration")
        if not value.get("matchers"):
            raise ChangeError("silence: expected at least one --match KEY=VALUE")
        return {
            "target": "silence",
            "value": {
                "matchers": [str(m) for m in value["matchers"]],
                "duration_s": seconds,
                "comment": str(value.get("comment") or ""),
                "start": value.get("start"),
            },
            "bounds": {"long_silence_s": LONG_SILENCE_S},
        }
    if kind == "maintenance_window":
        start, end = value.get("start"), value.get("end")
        if not start or not end:
            raise ChangeError("maintenance_window: expected a start and an end (ISO 8601, UTC)")
        from heatreuse.services.twin import parse_time_utc

        t0, t1 = parse_time_utc(str(start), "--start"), parse_time_utc(str(end), "--end")
        if t1 <= t0:
            raise ChangeError(f"maintenance_window: --end {end} must be after --start {start}")
        return {
            "target": "maintenance_window",
            "value": {
                "start": t0.isoformat(),
                "end": t1.isoformat(),
                "description": str(value.get("description") or ""),
            },
            "bounds": {},
        }
    # sla_edit: recorded and approved; the site file is edited by hand (no executor)
    return {"target": target, "value": dict(value), "bounds": {}}


def _role_grant_command(site: SiteLike, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ChangeError(f"role_grant: expected the command as a mapping, got {value!r}")
    role = access.check_role(str(value.get("role")))
    user = str(value.get("user") or "")
    if not user:
        raise ChangeError("role_grant: expected the user's name")
    return {
        "target": "role_grant",
        "value": {"user": user, "role": role, "site_id": str(value.get("site_id") or site.id)},
        "bounds": {"roles": list(access.USER_ROLES)},
    }


# --------------------------------------------------------------------------- who
def _grants(store: Store, name: str) -> tuple[people_rows.UserRecord, dict[str, list[str]]]:
    user = people_rows.get_user(store, name)
    if user is None:
        raise AccessDeniedError(f"user {name!r}: no such user (see `heatreuse users list`)")
    if user.disabled_at_us is not None:
        raise AccessDeniedError(f"user {name!r} is disabled")
    grants: dict[str, list[str]] = {}
    for g in people_rows.list_grants(store, user_id=user.id):
        grants.setdefault(g.site_id, []).append(g.role)
    return user, grants


def _require(store: Store, site: SiteLike, name: str, action: str, what: str) -> None:
    _, grants = _grants(store, name)
    if not access.is_allowed(grants, site.id, action):
        allowed = ", ".join(sorted(access.PERMISSIONS.get(action, ())))
        held = ", ".join(grants.get(site.id, [])) or "none"
        raise AccessDeniedError(
            f"{what}: user {name!r} may not ({action} on site {site.id!r} needs one of the "
            f"roles {allowed}; {name!r} holds {held} there)"
        )


def raci_people(site: Site, activity: str) -> list[str]:
    """The person ids who may sign for ``activity``: accountable and responsible."""
    entry = getattr(site.ownership, activity)
    return sorted({entry.accountable, *entry.responsible})


# --------------------------------------------------------------------------- helpers
def _expiry_us(expires: str | float, at_us: int) -> int:
    from heatreuse.monitoring.routing import parse_duration_s

    seconds = parse_duration_s(expires, "--expires")
    if not 0 < seconds <= MAX_EXPIRY_S:
        raise ChangeError(
            f"--expires: expected a duration from 1s to {MAX_EXPIRY_S / 86400:g}d, got {expires!r}"
        )
    return at_us + int(seconds * 1e6)


def change_dict(rec: rows.ChangeRecord, now_us: int | None = None) -> dict[str, Any]:
    """JSON-ready view of a request (``state`` shows ``expired`` once past its expiry)."""
    state = rec.state
    if state == "requested" and now_us is not None and now_us >= rec.expires_at_us:
        state = "expired"
    cmd = json.loads(rec.command)
    return {
        "id": rec.id,
        "site_id": rec.site_id,
        "kind": rec.kind,
        "target": cmd.get("target"),
        "value": cmd.get("value"),
        "command": cmd,
        "reason": rec.reason,
        "requested_by": rec.requested_by,
        "requested_at": _iso(rec.requested_at_us),
        "expires_at": _iso(rec.expires_at_us),
        "request_hash": rec.request_hash,
        "state": state,
        "approved_by": rec.approved_by,
        "approved_at": _iso(rec.approved_at_us),
        "executed_at": _iso(rec.executed_at_us),
        "result": None if rec.result is None else dict(rec.result),
        "break_glass": rec.break_glass,
        "flagged_for_review": rec.flagged_for_review,
        "reviewed_by": rec.reviewed_by,
        "reviewed_at": _iso(rec.reviewed_at_us),
        "review_note": rec.review_note,
        "address": rec.address,
    }


def _get(store: Store, site: SiteLike, change_id: str) -> rows.ChangeRecord:
    rec = rows.get_change(store, site.id, change_id)
    if rec is None:
        raise ChangeError(
            f"change {change_id!r}: no such request on site {site.id!r} (see `heatreuse changes "
            "list`)"
        )
    return rec


def _audit_change(
    store: Store,
    rec: rows.ChangeRecord,
    at_us: int,
    actor: str,
    action: str,
    address: str,
    extra: Mapping[str, Any] | None = None,
) -> int:
    detail = {
        "change_id": rec.id,
        "kind": rec.kind,
        "command": json.loads(rec.command),
        "request_hash": rec.request_hash,
        "address": address,
        **(extra or {}),
    }
    return _audit(
        store, [rec.site_id], at_us, actor, action, f"change {rec.id}", rec.reason, detail
    )[0]


# --------------------------------------------------------------------------- request
def request_change(
    site: SiteLike,
    store: Store,
    kind: str,
    target: str,
    value: Any,
    reason: str,
    *,
    by: str,
    expires: str | float = DEFAULT_EXPIRY,
    address: str = "cli",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Record a change request (state ``requested``); returns it with its hash.

    Raises
    ------
    ChangeError
        Unknown kind/target, out of bounds, no reason, a bad expiry.
    AccessDeniedError
        ``by`` is not a user, or lacks the kind's request permission on the site.
    """
    why = (reason or "").strip()
    if not why:
        raise ChangeError("--reason: expected why the change is needed, got nothing")
    rule = KINDS.get(kind)
    if rule is None:
        raise ChangeError(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    command = make_command(site, kind, target, value)
    at_us = _now_us(now)
    rec = rows.ChangeRecord(
        id="cr-" + secrets.token_hex(5),
        site_id=site.id,
        kind=kind,
        command=canonical_json(command),
        reason=why,
        requested_by=by,
        requested_at_us=at_us,
        expires_at_us=_expiry_us(expires, at_us),
        request_hash="",
        state="requested",
        address=address,
    )
    rec = _with_hash(rec)
    with store.transaction():
        _require(store, site, by, rule.request, f"request {kind}")
        rows.insert_change(store, rec)
        _audit_change(store, rec, at_us, by, "change.request", address)
    return change_dict(rec, at_us)


def _with_hash(rec: rows.ChangeRecord) -> rows.ChangeRecord:
    from dataclasses import replace

    return replace(rec, request_hash=request_hash(rec))


# --------------------------------------------------------------------------- approve
def approve_change(
    site: SiteLike,
    store: Store,
    change_id: str,
    hash_hex: str,
    *,
    by: str,
    executor: CommandExecutor | None = None,
    address: str = "cli",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Approve the request whose hash is ``hash_hex``; then execute it if possible.

    Store kinds (silence, maintenance window, role grant) execute at once; plant kinds
    and functional tests execute with ``executor`` (without one the request stays
    ``approved``: run :func:`execute_change` later); ``sla_edit`` stays ``approved``
    (the site file is edited by hand).

    Raises
    ------
    ChangeError
        No such request; not ``requested``; expired; ``hash_hex`` is not the hash of
        the stored request, or the stored request no longer matches its hash.
    AccessDeniedError
        The approver is the requester, lacks the approve permission, or is not named
        in the RACI activity of the kind.
    """
    at_us = _now_us(now)
    given = (hash_hex or "").strip().lower()
    rec = _get(store, site, change_id)
    if rec.state == "requested" and at_us >= rec.expires_at_us:
        with store.transaction():  # recorded (and committed) before the refusal
            if rows.update_change(store, site.id, rec.id, "requested", state="expired"):
                _audit_change(store, rec, at_us, "system", "change.expire", address)
        raise ChangeError(
            f"change {rec.id}: expired at {_iso(rec.expires_at_us)}; request it again"
        )
    with store.transaction():
        rec = _get(store, site, change_id)
        rule = KINDS[rec.kind]
        if rec.state != "requested":
            raise ChangeError(f"change {rec.id}: cannot approve a request in state {rec.state!r}")
        if at_us >= rec.expires_at_us:
            raise ChangeError(f"change {rec.id}: expired at {_iso(rec.expires_at_us)}")
        actual = request_hash(rec)
        if actual != rec.request_hash:
            raise ChangeError(
                f"change {rec.id}: the stored request no longer matches its hash (it was "
                "changed after it was requested); refused"
            )
        if given != rec.request_hash:
            raise ChangeError(
                f"change {rec.id}: --hash {given[:16] or '(none)'}... is not the hash of this "
                f"request ({rec.request_hash[:16]}...); approve exactly what was requested "
                "(see `heatreuse changes list --json`)"
            )
        if by == rec.requested_by:
            raise AccessDeniedError(
                f"change {rec.id}: {by!r} requested it and may not approve it (two-person rule: "
                "a different user approves)"
            )
        _require(store, site, by, rule.approve, f"approve {rec.kind}")
        if rule.raci is not None:
            named = raci_people(_site_file(site, f"approve {rec.kind}"), rule.raci)
            if by not in named:
                raise AccessDeniedError(
                    f"approve {rec.kind}: {by!r} is not named in the site's RACI for "
                    f"{rule.raci} (ownership.{rule.raci}: accountable or responsible are "
                    f"{', '.join(named)})"
                )
        if not rows.update_change(
            store,
            site.id,
            rec.id,
            "requested",
            state="approved",
            approved_by=by,
            approved_at_us=at_us,
        ):
            raise ChangeError(f"change {rec.id}: changed state while approving; try again")
        _audit_change(store, rec, at_us, by, "change.approve", address)
    if rec.kind in STORE_KINDS or (executor is not None and rec.kind not in ("sla_edit",)):
        return execute_change(
            site, store, rec.id, by=by, executor=executor, address=address, now=now
        )
    return change_dict(_get(store, site, rec.id), at_us)


# --------------------------------------------------------------------------- execute
def _values_match(written: Any, read: Any) -> bool:
    if isinstance(written, (int, float)) and isinstance(read, (int, float)):
        tol = max(READBACK_TOLERANCE, abs(float(written)) * 1e-9)
        return not isinstance(read, bool) and abs(float(written) - float(read)) <= tol
    return bool(written == read)


def _run_plant(executor: CommandExecutor, command: Mapping[str, Any]) -> dict[str, Any]:
    target, value = command["target"], command["value"]
    try:
        executor.write(target, value)
        read = executor.read(target)
    except CommandError as exc:
        return {
            "executor": executor.label,
            "written": value,
            "read_back": None,
            "ok": False,
            "error": str(exc),
        }
    ok = _values_match(value, read)
    out = {"executor": executor.label, "written": value, "read_back": read, "ok": ok}
    if not ok:
        out["error"] = f"read back {read!r}, expected {value!r}"
    return out


def _restore_faults(executor: TwinControlExecutor, earlier: list[str] | None) -> None:
    """Clear the test's fault: clear all, then put back the faults active before it."""
    if earlier is None:
        return
    with contextlib.suppress(CommandError):
        executor.request("DELETE", "/faults")
        for label in earlier:
            executor.request("POST", "/faults", {"scenario": label})


def run_functional_test(
    executor: TwinControlExecutor,
    command: Mapping[str, Any],
    *,
    timeout_s: float = 60.0,
    poll_s: float = 0.2,
) -> dict[str, Any]:
    """Inject the test's fault on the twin, watch the takeover point, then clear the faults.

    Reads ``GET /status`` before the fault (the point's value then), injects the
    scenario (``POST /faults``) and polls until the point rises above both
    ``bounds.above`` and its value before (pass), or ``timeout_s`` wall seconds pass
    (fail); the test's fault is removed either way (faults active before it stay). The
    evidence holds
    the simulated times, the value before, the largest value seen and the modes seen.
    """
    scenario = command["value"]["scenario"]
    watch, above = str(command["bounds"]["watch"]), float(command["bounds"]["above"])
    modes: list[str] = []
    evidence: dict[str, Any] = {"scenario": scenario, "watch": watch}
    peak: float | None = None
    before: float | None = None
    passed = False
    earlier: list[str] | None = None
    try:
        status, body = executor.request("GET", "/faults")
        if status != 200:
            raise CommandError(f"{executor.label}: GET /faults: {body.get('error', status)}")
        earlier = [str(f) for f in body.get("faults", [])]
        status, body = executor.request("GET", "/status")
        if status != 200:
            raise CommandError(f"{executor.label}: GET /status: {body.get('error', status)}")
        value = (body.get("latest") or {}).get(watch)
        before = float(value) if isinstance(value, (int, float)) else None
        evidence["simulated_from"] = body.get("simulated_until")
        evidence["before"] = before
        status, body = executor.request("POST", "/faults", {"scenario": scenario})
        if status != 201:
            raise CommandError(f"{executor.label}: POST /faults: {body.get('error', status)}")
        evidence["injected"] = body.get("scenario")
        threshold = max(above, before if before is not None else above)
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status, last = executor.request("GET", "/status")
            mode = last.get("mode")
            if isinstance(mode, str) and (not modes or modes[-1] != mode):
                modes.append(mode)
            value = (last.get("latest") or {}).get(watch)
            if isinstance(value, (int, float)) and last.get("faults"):
                peak = float(value) if peak is None else max(peak, float(value))
                if peak > threshold:
                    passed = True
                    break
            time.sleep(poll_s)
        evidence["simulated_until"] = last.get("simulated_until")
    except CommandError as exc:
        evidence |= {"peak": peak, "modes": modes}
        return {
            "executor": executor.label,
            "written": scenario,
            "read_back": peak,
            "ok": False,
            "error": str(exc),
            "evidence": evidence,
        }
    finally:
        _restore_faults(executor, earlier)
    evidence |= {"peak": peak, "modes": modes}
    out = {
        "executor": executor.label,
        "written": scenario,
        "read_back": peak,
        "ok": passed,
        "evidence": evidence,
    }
    if not passed:
        out["error"] = (
            f"{watch} did not rise above {max(above, before or above):g} (before the fault: "
            f"{before}, largest seen: {peak}) within {timeout_s:g} s"
        )
    return out


def _run_store(site: SiteLike, store: Store, rec: rows.ChangeRecord, by: str) -> dict[str, Any]:
    cmd = json.loads(rec.command)
    v = cmd["value"]
    note = f"change {rec.id} approved by {by}: {rec.reason}"
    if rec.kind in ("silence", "maintenance_window"):
        from heatreuse.services.monitoring import add_silence, list_silences

        site = _site_file(site, rec.kind)
        if rec.kind == "silence":
            matchers, start = v["matchers"], v.get("start")
            seconds, comment = v["duration_s"], v["comment"] or note
        else:  # an announced maintenance window mutes the site's SLA alerts
            start = dt.datetime.fromisoformat(v["start"])
            seconds = (dt.datetime.fromisoformat(v["end"]) - start).total_seconds()
            matchers = [f"site={site.id}", "rule=~sla_.*"]
            comment = f"maintenance window (change {rec.id}): {v['description'] or rec.reason}"
        s = add_silence(
            site,
            store,
            matchers,
            seconds,
            rec.requested_by,
            comment,
            start=start,
            change_id=rec.id,
        )
        held = [x for x in list_silences(site, store) if x["id"] == s["id"]]
        return {
            "executor": "store",
            "written": s["id"],
            "read_back": held[0]["id"] if held else None,
            "ok": bool(held),
            "silence_id": s["id"],
        }
    if rec.kind == "role_grant":
        from heatreuse.services import people

        people.grant_role(store, v["user"], v["role"], v["site_id"], by=f"{rec.requested_by}+{by}")
        user = people_rows.get_user(store, v["user"])
        granted = user is not None and any(
            g.role == v["role"] and g.site_id == v["site_id"]
            for g in people_rows.list_grants(store, user_id=user.id)
        )
        return {
            "executor": "store",
            "written": f"{v['role']}@{v['site_id']}",
            "read_back": f"{v['role']}@{v['site_id']}" if granted else None,
            "ok": granted,
        }
    raise ChangeError(f"change {rec.id}: kind {rec.kind} has no store executor")


def execute_change(
    site: SiteLike,
    store: Store,
    change_id: str,
    *,
    by: str,
    executor: CommandExecutor | None = None,
    address: str = "cli",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Execute an ``approved`` request: write, read back, compare, record.

    The state becomes ``executed`` (read-back equals the written value) or ``failed``
    (refused, unreachable, or another value read back); either way the result and an
    audit row (``change.execute`` / ``change.fail``) are recorded.

    Raises
    ------
    ChangeError
        Not ``approved``, expired before execution, or no executor for a plant kind.
    """
    at_us = _now_us(now)
    rec = _get(store, site, change_id)
    if rec.state != "approved":
        raise ChangeError(f"change {rec.id}: cannot execute a request in state {rec.state!r}")
    if rec.kind not in STORE_KINDS and by not in (rec.approved_by, rec.requested_by):
        _require(store, site, by, "setpoint.approve", f"execute {rec.kind}")
    if at_us >= rec.expires_at_us:
        raise ChangeError(f"change {rec.id}: expired at {_iso(rec.expires_at_us)} before it ran")
    if request_hash(rec) != rec.request_hash:
        raise ChangeError(f"change {rec.id}: the stored request no longer matches its hash")
    cmd = json.loads(rec.command)
    if rec.kind in STORE_KINDS:
        with store.transaction():
            result = _run_store(site, store, rec, rec.approved_by or by)
            return _record_result(store, site, rec, "approved", result, at_us, by, address)
    if rec.kind == "sla_edit":
        raise ChangeError(
            f"change {rec.id}: sla_edit has no executor; edit the site file as approved"
        )
    if executor is None:
        raise ChangeError(
            f"change {rec.id}: no executor given; expected --twin HOST:PORT, --modbus HOST:PORT "
            "or --mqtt URL"
        )
    if rec.kind == "functional_test":
        if not isinstance(executor, TwinControlExecutor):
            raise ChangeError(f"change {rec.id}: functional tests run against the twin (--twin)")
        result = run_functional_test(executor, cmd)
    else:
        result = _run_plant(executor, cmd)
    with store.transaction():
        return _record_result(store, site, rec, "approved", result, at_us, by, address)


def _record_result(
    store: Store,
    site: SiteLike,
    rec: rows.ChangeRecord,
    expect: str,
    result: Mapping[str, Any],
    at_us: int,
    by: str,
    address: str,
    *,
    ok_state: str = "executed",
    flag: bool = False,
) -> dict[str, Any]:
    state = ok_state if result.get("ok") else "failed"
    if not rows.update_change(
        store,
        site.id,
        rec.id,
        expect,
        state=state,
        executed_at_us=at_us,
        result=dict(result),
        flagged_for_review=flag or rec.flagged_for_review,
    ):
        raise ChangeError(f"change {rec.id}: changed state while executing")
    action = {"executed": "change.execute", "overridden": "change.override"}.get(
        state, "change.fail"
    )
    _audit_change(store, rec, at_us, by, action, address, {"result": dict(result)})
    return change_dict(_get(store, site, rec.id), at_us)


# --------------------------------------------------------------------------- reject
def reject_change(
    site: SiteLike,
    store: Store,
    change_id: str,
    reason: str,
    *,
    by: str,
    address: str = "cli",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Refuse a ``requested`` change (the requester may withdraw; others need approve rights)."""
    at_us = _now_us(now)
    if not (reason or "").strip():
        raise ChangeError("--reason: expected why the request is rejected, got nothing")
    with store.transaction():
        rec = _get(store, site, change_id)
        if rec.state != "requested":
            raise ChangeError(f"change {rec.id}: cannot reject a request in state {rec.state!r}")
        if by != rec.requested_by:
            _require(store, site, by, KINDS[rec.kind].approve, f"reject {rec.kind}")
        rows.update_change(
            store, site.id, rec.id, "requested", state="rejected", review_note=reason.strip()
        )
        _audit_change(store, rec, at_us, by, "change.reject", address, {"why": reason.strip()})
    return change_dict(_get(store, site, rec.id), at_us)


# --------------------------------------------------------------------------- break-glass
def override(
    site: SiteLike,
    store: Store,
    kind: str,
    target: str,
    value: Any,
    reason: str,
    *,
    by: str,
    executor: CommandExecutor,
    address: str = "cli",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Break-glass: execute a plant command at once, recorded and flagged for review.

    Allowed for the people the RACI names in ``automation_override`` (responsible or
    accountable) who hold ``setpoint.request`` on the site. Bounds are still checked.

    Raises
    ------
    AccessDeniedError
        ``by`` is not named in ``ownership.automation_override`` or lacks the role.
    ChangeError
        Not a plant kind, out of bounds, no reason.
    """
    if kind not in PLANT_KINDS:
        raise ChangeError(
            f"--break-glass: only plant commands ({', '.join(PLANT_KINDS)}) may override; "
            f"{kind} goes through request and approval"
        )
    why = (reason or "").strip()
    if not why:
        raise ChangeError("--reason: expected why the override is needed, got nothing")
    command = make_command(site, kind, target, value)
    named = raci_people(_site_file(site, "break-glass"), "automation_override")
    if by not in named:
        raise AccessDeniedError(
            f"break-glass: {by!r} is not named in the site's RACI for automation_override "
            f"(ownership.automation_override: accountable or responsible are {', '.join(named)})"
        )
    at_us = _now_us(now)
    rec = _with_hash(
        rows.ChangeRecord(
            id="cr-" + secrets.token_hex(5),
            site_id=site.id,
            kind=kind,
            command=canonical_json(command),
            reason=why,
            requested_by=by,
            requested_at_us=at_us,
            expires_at_us=at_us,
            request_hash="",
            state="approved",
            approved_by=by,
            approved_at_us=at_us,
            break_glass=True,
            flagged_for_review=True,
            address=address,
        )
    )
    with store.transaction():
        _require(store, site, by, "setpoint.request", "break-glass")
        rows.insert_change(store, rec)
        _audit_change(store, rec, at_us, by, "change.break_glass", address)
    result = _run_plant(executor, command)
    with store.transaction():
        return _record_result(
            store,
            site,
            rec,
            "approved",
            result,
            at_us,
            by,
            address,
            ok_state="overridden",
            flag=True,
        )


def review(
    site: SiteLike,
    store: Store,
    change_id: str,
    note: str,
    *,
    by: str,
    address: str = "cli",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Review a break-glass override: clears the flag, records who reviewed and why.

    The reviewer holds ``changes.review`` on the site and is not who overrode.
    """
    at_us = _now_us(now)
    if not (note or "").strip():
        raise ChangeError("--note: expected the review's finding, got nothing")
    with store.transaction():
        rec = _get(store, site, change_id)
        if not rec.flagged_for_review:
            raise ChangeError(f"change {rec.id}: not flagged for review")
        if by == rec.requested_by:
            raise AccessDeniedError(
                f"change {rec.id}: {by!r} made the override and may not review it"
            )
        _require(store, site, by, "changes.review", "review")
        rows.update_change(
            store,
            site.id,
            rec.id,
            rec.state,
            flagged_for_review=False,
            reviewed_by=by,
            reviewed_at_us=at_us,
            review_note=note.strip(),
        )
        _audit_change(store, rec, at_us, by, "change.review", address, {"note": note.strip()})
    return change_dict(_get(store, site, rec.id), at_us)


# --------------------------------------------------------------------------- list
def list_changes(
    site: SiteLike,
    store: Store,
    *,
    state: str | None = None,
    flagged: bool = False,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The site's change requests, oldest first (``state``: only that state, as shown)."""
    if state is not None and state not in STATES:
        raise ChangeError(f"--state: expected one of {', '.join(STATES)}, got {state!r}")
    at_us = _now_us(now)
    out = [change_dict(r, at_us) for r in rows.list_changes(store, site.id)]
    if state is not None:
        out = [c for c in out if c["state"] == state]
    if flagged:
        out = [c for c in out if c["flagged_for_review"]]
    return out


def expire_due(
    site: SiteLike, store: Store, *, address: str = "system", now: dt.datetime | None = None
) -> list[str]:
    """Mark every ``requested`` change past its expiry ``expired`` (audited); their ids.

    Listings already show such requests as expired; this records it (for a periodic job
    such as ``serve``, or the API).
    """
    at_us = _now_us(now)
    done = []
    with store.transaction():
        for rec in rows.list_changes(store, site.id):
            if (
                rec.state == "requested"
                and at_us >= rec.expires_at_us
                and rows.update_change(store, site.id, rec.id, "requested", state="expired")
            ):
                _audit_change(store, rec, at_us, "system", "change.expire", address)
                done.append(rec.id)
    return done


def show_change(
    site: Site, store: Store, change_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """One request (JSON-ready)."""
    return change_dict(_get(store, site, change_id), _now_us(now))


# --------------------------------------------------------------------------- executors
def make_executor(
    *,
    twin: str | None = None,
    twin_token_file: Any = None,
    modbus: str | None = None,
    registers: Mapping[str, Any] | None = None,
    mqtt: str | None = None,
    mqtt_prefix: str | None = None,
    mqtt_files: Any = None,
    site_id: str | None = None,
) -> CommandExecutor | None:
    """The executor the options name (at most one of twin, modbus, mqtt), or None.

    ``twin``: the control port ``HOST:PORT`` (token from ``twin_token_file``, else
    ``$HEATREUSE_TWIN_TOKEN``, else the twin's default token file); ``modbus``:
    ``HOST:PORT`` with ``registers`` (target -> ``ADDR[:UNIT[:SCALE]]`` or
    :class:`~heatreuse.telemetry.commands.ModbusCommandRegister`); ``mqtt``: a broker
    URL with ``mqtt_prefix`` (default ``heatreuse/SITE_ID``) and its
    :class:`~heatreuse.services.addresses.BrokerFiles` (password file, CA, client
    certificate and key) in ``mqtt_files``.
    """
    from heatreuse.services.addresses import parse_broker_url, parse_host_port
    from heatreuse.telemetry.commands import (
        ModbusCommandRegister,
        ModbusWriteExecutor,
        MqttCommandExecutor,
    )

    given = [x for x in (twin, modbus, mqtt) if x]
    if len(given) > 1:
        raise ChangeError("expected at most one of --twin, --modbus, --mqtt")
    if twin:
        from heatreuse.services.twin import control_token

        host, port = parse_host_port(twin, "--twin")
        return TwinControlExecutor(host, port, control_token(twin, twin_token_file))
    if modbus:
        host, port = parse_host_port(modbus, "--modbus")
        regs: dict[str, ModbusCommandRegister] = {}
        for target, spec in (registers or {}).items():
            if isinstance(spec, ModbusCommandRegister):
                regs[target] = spec
                continue
            parts = str(spec).split(":")
            try:
                addr = int(parts[0])
                unit = int(parts[1]) if len(parts) > 1 and parts[1] else 1
                scale = float(parts[2]) if len(parts) > 2 else 0.1
            except ValueError:
                raise ChangeError(
                    f"--register {target}={spec}: expected TARGET=ADDRESS[:UNIT[:SCALE]]"
                ) from None
            regs[target] = ModbusCommandRegister(
                addr, unit, scale, mode=target.endswith(".mode") or target.endswith("_override")
            )
        return ModbusWriteExecutor(host, port, regs)
    if mqtt:
        conn = parse_broker_url(mqtt, "--mqtt", mqtt_files)
        return MqttCommandExecutor(conn, mqtt_prefix or f"heatreuse/{site_id or 'site'}")
    return None


# --------------------------------------------------------------------------- entry points
def add_silence_or_request(
    site: Site,
    store: Store,
    matchers: list[str],
    duration: str | float,
    by: str,
    comment: str,
    *,
    start: str | None = None,
    expires: str | float = DEFAULT_EXPIRY,
    address: str = "cli",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A silence up to :data:`LONG_SILENCE_S` at once; a longer one as a change request.

    Returns ``{"silence": ...}`` or ``{"change": ...}`` (the request to approve).
    """
    from heatreuse.monitoring.routing import parse_duration_s
    from heatreuse.services.monitoring import add_silence

    try:
        seconds = parse_duration_s(duration, "--duration")
    except HeatreuseError:
        seconds = 0.0  # add_silence names the problem
    if seconds <= LONG_SILENCE_S:
        return {
            "silence": add_silence(
                site, store, matchers, duration, by, comment, start=start, now=now
            )
        }
    change = request_change(
        site,
        store,
        "silence",
        "silence",
        {"matchers": list(matchers), "duration": duration, "comment": comment, "start": start},
        comment,
        by=by,
        expires=expires,
        address=address,
        now=now,
    )
    return {"change": change}


def request_role_grant(
    store: Store,
    user: str,
    role: str,
    site_id: str,
    reason: str,
    *,
    by: str,
    expires: str | float = DEFAULT_EXPIRY,
    address: str = "cli",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A role grant as a change request (a second admin approves it)."""
    if people_rows.get_user(store, user) is None:
        raise ChangeError(f"user {user!r}: no such user (add it with `heatreuse users add`)")
    return request_change(
        SiteId(site_id),
        store,
        "role_grant",
        "role_grant",
        {"user": user, "role": role, "site_id": site_id},
        reason,
        by=by,
        expires=expires,
        address=address,
        now=now,
    )
