"""The append-only ledger log in SQLite and PostgreSQL (own schema on 127.0.0.1:5432)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from heatreuse.errors import LedgerError
from heatreuse.ledger.checkpoint import verify_checkpoint
from heatreuse.ledger.keys import generate_signing_key
from heatreuse.ledger.store_log import LedgerDatabase, open_ledger_database
from heatreuse.ledger.tlog import DirectoryCheckpointStore, TransparencyLog
from heatreuse.ledger.verify import export_log, verify_export

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ORIGIN = "heatreuse.local/site-a"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    schema = f"hr_ledger_test_{uuid.uuid4().hex[:12]}"
    yield f"{PG_ADMIN}?schema={schema}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def entries(n: int, start: int = 0) -> list[dict]:
    return [
        {"type": "ledger_interval", "period_start": f"2026-01-01T{h:02d}:00:00Z", "heat_kwh": h}
        for h in range(start, start + n)
    ]


def refused(db: LedgerDatabase, sql: str, params: tuple = ()) -> str:
    with pytest.raises((sqlite3.IntegrityError, psycopg.Error)) as info:
        db.execute_raw(sql, params)
    return str(info.value)


def test_append_read_and_reopen(url: str, tmp_path: Path) -> None:
    with open_ledger_database(url, create=True) as db:
        log = TransparencyLog(ORIGIN, db.log_storage("site-a"), DirectoryCheckpointStore(tmp_path))
        assert log.extend(entries(5)) == [0, 1, 2, 3, 4]
        root = log.root_hash()
        other = TransparencyLog("heatreuse.local/site-b", db.log_storage("site-b"))
        other.extend(entries(2))  # a second site's log in the same table, own indices
    with open_ledger_database(url, create=True) as db:
        again = TransparencyLog(ORIGIN, db.log_storage("site-a"))
        assert again.size == 5 and again.root_hash() == root
        assert again.entries()[3]["heat_kwh"] == 3 and again.entries()[3]["index"] == 3
        assert TransparencyLog("heatreuse.local/site-b", db.log_storage("site-b")).size == 2


def test_update_delete_and_gaps_refused_by_the_database(url: str) -> None:
    with open_ledger_database(url, create=True) as db:
        TransparencyLog(ORIGIN, db.log_storage("site-a")).extend(entries(3))
        assert "append-only" in refused(db, "UPDATE ledger_log SET entry_type = 'x'")
        assert "append-only" in refused(db, "DELETE FROM ledger_log WHERE idx = 1")
        assert "no gaps" in refused(
            db,
            "INSERT INTO ledger_log (log_id, idx, entry_type, entry, leaf_hash, appended_at) "
            "VALUES ('site-a', 7, 'x', ?, ?, '2026-01-01T00:00:00Z')",
            (b"{}", b"h"),
        )
        if db.backend == "postgresql":
            assert "append-only" in refused(db, "TRUNCATE ledger_log")
            acl = db._query(
                "SELECT privilege_type FROM aclexplode((SELECT relacl FROM pg_class "
                "WHERE oid = 'ledger_log'::regclass))"
            )
            assert {row[0] for row in acl}.isdisjoint({"UPDATE", "DELETE", "TRUNCATE"})
        # a stale writer cannot append at an index that is taken
        storage = db.log_storage("site-a")
        with pytest.raises(LedgerError, match="append at index 2 refused"):
            storage.append_entries(2, [b'{"index":2,"type":"x"}'])
        assert storage.entry_count() == 3


def test_concurrent_appends_are_serialised_without_gaps(url: str) -> None:
    with open_ledger_database(url, create=True) as db:
        db.log_storage("site-a")  # tables exist before the threads start
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with open_ledger_database(url, create=True) as db:
                for i in range(5):
                    while True:
                        log = TransparencyLog(ORIGIN, db.log_storage("site-a"))
                        try:
                            log.append({"type": "note", "writer": k, "n": i})
                            break
                        except LedgerError:
                            continue  # another writer won this index: reload and retry
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with open_ledger_database(url, create=True) as db:
        log = TransparencyLog(ORIGIN, db.log_storage("site-a"))
        got = log.entries()
        assert [e["index"] for e in got] == list(range(20))
        assert sorted((e["writer"], e["n"]) for e in got) == [
            (k, i) for k in range(4) for i in range(5)
        ]


def test_meta_staged_with_append(url: str) -> None:
    with open_ledger_database(url, create=True) as db:
        storage = db.log_storage("site-a")
        storage.stage_meta({"watermark": "2026-01-01T03:00:00Z"})
        TransparencyLog(ORIGIN, storage).extend(entries(3))
        assert db.get_meta("site-a", "watermark") == "2026-01-01T03:00:00Z"
        db.set_meta("site-a", {"watermark": "2026-01-01T04:00:00Z"})
        assert db.get_meta("site-a", "watermark") == "2026-01-01T04:00:00Z"
        assert db.get_meta("site-b", "watermark") is None


def _tamper(db: LedgerDatabase, idx: int, forged: bytes) -> None:
    """What a database superuser can do: remove the guard, rewrite, restore the guard."""
    if db.backend == "sqlite":
        db.execute_raw("DROP TRIGGER ledger_log_no_update")
        db.execute_raw("UPDATE ledger_log SET entry = ? WHERE idx = ?", (forged, idx))
    else:
        db.execute_raw("DROP TRIGGER ledger_log_no_update ON ledger_log")
        db.execute_raw("UPDATE ledger_log SET entry = ? WHERE idx = ?", (forged, idx))
    db.ensure_schema()


def test_superuser_rewrite_is_caught_by_published_checkpoints(url: str, tmp_path: Path) -> None:
    key = generate_signing_key(ORIGIN)
    cp_dir = tmp_path / "checkpoints"  # outside the database
    with open_ledger_database(url, create=True) as db:
        log = TransparencyLog(ORIGIN, db.log_storage("site-a"), DirectoryCheckpointStore(cp_dir))
        log.extend(entries(6))
        log.sign_checkpoint(key)
        log.extend(entries(4, start=6))
        log.sign_checkpoint(key)
        out = tmp_path / "export"
        export_log(out, log.entries(), log.signed_checkpoints(), key.vkey())
        assert verify_export(out).ok

        raw = log.entry_bytes(3, 4)[0]
        forged = raw.replace(b'"heat_kwh":3', b'"heat_kwh":30')
        _tamper(db, 3, forged)
        assert "append-only" in refused(db, "UPDATE ledger_log SET entry_type = 'y'")

    with open_ledger_database(url, create=True) as db:
        reopened = TransparencyLog(
            ORIGIN, db.log_storage("site-a"), DirectoryCheckpointStore(cp_dir)
        )
        assert reopened.entries()[3]["heat_kwh"] == 30  # the database now says so ...
        for note in reopened.signed_checkpoints():  # ... but no published root agrees
            size = int(note.split("\n")[1])
            assert reopened.root_hash(size) != log.root_hash(size)
        tampered = reopened.entry_bytes()
    (out / "entries.jsonl").write_bytes(b"".join(e + b"\n" for e in tampered))
    report = verify_export(out)
    assert not report.ok
    assert any("entry 3 edited" in p.message for p in report.problems)


def test_signed_append_stores_its_checkpoint_with_the_rows(url: str, tmp_path: Path) -> None:
    key = generate_signing_key(ORIGIN)
    cp_dir = tmp_path / "checkpoints"
    with open_ledger_database(url, create=True) as db:
        storage = db.log_storage("site-a")
        log = TransparencyLog(ORIGIN, storage, DirectoryCheckpointStore(cp_dir))
        assert log.append_signed(entries(4), key) == [0, 1, 2, 3]
        head = storage.signed_head()
        assert head is not None and head == (cp_dir / "4.txt").read_text()
        assert verify_checkpoint(head, key.verifier).root_hash == log.root_hash(4)
        assert log.append_signed([], key) == [] and storage.signed_head() == head

        # a stale writer's signed append is refused whole: no rows, no head, no file
        stale = TransparencyLog(ORIGIN, db.log_storage("site-a"), DirectoryCheckpointStore(cp_dir))
        log.append_signed(entries(2, start=4), key)
        with pytest.raises(LedgerError, match="append at index 4 refused"):
            stale.append_signed(entries(1, start=9), key)
        assert stale.size == 4 and stale.root_hash() == log.root_hash(4)  # tree rolled back
        assert storage.signed_head() == (cp_dir / "6.txt").read_text()
        assert sorted(p.name for p in cp_dir.iterdir()) == ["4.txt", "6.txt"]

        # rows appended without a signature leave the head behind them
        log.extend(entries(1, start=6))
        assert verify_checkpoint(storage.signed_head() or "", key.verifier).size == 6
        assert log.size == 7
