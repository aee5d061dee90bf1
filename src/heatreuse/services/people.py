"""People and permissions: users, logins, tokens, devices, the audit trail, access review.

* Passwords: argon2id (:mod:`argon2`, RFC 9106); the hasher is a parameter so tests
  use the cheapest profile (:func:`cheap_hasher`).
* Logins: :func:`login` with an injectable ``now``: at most
  :attr:`LoginPolicy.max_attempts_per_address` attempts per address per
  :attr:`LoginPolicy.window_s`; :attr:`LoginPolicy.lockout_after` consecutive failures
  lock the account for :attr:`LoginPolicy.lockout_s` (a right password is refused
  while locked).
* Tokens: ``hrt_<id>_<secret>`` (256 random bits), printed once; the store keeps the
  public ``id`` and HMAC-SHA256(server secret, token), never the token. The server
  secret lives outside the database in ``$HEATREUSE_HOME/keys/token-hmac.key`` (mode
  0600, created by the first writer): a copy of the database alone cannot check or
  forge a token.
* Devices: ingest principals of one site; their token (scope ``ingest``) writes
  readings of that site only (:func:`verify_device_token`).
* Every state change (user add/disable, role grant, token create/revoke, device add,
  login ok/failed, access-review sign-off) appends an ``audit`` row on each site it
  concerns; ``heatreuse ledger update`` folds them into the ledger, so ``heatreuse
  verify`` covers them. A failed login for a name no user has concerns no site: it is
  kept in ``login_attempts`` only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heatreuse.errors import AccessDeniedError, HeatreuseError
from heatreuse.locations import (
    PRIVATE_FILE_MODE,
    create_private_file,
    heatreuse_home,
)
from heatreuse.services import access
from heatreuse.store import people as rows
from heatreuse.store.base import AuditRecord, Store, to_epoch_us

if TYPE_CHECKING:
    from argon2 import PasswordHasher

#: File name of the token HMAC secret under ``$HEATREUSE_HOME/keys``.
TOKEN_SECRET_NAME = "token-hmac.key"
#: Tokens and users unused this long are flagged by the access review [d].
STALE_AFTER_D = 90.0
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_TOKEN_RE = re.compile(r"^hrt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD_CHARS = 10


def _now_us(now: dt.datetime | None) -> int:
    return to_epoch_us(now if now is not None else dt.datetime.now(dt.UTC), "now")


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- passwords
def default_hasher() -> PasswordHasher:
    """argon2id with the library's RFC 9106 low-memory profile (64 MiB, t=3, p=4)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


