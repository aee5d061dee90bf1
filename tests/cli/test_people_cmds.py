"""CLI of people and permissions end to end (both backends): users, tokens, devices, the
audit trail through ``ledger update`` into an export that ``verify`` accepts, access review."""

from __future__ import annotations

import io
import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heatreuse.cli.main import run
from heatreuse.site import load_site
from heatreuse.store import open_store

POOL = str(Path(__file__).resolve().parents[2] / "examples" / "pool.yaml")
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PW = "a long enough password\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    schema = None
    if request.param == "sqlite":
        u = f"sqlite:///{tmp_path / 'cli.db'}"
    else:
        schema = "t_people_cli_" + uuid.uuid4().hex[:12]
        u = f"{PG_URL}?schema={schema}"
    try:
        yield u
    finally:
        if schema is not None:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]


def _ok(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    code = run(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    return json.loads(_ok(capsys, argv))


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> None:
    capsys.readouterr()
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


def test_people_cli_audit_reaches_a_verified_export(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    site_id = load_site(POOL).id
    s = ["--store", url]
    by = ["--by", "root"]
    monkeypatch.setattr("sys.stdin", io.StringIO(PW))
    _ok(
        capsys,
        ["users", "add", "ana", "--role", "admin", "--site", site_id, "--password-stdin", *by, *s],
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    _fails(
        capsys,
        ["users", "add", "bob", "--role", "viewer", "--site", site_id, "--password-stdin", *s],
        "at least 10 characters",
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(PW))
    _fails(
        capsys,
        ["users", "add", "bob", "--role", "root", "--site", site_id, "--password-stdin", *s],
        "--role: expected one of",
    )
    users = _json(capsys, ["users", "list", "--json", *s])
    assert [(u["name"], u["roles"]) for u in users] == [("ana", [f"admin@{site_id}"])]

    token = _ok(
        capsys, ["tokens", "create", "--user", "ana", "--scope", "read", "--expires", "7d", *by, *s]
    ).strip()
    assert token.startswith("hrt_")
    secret_file = tmp_path / "home" / "keys" / "token-hmac.key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    listed = _json(capsys, ["tokens", "list", "--json", *s])
    assert [(t["owner"], t["scope"], t["state"]) for t in listed] == [("ana", "read", "active")]
    assert token not in json.dumps(listed)
    dev = _ok(capsys, ["devices", "add", POOL, "edge-1", *by, *s]).strip()
    assert dev.startswith("hrt_") and dev != token
    _ok(capsys, ["tokens", "revoke", listed[0]["id"], *by, *s])
    assert _json(capsys, ["tokens", "list", "--json", *s])[0]["state"] == "revoked"
    _fails(capsys, ["tokens", "revoke", "nope", *s], "no such token")
    _ok(capsys, ["users", "disable", "ana", *by, *s])

    audit = _json(capsys, ["audit", "list", POOL, "--json", *s])
    assert [a["action"] for a in audit] == [
        "user.add",
        "role.grant",
        "token.create",
        "device.add",
        "token.revoke",
        "user.disable",
    ]
    assert all(a["actor"] == "root" for a in audit)
    assert (
        _json(capsys, ["audit", "list", POOL, "--since", "2100-01-01T00:00Z", "--json", *s]) == []
    )

    _fails(capsys, ["audit", "list", POOL, "--since", "2999-01-01T00:00Z", *s], "--since")
    review = _json(capsys, ["access", "review", "--site", site_id, "--json", *s])
    assert {r["kind"] for r in review} == {"user", "token", "device"}
    assert [r["flags"] for r in review if r["kind"] == "user"] == [["disabled"]]
    _fails(capsys, ["access", "review", "--sign-off", *s], "--by")
    _ok(capsys, ["access", "review", "--site", site_id, "--sign-off", "--by", "sam", *s])

    ledger = ["--checkpoints", str(tmp_path / "cp")]
    upd = _json(capsys, ["ledger", "update", POOL, *s, *ledger, "--json"])
    assert upd["audit"] == 7
    export = tmp_path / "export"
    assert run(["ledger", "export", POOL, "--out", str(export), *s, *ledger]) == 0
    report = _json(capsys, ["verify", str(export), "--json"])
    assert report["ok"] is True and report["entry_types"]["audit"] == 7
    lines = [json.loads(x) for x in (export / "entries.jsonl").read_text().splitlines()]
    assert [e["action"] for e in lines if e["type"] == "audit"][-1] == "access.review"
    # the raw tokens are nowhere in the store or the export
    assert token not in (export / "entries.jsonl").read_text()
    if url.startswith("sqlite"):
        db = Path(url.removeprefix("sqlite:///")).read_bytes()
        assert token.encode() not in db and dev.encode() not in db


def test_read_commands_never_create_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    missing = tmp_path / "none" / "missing.db"
    for argv in (
        ["users", "list"],
        ["tokens", "list"],
        ["audit", "list", POOL],
        ["access", "review"],
    ):
        _fails(capsys, [*argv, "--store", f"sqlite:///{missing}"], "no heatreuse store")
    assert not missing.parent.exists()
    with open_store(f"sqlite:///{tmp_path / 'x.db'}", create=True):
        pass


def test_users_add_grants_directly_only_while_the_site_is_set_up(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two-person rule for role grants (issue 12): the first two admins are made at once
    (nobody could approve them); from then on `users add` with a role above viewer adds a
    viewer and files a role grant that another admin approves."""
    site_id = load_site(POOL).id
    s = ["--store", url]

    def add(name: str, role: str, *extra: str) -> list[str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(PW))
        return ["users", "add", name, "--role", role, "--site", site_id, "--password-stdin", *extra]

    _ok(capsys, [*add("ana", "admin", "--by", "root"), *s])
    _ok(capsys, [*add("ben", "admin", "--by", "ana"), *s])
    _ok(capsys, [*add("vic", "viewer", "--by", "ana"), *s])  # viewer: at once
    _fails(
        capsys,
        [*add("omar", "operator", "--by", "ana"), *s],
        "two-person rule",
        "--reason",
        "nothing was changed",
    )
    assert "omar" not in [u["name"] for u in _json(capsys, ["users", "list", "--json", *s])]
    _fails(  # the requester must be allowed to request role grants: no user is left behind
        capsys,
        [*add("omar", "operator", "--by", "vic", "--reason", "new shift"), *s],
        "may not",
    )
    assert "omar" not in [u["name"] for u in _json(capsys, ["users", "list", "--json", *s])]
    out = _ok(capsys, [*add("omar", "operator", "--by", "ana", "--reason", "new shift"), *s])
    assert "viewer" in out and "not granted yet" in out and "changes approve" in out
    roles = {u["name"]: u["roles"] for u in _json(capsys, ["users", "list", "--json", *s])}
    assert roles["omar"] == [f"viewer@{site_id}"]
    assert roles["ben"] == [f"admin@{site_id}"]
    cr = _json(capsys, ["changes", "list", site_id, "--json", *s])
    assert [(c["kind"], c["requested_by"], c["state"]) for c in cr] == [
        ("role_grant", "ana", "requested")
    ]
    approve = ["changes", "approve", site_id, cr[0]["id"], "--hash", cr[0]["request_hash"]]
    _fails(capsys, [*approve, "--by", "ana", *s], "two-person rule")
    _ok(capsys, [*approve, "--by", "ben", *s])
    roles = {u["name"]: u["roles"] for u in _json(capsys, ["users", "list", "--json", *s])}
    assert sorted(roles["omar"]) == sorted([f"viewer@{site_id}", f"operator@{site_id}"])
    # disabling an admin (one person's command) does not reopen direct grants
    _ok(capsys, ["users", "disable", "ben", "--by", "ana", *s])
    _fails(capsys, [*add("mal", "admin", "--by", "ana"), *s], "two-person rule", "(now: ana)")
    assert "mal" not in [u["name"] for u in _json(capsys, ["users", "list", "--json", *s])]
