"""Rows of the people tables (migration 5): users, role grants, devices, tokens, logins.

These functions only move rows; what to write (hashing, HMAC, lockout, audit entries)
is decided in :mod:`heatreuse.services.people`. Each call joins a transaction the caller
opened with :meth:`heatreuse.store.Store.transaction`, or runs in its own. Times are µs
since 1970-01-01 UTC like the rest of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from heatreuse.store.base import Store


def _opt(x: Any) -> int | None:
    return None if x is None else int(x)


@dataclass(frozen=True)
class UserRecord:
    """A row of ``users``."""

    id: int
    name: str
    password_hash: str
    created_at_us: int
    disabled_at_us: int | None
    last_login_us: int | None
    failed_logins: int
    locked_until_us: int | None


@dataclass(frozen=True)
class GrantRecord:
    """A role of a user on a site (a row of ``role_grants`` with the user's name)."""

    user_id: int
    user_name: str
    site_id: str
    role: str
    granted_by: str
    granted_at_us: int


@dataclass(frozen=True)
class DeviceRecord:
    """An ingest principal of a site (a row of ``devices``)."""

    id: int
    site_id: str
    name: str
    created_at_us: int
    disabled_at_us: int | None


@dataclass(frozen=True)
class TokenRecord:
    """A token (a row of ``tokens``): its HMAC digest, never the token itself."""

    id: str
    user_id: int | None
    device_id: int | None
    site_id: str | None
    scope: str
    digest: str
    created_at_us: int
    expires_at_us: int | None
    revoked_at_us: int | None
    last_used_us: int | None


_USER_COLS = (
    "id, name, password_hash, created_at_us, disabled_at_us, last_login_us, "
    "failed_logins, locked_until_us"
)
_TOKEN_COLS = (
    "id, user_id, device_id, site_id, scope, digest, created_at_us, expires_at_us, "
    "revoked_at_us, last_used_us"
)


def _user(r: Sequence[Any]) -> UserRecord:
    return UserRecord(
        id=int(r[0]),
        name=str(r[1]),
        password_hash=str(r[2]),
        created_at_us=int(r[3]),
        disabled_at_us=_opt(r[4]),
        last_login_us=_opt(r[5]),
        failed_logins=int(r[6]),
        locked_until_us=_opt(r[7]),
    )


def _token(r: Sequence[Any]) -> TokenRecord:
    return TokenRecord(
        id=str(r[0]),
        user_id=_opt(r[1]),
        device_id=_opt(r[2]),
        site_id=None if r[3] is None else str(r[3]),
        scope=str(r[4]),
        digest=str(r[5]),
        created_at_us=int(r[6]),
        expires_at_us=_opt(r[7]),
        revoked_at_us=_opt(r[8]),
        last_used_us=_opt(r[9]),
    )


# --------------------------------------------------------------------------- users
def insert_user(store: Store, name: str, password_hash: str, at_us: int) -> int:
    """Insert a user; returns its id."""
    with store.transaction() as tx:
        rows = tx.execute(
            "INSERT INTO users (name, password_hash, created_at_us, failed_logins) "
            "VALUES (?, ?, ?, 0) RETURNING id",
            (name, password_hash, int(at_us)),
        )
    return int(rows[0][0])


def get_user(store: Store, name: str) -> UserRecord | None:
    """The user called ``name``, or None."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(f"SELECT {_USER_COLS} FROM users WHERE name = ?", (name,))
    return _user(rows[0]) if rows else None


def get_user_by_id(store: Store, user_id: int) -> UserRecord | None:
    """The user with id ``user_id``, or None."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (int(user_id),))
    return _user(rows[0]) if rows else None


def list_users(store: Store) -> list[UserRecord]:
    """Every user, by name."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(f"SELECT {_USER_COLS} FROM users ORDER BY name")
    return [_user(r) for r in rows]


def disable_user(store: Store, user_id: int, at_us: int) -> None:
    """Mark a user disabled (kept for the audit trail, never deleted)."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE users SET disabled_at_us = ? WHERE id = ? AND disabled_at_us IS NULL",
            (int(at_us), int(user_id)),
        )


def set_login_state(
    store: Store,
    user_id: int,
    *,
    failed_logins: int,
    locked_until_us: int | None,
    last_login_us: int | None,
    password_hash: str | None = None,
) -> None:
    """Record the outcome of a login on the user row (counters, lock, last login)."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE users SET failed_logins = ?, locked_until_us = ?, "
            "last_login_us = COALESCE(?, last_login_us), "
            "password_hash = COALESCE(?, password_hash) WHERE id = ?",
            (int(failed_logins), locked_until_us, last_login_us, password_hash, int(user_id)),
        )


def insert_login_attempt(
    store: Store, user_name: str, address: str, at_us: int, ok: bool, reason: str
) -> None:
    """Append a login attempt."""
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO login_attempts (user_name, address, at_us, ok, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            (user_name, address, int(at_us), 1 if ok else 0, reason),
        )


def count_login_attempts(store: Store, *, address: str, since_us: int) -> int:
    """Login attempts from ``address`` at or after ``since_us``."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT COUNT(*) FROM login_attempts WHERE address = ? AND at_us >= ?",
            (address, int(since_us)),
        )
    return int(rows[0][0])