def cheap_hasher() -> PasswordHasher:
    """argon2id at the lowest cost (tests only: 8 KiB, one pass)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _check_name(name: str, what: str = "user name") -> str:
    if not _NAME_RE.match(name):
        raise HeatreuseError(
            f"{what}: expected 1-64 letters, digits or . _ @ - (starting with a letter or "
            f"digit), got {name!r}"
        )
    return name


# --------------------------------------------------------------------------- server secret
def token_secret_path() -> Path:
    """``$HEATREUSE_HOME/keys/token-hmac.key``."""
    return heatreuse_home() / "keys" / TOKEN_SECRET_NAME


def load_token_secret(path: str | os.PathLike[str] | None = None, *, create: bool = False) -> bytes:
    """Read the token HMAC secret (create it, 32 random bytes, mode 0600, if asked).

    Raises
    ------
    HeatreuseError
        Missing (and not ``create``), or readable by group or others.
    """
    p = Path(path) if path is not None else token_secret_path()
    if create and create_private_file(p):
        p.write_text(secrets.token_hex(32) + "\n")
    if not p.exists():
        raise HeatreuseError(
            f"{p}: the token secret does not exist (no token was ever created with this "
            "$HEATREUSE_HOME); create a user token or a device first"
        )
    mode = p.stat().st_mode & 0o777
    if mode & ~PRIVATE_FILE_MODE:
        raise HeatreuseError(
            f"{p}: the token secret has mode {mode:o}, expected 600 (owner only); "
            f"run: chmod 600 {p}"
        )
    text = p.read_text().strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < 32:
        raise HeatreuseError(f"{p}: expected 64 hex digits (32 bytes), got {len(text)} chars")
    return secret


def token_digest(secret: bytes, token: str) -> str:
    """HMAC-SHA256 of the token under the server secret (hex)."""
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def _new_token(secret: bytes) -> tuple[str, str, str]:
    token_id = secrets.token_hex(6)
    token = f"hrt_{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, token, token_digest(secret, token)


# --------------------------------------------------------------------------- audit
def _audit(
    store: Store,
    sites: Iterable[str],
    at_us: int,
    actor: str,
    action: str,
    target: str,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
) -> list[int]:
    return [
        store.append_audit(
            AuditRecord(
                site_id=s,
                at_us=at_us,
                actor=actor,
                action=action,
                target=target,
                reason=reason,
                detail=dict(detail or {}),
            )
        )
        for s in sorted(set(sites))
    ]


def _user_sites(store: Store, user_id: int) -> list[str]:
    return sorted({g.site_id for g in rows.list_grants(store, user_id=user_id)})


def list_audit(store: Store, site_id: str, since: Any = None) -> list[dict[str, Any]]:
    """Audit rows of a site (at or after ``since``), JSON-ready, oldest first."""
    try:
        since_us = None if since is None else to_epoch_us(since, "--since")
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, HeatreuseError):
            raise
        raise HeatreuseError(
            f"--since: expected an ISO time such as 2026-03-01T00:00Z, got {since!r}"
        ) from None
    return [
        {
            "id": r.id,
            "at": _iso(r.at_us),
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "reason": r.reason,
            "detail": dict(r.detail),
        }
        for r in store.list_audit(site_id)
        if since_us is None or r.at_us >= since_us
    ]


# --------------------------------------------------------------------------- users
def _require_user(store: Store, name: str) -> rows.UserRecord:
    user = rows.get_user(store, name)
    if user is None:
        raise HeatreuseError(f"user {name!r}: no such user (see `heatreuse users list`)")
    return user


def add_user(
    store: Store,
    name: str,
    password: str,
    role: str,
    site_id: str,
    *,
    by: str,
    hasher: PasswordHasher | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Create a user with an argon2id password and one role on one site (both audited)."""
    _check_name(name)
    access.check_role(role)
    _check_name(site_id, "--site")
    if len(password) < MIN_PASSWORD_CHARS:
        raise HeatreuseError(
            f"password of {name!r}: expected at least {MIN_PASSWORD_CHARS} characters, "
            f"got {len(password)}"
        )
    at_us = _now_us(now)
    pw_hash = (hasher or default_hasher()).hash(password)
    with store.transaction():
        if rows.get_user(store, name) is not None:
            raise HeatreuseError(f"user {name!r} exists; grant roles with `users grant`")
        uid = rows.insert_user(store, name, pw_hash, at_us)
        rows.grant_role(store, uid, site_id, role, by, at_us)
        _audit(store, [site_id], at_us, by, "user.add", f"user {name}", "", {"user": name})
        _audit(
            store,
            [site_id],
            at_us,
            by,
            "role.grant",
            f"user {name}",
            "",
            {"user": name, "role": role, "site_id": site_id},
        )
    return {"id": uid, "name": name, "role": role, "site_id": site_id}


def site_admins(store: Store, site_id: str) -> list[str]:
    """Names of the enabled users holding the admin role on ``site_id`` (sorted).

    Under two of them a site is still being set up: there is no second admin to approve
    a role grant, so ``heatreuse users add`` grants the first role directly.
    """
    enabled = {u.id for u in rows.list_users(store) if u.disabled_at_us is None}
    grants = rows.list_grants(store, site_id=site_id)
    return sorted({g.user_name for g in grants if g.role == "admin" and g.user_id in enabled})


_TWO_ADMINS_KEY = "people.two_admins."


def role_grants_need_approval(store: Store, site_id: str) -> tuple[bool, list[str]]:
    """Whether a role above viewer on ``site_id`` needs a second admin's approval, and
    the site's enabled admins.

    Yes once the site has had two admins (:func:`note_site_admins` keeps that in the
    ``meta`` table): disabling one of them never reopens the set-up's direct grants.
    """
    admins = site_admins(store, site_id)
    sticky = store.get_meta(_TWO_ADMINS_KEY + site_id) is not None
    return len(admins) >= 2 or sticky, admins


