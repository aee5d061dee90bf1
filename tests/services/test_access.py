"""The permission table: every action x every role, deny by default, per site, per scope.

``EXPECTED`` restates the policy of operations.md (section Security) independently of
the code; the test walks every (action, role) pair against it and the table.
"""

from __future__ import annotations

import itertools

import pytest

from heatreuse.services import access

READERS = set(access.USER_ROLES)
EXPECTED: dict[str, set[str]] = {
    "site.read": READERS,
    "readings.read": READERS,
    "sla.read": READERS,
    "kpi.read": READERS,
    "ledger.read": READERS,
    "alerts.read": READERS,
    "incidents.read": READERS,
    "actions.read": READERS,
    "audit.read": {"security", "auditor", "admin"},
    "access.review": {"security", "auditor", "admin"},
    "access.signoff": {"security", "admin"},
    "readings.write": {"ingest_device"},
    "alerts.ack": {"operator", "facilities", "security"},
    "silences.write": {"operator", "facilities"},
    "incidents.write": {"operator", "facilities", "security"},
    "actions.write": {"operator", "facilities"},
    "maintenance.write": {"facilities"},
    "setpoint.request": {"operator", "facilities"},
    "setpoint.approve": {"facilities"},
    "command.execute": {"edge_writer"},
    "changes.read": READERS,
    "changes.review": {"facilities", "security"},
    "sla.write": {"facilities", "sustainability"},
    "ledger.update": {"sustainability"},
    "export.create": {"sustainability", "auditor"},
    "users.manage": {"admin"},
    "tokens.manage": {"admin"},
    "devices.manage": {"admin"},
    "config.write": {"admin"},
}
PLANT_WRITES = {"setpoint.request", "setpoint.approve", "command.execute", "maintenance.write"}


def test_table_lists_exactly_the_expected_actions() -> None:
    assert set(access.PERMISSIONS) == set(EXPECTED)


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_every_role_against_the_table(action: str) -> None:
    for role in access.ROLES:
        want = role in EXPECTED[action]
        assert access.role_allows(role, action) is want, (action, role)
        # the role on site A; site B is always denied
        assert access.is_allowed({"A": [role]}, "A", action) is want, (action, role)
        assert access.is_allowed({"A": [role]}, "B", action) is False, (action, role)


def test_policy_invariants() -> None:
    for action, roles in access.PERMISSIONS.items():
        if not action.endswith((".read", ".review")):
            assert "auditor" not in roles or action == "export.create", action  # changes nothing
        if action in PLANT_WRITES:
            assert "admin" not in roles, action  # admin: no plant writes
        # service principals do one thing each
        assert ("ingest_device" in roles) == (action == "readings.write"), action
        assert ("edge_writer" in roles) == (action == "command.execute"), action


def test_deny_by_default() -> None:
    assert not access.is_allowed({"A": ["admin"]}, "A", "no.such.action")
    assert not access.is_allowed({"A": ["root"]}, "A", "readings.read")
    assert not access.is_allowed({}, "A", "readings.read")


def test_scopes_narrow_roles() -> None:
    grants = {"A": ["operator"]}
    assert access.is_allowed(grants, "A", "alerts.ack", "write")
    assert not access.is_allowed(grants, "A", "alerts.ack", "read")
    assert not access.is_allowed(grants, "A", "alerts.ack", "display")
    assert access.is_allowed(grants, "A", "readings.read", "display")
    assert not access.is_allowed(grants, "A", "incidents.read", "display")
    # an ingest token writes readings and nothing else, whatever the roles
    for action, role in itertools.product(EXPECTED, access.ROLES):
        allowed = access.is_allowed({"A": [role]}, "A", action, access.DEVICE_SCOPE)
        assert allowed is (action == "readings.write" and role == "ingest_device")
    # no person's token writes readings or executes plant commands
    for role, scope in itertools.product(access.USER_ROLES, access.SCOPES):
        assert not access.is_allowed({"A": [role]}, "A", "readings.write", scope)
        assert not access.is_allowed({"A": [role]}, "A", "command.execute", scope)