# --------------------------------------------------------------------------- grants
def grant_role(store: Store, user_id: int, site_id: str, role: str, by: str, at_us: int) -> bool:
    """Grant ``role`` on ``site_id``; False if the user already held it."""
    with store.transaction() as tx:
        rows = tx.execute(
            "INSERT INTO role_grants (user_id, site_id, role, granted_by, granted_at_us) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, site_id, role) DO NOTHING "
            "RETURNING user_id",
            (int(user_id), site_id, role, by, int(at_us)),
        )
    return bool(rows)


def list_grants(
    store: Store, *, site_id: str | None = None, user_id: int | None = None
) -> list[GrantRecord]:
    """Role grants, optionally of one site and/or one user, by site, user, role."""
    sql = (
        "SELECT g.user_id, u.name, g.site_id, g.role, g.granted_by, g.granted_at_us "
        "FROM role_grants g JOIN users u ON u.id = g.user_id WHERE 1 = 1"
    )
    params: list[Any] = []
    if site_id is not None:
        sql += " AND g.site_id = ?"
        params.append(site_id)
    if user_id is not None:
        sql += " AND g.user_id = ?"
        params.append(int(user_id))
    sql += " ORDER BY g.site_id, u.name, g.role"
    with store.transaction(write=False) as tx:
        rows = tx.execute(sql, params)
    return [
        GrantRecord(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5])) for r in rows
    ]


# --------------------------------------------------------------------------- devices
def insert_device(store: Store, site_id: str, name: str, at_us: int) -> int:
    """Insert an ingest device of a site; returns its id."""
    with store.transaction() as tx:
        rows = tx.execute(
            "INSERT INTO devices (site_id, name, created_at_us) VALUES (?, ?, ?) RETURNING id",
            (site_id, name, int(at_us)),
        )
    return int(rows[0][0])


def _device(r: Sequence[Any]) -> DeviceRecord:
    return DeviceRecord(int(r[0]), str(r[1]), str(r[2]), int(r[3]), _opt(r[4]))


def get_device(store: Store, site_id: str, name: str) -> DeviceRecord | None:
    """The device ``name`` of ``site_id``, or None."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT id, site_id, name, created_at_us, disabled_at_us FROM devices "
            "WHERE site_id = ? AND name = ?",
            (site_id, name),
        )
    return _device(rows[0]) if rows else None


def list_devices(store: Store, site_id: str | None = None) -> list[DeviceRecord]:
    """Devices (of one site), by site and name."""
    sql = "SELECT id, site_id, name, created_at_us, disabled_at_us FROM devices"
    params: tuple[Any, ...] = ()
    if site_id is not None:
        sql += " WHERE site_id = ?"
        params = (site_id,)
    with store.transaction(write=False) as tx:
        rows = tx.execute(sql + " ORDER BY site_id, name", params)
    return [_device(r) for r in rows]


# --------------------------------------------------------------------------- tokens
def insert_token(store: Store, rec: TokenRecord) -> None:
    """Insert a token row (its digest, never the token)."""
    with store.transaction() as tx:
        tx.execute(
            f"INSERT INTO tokens ({_TOKEN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rec.id,
                rec.user_id,
                rec.device_id,
                rec.site_id,
                rec.scope,
                rec.digest,
                int(rec.created_at_us),
                rec.expires_at_us,
                rec.revoked_at_us,
                rec.last_used_us,
            ),
        )


def get_token(store: Store, token_id: str) -> TokenRecord | None:
    """The token with public id ``token_id``, or None."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(f"SELECT {_TOKEN_COLS} FROM tokens WHERE id = ?", (token_id,))
    return _token(rows[0]) if rows else None


def list_tokens(store: Store) -> list[TokenRecord]:
    """Every token row, oldest first."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(f"SELECT {_TOKEN_COLS} FROM tokens ORDER BY created_at_us, id")
    return [_token(r) for r in rows]


def revoke_token(store: Store, token_id: str, at_us: int) -> bool:
    """Revoke a token; False if it was already revoked."""
    with store.transaction() as tx:
        rows = tx.execute(
            "UPDATE tokens SET revoked_at_us = ? WHERE id = ? AND revoked_at_us IS NULL "
            "RETURNING id",
            (int(at_us), token_id),
        )
    return bool(rows)


def touch_token(store: Store, token_id: str, at_us: int) -> None:
    """Record the last use of a token."""
    with store.transaction() as tx:
        tx.execute("UPDATE tokens SET last_used_us = ? WHERE id = ?", (int(at_us), token_id))