def note_site_admins(store: Store, site_id: str, now: dt.datetime | None = None) -> None:
    """Record that ``site_id`` has two admins (once): role grants need approval from now on."""
    key = _TWO_ADMINS_KEY + site_id
    if len(site_admins(store, site_id)) >= 2 and store.get_meta(key) is None:
        store.set_meta(key, str(_iso(_now_us(now))))


def grant_role(
    store: Store,
    name: str,
    role: str,
    site_id: str,
    *,
    by: str,
    now: dt.datetime | None = None,
) -> bool:
    """Grant a user a role on a site (audited); False if already held."""
    access.check_role(role)
    at_us = _now_us(now)
    with store.transaction():
        user = _require_user(store, name)
        new = rows.grant_role(store, user.id, site_id, role, by, at_us)
        if new:
            _audit(
                store,
                [site_id],
                at_us,
                by,
                "role.grant",
                f"user {name}",
                "",
                {"user": name, "role": role, "site_id": site_id},
            )
    return new


def disable_user(store: Store, name: str, *, by: str, now: dt.datetime | None = None) -> bool:
    """Disable a user (logins and tokens refused from now on; audited on each site)."""
    at_us = _now_us(now)
    with store.transaction():
        user = _require_user(store, name)
        if user.disabled_at_us is not None:
            return False
        rows.disable_user(store, user.id, at_us)
        _audit(
            store, _user_sites(store, user.id), at_us, by, "user.disable", f"user {name}", "", {}
        )
    return True


def list_users(store: Store) -> list[dict[str, Any]]:
    """Every user with roles per site, state and last login (JSON-ready)."""
    grants: dict[int, list[str]] = {}
    for g in rows.list_grants(store):
        grants.setdefault(g.user_id, []).append(f"{g.role}@{g.site_id}")
    return [
        {
            "name": u.name,
            "roles": grants.get(u.id, []),
            "disabled": u.disabled_at_us is not None,
            "created": _iso(u.created_at_us),
            "last_login": _iso(u.last_login_us),
            "locked_until": _iso(u.locked_until_us),
        }
        for u in rows.list_users(store)
    ]


# --------------------------------------------------------------------------- login
@dataclass(frozen=True)
class LoginPolicy:
    """Rate limit and lockout of :func:`login`."""

    #: Attempts allowed from one address per window (ok or not).
    max_attempts_per_address: int = 10
    #: The rate-limit window [s].
    window_s: float = 60.0
    #: Consecutive failures that lock an account.
    lockout_after: int = 5
    #: How long a lock lasts [s].
    lockout_s: float = 900.0


@dataclass(frozen=True)
class LoginResult:
    """The outcome of :func:`login`: ``reason`` is ``ok``, ``bad_credentials``,
    ``locked``, ``disabled`` or ``rate_limited``; ``retry_after_s`` for the last two
    kinds of waiting."""

    ok: bool
    reason: str
    user: str
    retry_after_s: float = 0.0


