"""Who may do what: the one permission table (action -> roles), per site, deny by default.

Roles are granted per site (``role_grants``); a role on site A gives nothing on site
B. ``auditor`` reads everything and changes nothing; ``admin`` manages users and
configuration and never writes to the plant. Service principals: ``ingest_device``
(writes readings of its site, nothing else) and ``edge_writer`` (executes approved
commands, nothing else). An action missing from :data:`PERMISSIONS` is denied.

Reference: docs in ``operations.md`` (section Security); NIST SP 800-53 AC-6 (least
privilege), CM-5(4) (two-person rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from heatreuse.errors import HeatreuseError

#: Roles a person can hold on a site.
USER_ROLES = ("viewer", "operator", "facilities", "sustainability", "security", "auditor", "admin")
#: Roles of service principals.
SERVICE_ROLES = ("ingest_device", "edge_writer")
ROLES = USER_ROLES + SERVICE_ROLES

_READERS = frozenset(USER_ROLES)

#: THE permission table: action -> the roles that may do it on a site.
PERMISSIONS: Mapping[str, frozenset[str]] = {
    # reads: every person with a role on the site
    "site.read": _READERS,
    "readings.read": _READERS,
    "sla.read": _READERS,
    "kpi.read": _READERS,
    "ledger.read": _READERS,
    "alerts.read": _READERS,
    "incidents.read": _READERS,
    "actions.read": _READERS,
    # who did what: those who check, not everyone
    "audit.read": frozenset({"security", "auditor", "admin"}),
    "access.review": frozenset({"security", "auditor", "admin"}),
    "access.signoff": frozenset({"security", "admin"}),
    # telemetry in: devices only
    "readings.write": frozenset({"ingest_device"}),
    # operations
    "alerts.ack": frozenset({"operator", "facilities", "security"}),
    "silences.write": frozenset({"operator", "facilities"}),
    "incidents.write": frozenset({"operator", "facilities", "security"}),
    "actions.write": frozenset({"operator", "facilities"}),
    "maintenance.write": frozenset({"facilities"}),
    # plant writes (two-person rule): request, approve, and the writer that executes
    "setpoint.request": frozenset({"operator", "facilities"}),
    "setpoint.approve": frozenset({"facilities"}),
    "command.execute": frozenset({"edge_writer"}),
    # change requests (services.changes): everyone on the site sees them; a break-glass
    # override is reviewed by someone else who holds one of these roles
    "changes.read": _READERS,
    "changes.review": frozenset({"facilities", "security"}),
    # contract and reporting
    "sla.write": frozenset({"facilities", "sustainability"}),
    "ledger.update": frozenset({"sustainability"}),
    "export.create": frozenset({"sustainability", "auditor"}),
    # people and configuration
    "users.manage": frozenset({"admin"}),
    "tokens.manage": frozenset({"admin"}),
    "devices.manage": frozenset({"admin"}),
    "config.write": frozenset({"admin"}),
}

#: Silences longer than this need the two-person rule (a change request) [s]: 4 h.
TWO_PERSON_SILENCE_S = 4 * 3600.0

#: Token scopes and the actions each allows (a token also needs the user's role).
SCOPES: Mapping[str, frozenset[str]] = {
    "read": frozenset(a for a, r in PERMISSIONS.items() if r == _READERS)
    | {"audit.read", "access.review"},
    "write": frozenset(PERMISSIONS) - {"readings.write", "command.execute"},
    "display": frozenset({"site.read", "readings.read", "sla.read", "kpi.read", "alerts.read"}),
}
#: The scope of device tokens.
DEVICE_SCOPE = "ingest"


def check_role(role: str) -> str:
    """Return ``role`` if it is a known person role, else raise a clear error."""
    if role not in USER_ROLES:
        raise HeatreuseError(f"--role: expected one of {', '.join(USER_ROLES)}, got {role!r}")
    return role


def check_scope(scope: str) -> str:
    """Return ``scope`` if it is a known token scope, else raise a clear error."""
    if scope not in SCOPES:
        raise HeatreuseError(f"--scope: expected one of {', '.join(SCOPES)}, got {scope!r}")
    return scope


def role_allows(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action`` (unknown role or action: no)."""
    return role in PERMISSIONS.get(action, frozenset())


def is_allowed(
    grants: Mapping[str, Iterable[str]],
    site_id: str,
    action: str,
    scope: str | None = None,
) -> bool:
    """Whether a principal with ``grants`` (site id -> roles) may do ``action`` on ``site_id``.

    Only the roles held on ``site_id`` count. With a token ``scope``, the action must
    also be in that scope (``ingest`` allows ``readings.write`` only).
    """
    if scope is not None:
        allowed = {"readings.write"} if scope == DEVICE_SCOPE else SCOPES.get(scope, frozenset())
        if action not in allowed:
            return False
    return any(role_allows(role, action) for role in grants.get(site_id, ()))
