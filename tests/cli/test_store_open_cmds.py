"""Read commands never create a store; writers do, owner-only (issue 10, section 2).

Every command with ``--store`` is either a reader (exit 2 on a URL without a
heatreuse store, nothing created) or a writer (creates the store). Both backends:
a SQLite path in a folder that does not exist, an empty PostgreSQL schema.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer

from heatreuse.cli.app import app
from heatreuse.cli.main import _register, run
from heatreuse.store.schema import STORE_MIGRATIONS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
SITE_ID = "pool-potsdam"
PG_URL = os.environ.get("HEATREUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CSV = "timestamp,point_id,value\n2026-10-01T00:00:00Z,customer.supply_temp_c,38.5\n"


def _readers(url: str, out: Path) -> dict[str, list[str]]:
    site = str(EXAMPLE)
    return {
        "store info": ["store", "info", "--store", url],
        "store retention": ["store", "retention", "--store", url, "--raw-days", "30"],
        "store compact": ["store", "compact", "--store", url],
        "sla report": ["sla", "report", site, "--period", "2026-01", "--store", url],
        "quarantine list": ["quarantine", "list", site, "--store", url],
        "kpi": ["kpi", site, "--period", "2026-01", "--store", url],
        "ledger export": ["ledger", "export", site, "--out", str(out), "--store", url],
        "export eed": ["export", "eed", site, "--year", "2026", "--out", str(out), "--store", url],
        "report monthly": [
            *("report", "monthly", site, "--period", "2026-01", "--out", str(out)),
            *("--store", url),
        ],
        "alerts list": ["alerts", "list", site, "--store", url],
        "alerts ack": ["alerts", "ack", site, "1", "--by", "anna", "--store", url],
        "silences list": ["silences", "list", site, "--store", url],
        "silences expire": ["silences", "expire", site, "abc", "--by", "anna", "--store", url],
        "incidents list": ["incidents", "list", site, "--store", url],
        "incidents show": ["incidents", "show", site, "1", "--store", url],
        "actions list": ["actions", "list", site, "--store", url],
        "compare": ["compare", site, "--period", "2026-01", "--store", url],
        "maintenance list": ["maintenance", "list", site, "--store", url],
        "maintenance due": ["maintenance", "due", site, "--store", url],
        "review monthly": [
            *("review", "monthly", site, "--period", "2026-01", "--out", str(out)),
            *("--store", url),
        ],
        "review weekly": [
            *("review", "weekly", site, "--week", "2026-W03", "--out", str(out)),
            *("--store", url),
        ],
        "fleet status": ["fleet", "status", site, "--store", url],
        "fleet kpi": ["fleet", "kpi", site, "--period", "2026-01", "--store", url],
        "store export": [
            *("store", "export", site, "--start", "2026-01-01", "--end", "2026-01-02"),
            *("--out", str(out), "--store", url),
        ],
        "users list": ["users", "list", "--store", url],
        "tokens list": ["tokens", "list", "--store", url],
        "audit list": ["audit", "list", site, "--store", url],
        "access review": ["access", "review", "--store", url],
        "changes list": ["changes", "list", site, "--store", url],
        "changes show": ["changes", "show", site, "cr-0000000000", "--store", url],
    }


READERS = sorted(_readers("URL", Path("OUT")))
#: Commands with --store that create the store when it is missing.
WRITERS = {
    *("ingest", "serve", "ledger update", "sla seal", "detect", "silences add"),
    *("maintenance add", "drill"),  # (drill writes only with --record)
    "commission",  # records its entry in the ledger (a writer, like ledger update)
    *("users add", "users disable", "tokens create", "tokens revoke", "devices add"),
    "users grant",  # files a role_grant change request
    *("changes request", "changes approve", "changes execute", "changes reject"),
    *("changes override", "changes review"),
}


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _commands_with_store_option() -> set[str]:
    _register()
    root = typer.main.get_command(app)
    found: set[str] = set()

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        # duck typing: typer may carry its own copy of click
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        elif any(p.name == "store" for p in cmd.params):
            found.add(" ".join(path))

    walk(root, ())
    return found


def test_every_store_command_is_a_known_reader_or_writer() -> None:
    # a new command with --store must be added to READERS (and tested below) or WRITERS
    assert _commands_with_store_option() == set(READERS) | WRITERS


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$HEATREUSE_HOME in tmp_path, not created (defaults: checkpoints, keys, store)."""
    path = tmp_path / "hr-home"
    monkeypatch.setenv("HEATREUSE_HOME", str(path))
    return path


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """An empty PostgreSQL schema (dropped afterwards)."""
    schema = "hr_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
    try:
        yield schema
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def _pg_relations(schema: str) -> int:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s",
            (schema,),
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("command", READERS)
def test_reader_on_missing_sqlite_exits_2_and_creates_nothing(
    command: str, tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "typo" / "heatreuse.dbb"
    out = tmp_path / "out"
    assert run(_readers(f"sqlite:///{db}", out)[command]) == 2
    err = capsys.readouterr().err
    assert f"no heatreuse store at sqlite:///{db}" in err
    assert "heatreuse store init" in err and "Traceback" not in err
    assert not (tmp_path / "typo").exists()
    assert not out.exists()
    assert not home.exists()


@pytest.mark.parametrize("command", READERS)
def test_reader_on_empty_postgres_schema_exits_2_and_creates_no_table(
    command: str, tmp_path: Path, home: Path, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{PG_URL}?schema={pg_schema}"
    assert run(_readers(url, tmp_path / "out")[command]) == 2
    err = capsys.readouterr().err
    assert f"schema '{pg_schema}'" in err and "has no heatreuse tables" in err
    assert _pg_relations(pg_schema) == 0
    assert not (tmp_path / "out").exists()
    assert not home.exists()


def test_reader_with_the_default_store_creates_no_home(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["store", "info"]) == 2
    assert "this is the default store" in capsys.readouterr().err
    assert run(["kpi", str(EXAMPLE), "--period", "2026-01"]) == 2
    assert not home.exists()


def test_relative_sqlite_url_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        run(["sla", "report", str(EXAMPLE), "--period", "2026-01", "--store", "sqlite:///tmp/x.db"])
        == 2
    )
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "three slashes" in err and "sqlite:////tmp/x.db" in err
    assert not (tmp_path / "tmp").exists()


def test_ledger_readers_on_a_store_without_ledger_create_no_ledger_tables(
    tmp_path: Path, home: Path, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for url in (f"sqlite:///{tmp_path / 's.db'}", f"{PG_URL}?schema={pg_schema}"):
        assert run(["store", "init", url]) == 0
        capsys.readouterr()
        before = _relations(url, pg_schema)
        assert run(["kpi", str(EXAMPLE), "--period", "2026-01", "--store", url]) == 2
        assert "ledger of site 'pool-potsdam' is empty" in capsys.readouterr().err
        assert _relations(url, pg_schema) == before  # no ledger_log / ledger_meta made
        assert not home.exists()


def _relations(url: str, schema: str) -> int:
    if url.startswith("postgresql"):
        return _pg_relations(schema)
    import sqlite3

    conn = sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    finally:
        conn.close()


def test_store_init_creates_then_readers_work_on_both_backends(
    tmp_path: Path, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for url in (f"sqlite:///{tmp_path / 'new' / 's.db'}", f"{PG_URL}?schema={pg_schema}"):
        assert run(["store", "init", url]) == 0
        assert "created a heatreuse store" in capsys.readouterr().out
        assert run(["store", "info", "--store", url, "--json"]) == 0
        assert f'"schema_version": {len(STORE_MIGRATIONS)}' in capsys.readouterr().out
        assert run(["store", "init", url, "--json"]) == 0
        assert '"action": "unchanged"' in capsys.readouterr().out
    assert _pg_relations(pg_schema) > 0


@pytest.mark.usefixtures("umask_022")
def test_writers_create_the_store_owner_only(
    tmp_path: Path, home: Path, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "m.csv"
    data.write_text(CSV)
    # ingest into the default store: $HEATREUSE_HOME and the store are created, private
    assert run(["ingest", str(EXAMPLE), str(data), "-q"]) == 0
    assert _mode(home) == 0o700
    assert _mode(home / "heatreuse.db") == 0o600
    # ledger update on a fresh URL creates the store; keys and checkpoints are private
    db = tmp_path / "sites" / "ledger.db"
    assert run(["ledger", "update", str(EXAMPLE), "--store", f"sqlite:///{db}", "--json"]) == 0
    assert _mode(db.parent) == 0o700 and _mode(db) == 0o600
    assert _mode(home / "keys") == 0o700 and _mode(home / "keys" / f"{SITE_ID}.key") == 0o600
    assert _mode(home / "checkpoints") == 0o700
    assert _mode(home / "checkpoints" / SITE_ID) == 0o700
    assert run(["store", "info", "--store", f"sqlite:///{db}"]) == 0
    # PostgreSQL: ingest creates the tables in the empty schema
    url = f"{PG_URL}?schema={pg_schema}"
    assert run(["ingest", str(EXAMPLE), str(data), "-q", "--store", url]) == 0
    assert _pg_relations(pg_schema) > 0
    capsys.readouterr()
    assert run(["quarantine", "list", str(EXAMPLE), "--store", url]) == 0