def login(
    store: Store,
    name: str,
    password: str,
    *,
    address: str,
    now: dt.datetime | None = None,
    hasher: PasswordHasher | None = None,
    policy: LoginPolicy | None = None,
) -> LoginResult:
    """Check a password, with rate limiting per address and lockout per account.

    The attempt is recorded in ``login_attempts``; for a known user also as an audit
    entry (``login.ok`` / ``login.failed`` with the reason and the address) on each of
    the user's sites. The same answer (``bad_credentials``) for an unknown name and a
    wrong password.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    pol = policy or LoginPolicy()
    ph = hasher or default_hasher()
    at_us = _now_us(now)
    window_us = int(pol.window_s * 1e6)
    with store.transaction() as tx:
        # parallel attempts (API threads, several processes) must not read the same
        # failure count or attempt count: one login at a time decides and records
        store.lock(tx, "login")
        recent = rows.count_login_attempts(store, address=address, since_us=at_us - window_us)
        user = rows.get_user(store, name)
        retry = 0.0
        if recent >= pol.max_attempts_per_address:
            reason, retry = "rate_limited", pol.window_s
        elif user is None:
            reason = "bad_credentials"
        elif user.disabled_at_us is not None:
            reason = "disabled"
        elif user.locked_until_us is not None and user.locked_until_us > at_us:
            reason, retry = "locked", (user.locked_until_us - at_us) / 1e6
        else:
            try:
                ph.verify(user.password_hash, password)
                reason = "ok"
            except (VerificationError, InvalidHashError):
                reason = "bad_credentials"
        ok = reason == "ok"
        rows.insert_login_attempt(store, name, address, at_us, ok, reason)
        if user is None:
            return LoginResult(False, reason, name, retry)
        if ok:
            rehash = ph.hash(password) if ph.check_needs_rehash(user.password_hash) else None
            rows.set_login_state(
                store,
                user.id,
                failed_logins=0,
                locked_until_us=None,
                last_login_us=at_us,
                password_hash=rehash,
            )
        elif reason == "bad_credentials":
            failed = user.failed_logins + 1
            locked = at_us + int(pol.lockout_s * 1e6) if failed >= pol.lockout_after else None
            rows.set_login_state(
                store, user.id, failed_logins=failed, locked_until_us=locked, last_login_us=None
            )
            if locked is not None:
                reason_detail = {"locked_until": _iso(locked), "failed_logins": failed}
                _audit(
                    store,
                    _user_sites(store, user.id),
                    at_us,
                    "system",
                    "user.lock",
                    f"user {name}",
                    f"{failed} failed logins",
                    reason_detail,
                )
        _audit(
            store,
            _user_sites(store, user.id),
            at_us,
            name,
            "login.ok" if ok else "login.failed",
            f"user {name}",
            "" if ok else reason,
            {"address": address},
        )
    return LoginResult(ok, reason, name, retry)


# --------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class Principal:
    """Who a token belongs to: a user (roles per site, token scope) or a device."""

    kind: str  # "user" or "device"
    name: str
    token_id: str
    scope: str
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def may(self, site_id: str, action: str) -> bool:
        """Whether this principal may do ``action`` on ``site_id`` (role and scope)."""
        return access.is_allowed(self.grants, site_id, action, self.scope)


def _expiry_us(expires: str | None, at_us: int) -> int | None:
    if expires is None or expires.strip().lower() in ("", "never"):
        return None
    from heatreuse.monitoring.routing import parse_duration_s

    seconds = parse_duration_s(expires, "--expires")
    if seconds <= 0:
        raise HeatreuseError(
            f"--expires: expected a positive duration such as 30d, got {expires!r}"
        )
    return at_us + int(seconds * 1e6)


def create_token(
    store: Store,
    user: str,
    *,
    scope: str = "read",
    expires: str | None = "30d",
    by: str,
    secret: bytes,
    now: dt.datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """Create an API token for a user; returns the token (show it once) and its listing."""
    access.check_scope(scope)
    at_us = _now_us(now)
    expiry = _expiry_us(expires, at_us)
    token_id, token, digest = _new_token(secret)
    with store.transaction():
        u = _require_user(store, user)
        if u.disabled_at_us is not None:
            raise HeatreuseError(f"user {user!r} is disabled: no new tokens")
        rows.insert_token(
            store,
            rows.TokenRecord(token_id, u.id, None, None, scope, digest, at_us, expiry, None, None),
        )
        _audit(
            store,
            _user_sites(store, u.id),
            at_us,
            by,
            "token.create",
            f"token {token_id}",
            "",
            {"user": user, "scope": scope, "expires": _iso(expiry)},
        )
    return token, {"id": token_id, "user": user, "scope": scope, "expires": _iso(expiry)}


def revoke_token(store: Store, token_id: str, *, by: str, now: dt.datetime | None = None) -> bool:
    """Revoke a token (audited); False if it was already revoked."""
    at_us = _now_us(now)
    with store.transaction():
        rec = rows.get_token(store, token_id)
        if rec is None:
            raise HeatreuseError(f"token {token_id!r}: no such token (see `heatreuse tokens list`)")
        if not rows.revoke_token(store, token_id, at_us):
            return False
        sites = [rec.site_id] if rec.site_id else _user_sites(store, rec.user_id or 0)
        _audit(store, sites, at_us, by, "token.revoke", f"token {token_id}", "", {})
    return True


def add_device(
    store: Store,
    site_id: str,
    name: str,
    *,
    by: str,
    secret: bytes,
    now: dt.datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """Create an ingest device of a site and its token (scope ``ingest``, no expiry)."""
    _check_name(name, "device name")
    at_us = _now_us(now)
    token_id, token, digest = _new_token(secret)
    with store.transaction():
        if rows.get_device(store, site_id, name) is not None:
            raise HeatreuseError(f"device {name!r} of site {site_id!r} exists")
        did = rows.insert_device(store, site_id, name, at_us)
        rows.insert_token(
            store,
            rows.TokenRecord(
                token_id, None, did, site_id, access.DEVICE_SCOPE, digest, at_us, None, None, None
            ),
        )
        _audit(
            store,
            [site_id],
            at_us,
            by,
            "device.add",
            f"device {name}",
            "",
            {"device": name, "token_id": token_id},
        )
    return token, {"id": token_id, "device": name, "site_id": site_id}


def _find_token(store: Store, token: str, secret: bytes, at_us: int) -> rows.TokenRecord | None:
    m = _TOKEN_RE.match(token.strip()) if isinstance(token, str) else None
    if m is None:
        return None
    rec = rows.get_token(store, m.group(1))
    if rec is None or not hmac.compare_digest(rec.digest, token_digest(secret, token.strip())):
        return None
    if rec.revoked_at_us is not None:
        return None
    if rec.expires_at_us is not None and rec.expires_at_us <= at_us:
        return None
    return rec


def verify_token(
    store: Store, token: str, *, secret: bytes, now: dt.datetime | None = None
) -> Principal | None:
    """The principal of a valid token (not expired, revoked, or of a disabled user)."""
    at_us = _now_us(now)
    rec = _find_token(store, token, secret, at_us)
    if rec is None:
        return None
    if rec.device_id is not None:
        devs = [d for d in rows.list_devices(store, rec.site_id) if d.id == rec.device_id]
        if not devs or devs[0].disabled_at_us is not None or rec.site_id is None:
            return None
        principal = Principal(
            "device", devs[0].name, rec.id, rec.scope, {rec.site_id: ("ingest_device",)}
        )
    else:
        user = rows.get_user_by_id(store, rec.user_id or 0)
        if user is None or user.disabled_at_us is not None:
            return None
        grants: dict[str, list[str]] = {}
        for g in rows.list_grants(store, user_id=user.id):
            grants.setdefault(g.site_id, []).append(g.role)
        principal = Principal(
            "user", user.name, rec.id, rec.scope, {s: tuple(r) for s, r in grants.items()}
        )
    if rec.last_used_us is None or at_us - rec.last_used_us >= 60_000_000:
        rows.touch_token(store, rec.id, at_us)  # at most once a minute per token
    return principal


def verify_device_token(
    store: Store,
    site_id: str,
    token: str,
    *,
    secret: bytes,
    now: dt.datetime | None = None,
) -> Principal | None:
    """A principal allowed to write readings of ``site_id`` with this token, or None."""
    principal = verify_token(store, token, secret=secret, now=now)
    if principal is None or not principal.may(site_id, "readings.write"):
        return None
    return principal


def require(principal: Principal | None, site_id: str, action: str) -> Principal:
    """Return the principal if it may do ``action`` on ``site_id``; else raise."""
    if principal is None or not principal.may(site_id, action):
        raise AccessDeniedError(f"{action} on site {site_id!r}: not allowed")
    return principal


def list_tokens(store: Store, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every token (never the token or its digest), with owner, scope and state."""
    at_us = _now_us(now)
    users = {u.id: u.name for u in rows.list_users(store)}
    devices = {d.id: d.name for d in rows.list_devices(store)}
    out = []
    for t in rows.list_tokens(store):
        if t.revoked_at_us is not None:
            state = "revoked"
        elif t.expires_at_us is not None and t.expires_at_us <= at_us:
            state = "expired"
        else:
            state = "active"
        out.append(
            {
                "id": t.id,
                "owner": users.get(t.user_id or -1) or devices.get(t.device_id or -1),
                "kind": "device" if t.device_id is not None else "user",
                "site_id": t.site_id,
                "scope": t.scope,
                "state": state,
                "created": _iso(t.created_at_us),
                "expires": _iso(t.expires_at_us),
                "last_used": _iso(t.last_used_us),
            }
        )
    return out


