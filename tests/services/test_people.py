"""Users, logins (rate limit, lockout), tokens, devices, audit entries, access review.

Both backends; argon2id at its cheapest profile; every time is an injected ``now``.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from heatreuse.errors import HeatreuseError
from heatreuse.services import people
from heatreuse.store import Store, open_store

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
PW = "correct horse battery"
H = people.cheap_hasher()


@pytest.fixture
def store(backend_url: str) -> Iterator[Store]:
    s = open_store(backend_url, create=True)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def secret(tmp_path: Path) -> bytes:
    return people.load_token_secret(tmp_path / "keys" / "token-hmac.key", create=True)


def _add(store: Store, name: str = "ana", role: str = "operator", site: str = "pool") -> None:
    people.add_user(store, name, PW, role, site, by="root", hasher=H, now=T0)


def _actions(store: Store, site: str) -> list[str]:
    return [r.action for r in store.list_audit(site)]


def test_password_is_argon2id_and_verifies(store: Store) -> None:
    _add(store)
    user = people.rows.get_user(store, "ana")
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert PW not in user.password_hash
    ok = people.login(store, "ana", PW, address="10.0.0.1", now=T0, hasher=H)
    bad = people.login(store, "ana", "wrong password", address="10.0.0.1", now=T0, hasher=H)
    nobody = people.login(store, "bob", PW, address="10.0.0.1", now=T0, hasher=H)
    assert (ok.ok, ok.reason) == (True, "ok")
    assert (bad.ok, bad.reason) == (False, "bad_credentials")
    assert (nobody.ok, nobody.reason) == (False, "bad_credentials")
    assert _actions(store, "pool") == ["user.add", "role.grant", "login.ok", "login.failed"]


def test_short_password_and_unknown_role_refused(store: Store) -> None:
    with pytest.raises(HeatreuseError, match="at least 10 characters"):
        people.add_user(store, "ana", "short", "operator", "pool", by="root", hasher=H)
    with pytest.raises(HeatreuseError, match="--role: expected one of"):
        people.add_user(store, "ana", PW, "superuser", "pool", by="root", hasher=H)


def test_lockout_after_five_failures_then_unlocks(store: Store) -> None:
    _add(store)
    pol = people.LoginPolicy(max_attempts_per_address=100, lockout_after=5, lockout_s=900)
    for i in range(5):
        r = people.login(
            store, "ana", "nope nope nope", address=f"a{i}", now=T0, hasher=H, policy=pol
        )
        assert r.reason == "bad_credentials"
    # the right password is refused while locked
    t1 = T0 + dt.timedelta(minutes=14)
    locked = people.login(store, "ana", PW, address="b", now=t1, hasher=H, policy=pol)
    assert (locked.ok, locked.reason) == (False, "locked")
    assert locked.retry_after_s == pytest.approx(60.0)
    t2 = T0 + dt.timedelta(minutes=15, seconds=1)
    assert people.login(store, "ana", PW, address="b", now=t2, hasher=H, policy=pol).ok
    assert "user.lock" in _actions(store, "pool")


def test_rate_limit_per_address(store: Store) -> None:
    _add(store)
    pol = people.LoginPolicy(max_attempts_per_address=3, window_s=60, lockout_after=100)
    for _ in range(3):
        people.login(store, "ana", "x" * 12, address="203.0.113.9", now=T0, hasher=H, policy=pol)
    limited = people.login(store, "ana", PW, address="203.0.113.9", now=T0, hasher=H, policy=pol)
    assert (limited.ok, limited.reason) == (False, "rate_limited")
    # another address is not limited; the same address is again after the window
    assert people.login(store, "ana", PW, address="198.51.100.1", now=T0, hasher=H, policy=pol).ok
    later = T0 + dt.timedelta(seconds=61)
    assert people.login(store, "ana", PW, address="203.0.113.9", now=later, hasher=H, policy=pol).ok


def test_disabled_user_cannot_log_in_or_use_tokens(store: Store, secret: bytes) -> None:
    _add(store)
    token, _ = people.create_token(store, "ana", by="root", secret=secret, now=T0)
    assert people.verify_token(store, token, secret=secret, now=T0) is not None
    assert people.disable_user(store, "ana", by="root", now=T0)
    assert people.login(store, "ana", PW, address="x", now=T0, hasher=H).reason == "disabled"
    assert people.verify_token(store, token, secret=secret, now=T0) is None
    assert "user.disable" in _actions(store, "pool")


def test_secret_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "home" / "keys" / "token-hmac.key"
    s1 = people.load_token_secret(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert people.load_token_secret(path) == s1 and len(s1) == 32
    os.chmod(path, 0o644)
    with pytest.raises(HeatreuseError, match="expected 600"):
        people.load_token_secret(path)
    with pytest.raises(HeatreuseError, match="does not exist"):
        people.load_token_secret(tmp_path / "missing.key")


def _all_text(store: Store) -> str:
    out = []
    with store.transaction(write=False) as tx:
        for table in ("users", "role_grants", "devices", "tokens", "login_attempts", "audit"):
            out += [repr(r) for r in tx.execute(f"SELECT * FROM {table}")]
    return "\n".join(out)


def test_token_shown_once_stored_as_hmac(store: Store, secret: bytes) -> None:
    _add(store)
    token, info = people.create_token(
        store, "ana", scope="read", expires="30d", by="root", secret=secret, now=T0
    )
    dev_token, _ = people.add_device(store, "pool", "edge-1", by="root", secret=secret, now=T0)
    assert token.startswith(f"hrt_{info['id']}_")
    dump = _all_text(store)
    for t in (token, dev_token):
        secret_part = t[len("hrt_") + 13 :]  # after hrt_<id>_
        assert len(secret_part) == 43
        assert t not in dump and secret_part not in dump
    rec = people.rows.get_token(store, info["id"])
    assert rec is not None and rec.digest == people.token_digest(secret, token)
    # listings never carry the token or its digest
    listed = repr(people.list_tokens(store, now=T0))
    assert token not in listed and rec.digest not in listed
    # another server secret cannot check it
    assert people.verify_token(store, token, secret=b"x" * 32, now=T0) is None


def test_tokens_refused_expired_revoked_other_site_wrong_scope(store: Store, secret: bytes) -> None:
    _add(store, "ana", "operator", "pool")
    read, _ = people.create_token(
        store, "ana", scope="read", expires="1d", by="root", secret=secret, now=T0
    )
    write, winfo = people.create_token(
        store, "ana", scope="write", expires="30d", by="root", secret=secret, now=T0
    )
    p = people.verify_token(store, read, secret=secret, now=T0)
    assert p is not None and p.may("pool", "readings.read")
    assert not p.may("pool", "alerts.ack")  # wrong scope: read token, write action
    assert not p.may("greenhouse", "readings.read")  # other site
    pw = people.verify_token(store, write, secret=secret, now=T0)
    assert pw is not None and pw.may("pool", "alerts.ack")
    assert not pw.may("pool", "readings.write")  # people never write readings
    # expired
    assert people.verify_token(store, read, secret=secret, now=T0 + dt.timedelta(days=1)) is None
    # revoked
    assert people.revoke_token(store, winfo["id"], by="root", now=T0)
    assert people.verify_token(store, write, secret=secret, now=T0) is None
    assert not people.revoke_token(store, winfo["id"], by="root", now=T0)
    # tampered / malformed
    tampered = read[:-1] + ("B" if read.endswith("A") else "A")
    assert people.verify_token(store, tampered, secret=secret, now=T0) is None
    assert people.verify_token(store, "garbage", secret=secret, now=T0) is None
    acts = _actions(store, "pool")
    assert acts.count("token.create") == 2 and acts.count("token.revoke") == 1


def test_device_token_writes_its_site_only(store: Store, secret: bytes) -> None:
    _add(store)
    dev, _ = people.add_device(store, "pool", "edge-1", by="root", secret=secret, now=T0)
    user_tok, _ = people.create_token(store, "ana", scope="write", by="root", secret=secret, now=T0)
    p = people.verify_device_token(store, "pool", dev, secret=secret, now=T0)
    assert p is not None and p.kind == "device" and p.name == "edge-1"
    assert not p.may("pool", "readings.read")
    assert people.verify_device_token(store, "greenhouse", dev, secret=secret, now=T0) is None
    assert people.verify_device_token(store, "pool", user_tok, secret=secret, now=T0) is None
    assert "device.add" in _actions(store, "pool")
    with pytest.raises(HeatreuseError, match="exists"):
        people.add_device(store, "pool", "edge-1", by="root", secret=secret, now=T0)


def test_access_review_flags_and_sign_off(store: Store, secret: bytes) -> None:
    _add(store, "ana", "operator", "pool")
    _add(store, "eve", "viewer", "pool")
    people.login(store, "ana", PW, address="a", now=T0 + dt.timedelta(days=89), hasher=H)
    _, old = people.create_token(
        store, "ana", scope="read", expires="7d", by="root", secret=secret, now=T0
    )
    fresh, new = people.create_token(
        store, "ana", scope="read", expires="365d", by="root", secret=secret, now=T0
    )
    people.verify_token(store, fresh, secret=secret, now=T0 + dt.timedelta(days=80))
    people.add_device(store, "pool", "edge-1", by="root", secret=secret, now=T0)
    review = people.access_review(store, site_id="pool", now=T0 + dt.timedelta(days=100))
    by_name = {r["name"]: r for r in review}
    assert by_name["ana"]["flags"] == []  # logged in 11 days ago
    assert by_name["eve"]["flags"] == ["unused_90d"]  # never logged in, created 100 d ago
    assert by_name[f"{old['id']} (ana, read)"]["flags"] == ["expired"]
    assert by_name[f"{new['id']} (ana, read)"]["flags"] == []
    assert by_name["edge-1@pool"]["flags"] == ["unused_90d"]
    assert people.access_review(store, site_id="greenhouse", now=T0) == []
    ids = people.sign_off_review(store, review, by="sam", site_id="pool", now=T0)
    last = store.list_audit("pool")[-1]
    assert ids == [last.id] and last.action == "access.review" and last.actor == "sam"
    # eve, the expired token, the device and its token
    assert last.detail == {"entries": len(review), "flagged": 4}