# --------------------------------------------------------------------------- access review
def access_review(
    store: Store,
    *,
    site_id: str | None = None,
    now: dt.datetime | None = None,
    stale_after_d: float = STALE_AFTER_D,
) -> list[dict[str, Any]]:
    """Every user, token and device with role, last use and expiry, and what to look at.

    ``flags``: ``expired``, ``unused_90d`` (never used, or last used more than
    ``stale_after_d`` days ago, counted from creation when never used), ``disabled``,
    ``revoked``.
    """
    at_us = _now_us(now)
    stale_us = int(stale_after_d * 86_400e6)

    def unused(last: int | None, created: int) -> bool:
        return at_us - (last if last is not None else created) > stale_us

    grants = rows.list_grants(store, site_id=site_id)
    users = {u.id: u for u in rows.list_users(store)}
    out: list[dict[str, Any]] = []
    roles_of: dict[int, list[str]] = {}
    for g in grants:
        roles_of.setdefault(g.user_id, []).append(f"{g.role}@{g.site_id}")
    for uid, roles in roles_of.items():
        u = users[uid]
        flags = []
        if u.disabled_at_us is not None:
            flags.append("disabled")
        elif unused(u.last_login_us, u.created_at_us):
            flags.append("unused_90d")
        out.append(
            {
                "kind": "user",
                "name": u.name,
                "roles": roles,
                "last_use": _iso(u.last_login_us),
                "expires": None,
                "flags": flags,
            }
        )
    devices = {d.id: d for d in rows.list_devices(store, site_id)}
    tokens = rows.list_tokens(store)
    device_last: dict[int, int] = {}
    for t in tokens:
        if t.device_id is not None and t.last_used_us is not None:
            device_last[t.device_id] = max(t.last_used_us, device_last.get(t.device_id, 0))
    for d in devices.values():
        flags = []
        if d.disabled_at_us is not None:
            flags.append("disabled")
        elif unused(device_last.get(d.id), d.created_at_us):
            flags.append("unused_90d")
        out.append(
            {
                "kind": "device",
                "name": f"{d.name}@{d.site_id}",
                "roles": [f"ingest_device@{d.site_id}"],
                "last_use": _iso(device_last.get(d.id)),
                "expires": None,
                "flags": flags,
            }
        )
    for t in tokens:
        if t.device_id is not None:
            if t.device_id not in devices:
                continue
            owner, roles = devices[t.device_id].name, [f"ingest_device@{t.site_id}"]
        else:
            if t.user_id is None or t.user_id not in roles_of:
                continue
            owner, roles = users[t.user_id].name, roles_of[t.user_id]
        flags = []
        if t.revoked_at_us is not None:
            flags.append("revoked")
        elif t.expires_at_us is not None and t.expires_at_us <= at_us:
            flags.append("expired")
        elif unused(t.last_used_us, t.created_at_us):
            flags.append("unused_90d")
        out.append(
            {
                "kind": "token",
                "name": f"{t.id} ({owner}, {t.scope})",
                "roles": roles,
                "last_use": _iso(t.last_used_us),
                "expires": _iso(t.expires_at_us),
                "flags": flags,
            }
        )
    return out


def sign_off_review(
    store: Store,
    review: list[dict[str, Any]],
    *,
    by: str,
    site_id: str | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Record that ``by`` reviewed access (audit ``access.review`` on each site concerned)."""
    if not by.strip():
        raise HeatreuseError("--by: expected the reviewer's name, got nothing")
    at_us = _now_us(now)
    sites = (
        [site_id]
        if site_id is not None
        else sorted(
            {g.site_id for g in rows.list_grants(store)}
            | {d.site_id for d in rows.list_devices(store)}
        )
    )
    if not sites:
        raise HeatreuseError("access review: no site has users or devices; nothing to sign off")
    flagged = sum(1 for r in review if r["flags"])
    detail = {"entries": len(review), "flagged": flagged}
    return _audit(store, sites, at_us, by, "access.review", "access", "sign-off", detail)
