"""Store URLs: parsing, the default URL, and the errors a bad URL gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from heatreuse.errors import StoreError
from heatreuse.store import default_store_url, open_store, parse_store_url
from heatreuse.store.schema import STORE_MIGRATIONS


def test_sqlite_relative_path_is_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    u = parse_store_url("sqlite:///data/x.db")
    assert u.backend == "sqlite"
    assert u.path == str(tmp_path / "data" / "x.db")
    assert u.synchronous == "normal"


def test_sqlite_absolute_home_memory_and_synchronous(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_store_url("sqlite:////var/lib/hr.db").path == "/var/lib/hr.db"
    monkeypatch.setenv("HOME", "/home/op")
    assert parse_store_url("sqlite:///~/hr.db").path == "/home/op/hr.db"
    assert parse_store_url("sqlite:///:memory:").path == ":memory:"
    assert parse_store_url("sqlite:////x/hr.db?synchronous=FULL").synchronous == "full"


def test_postgres_url_with_schema() -> None:
    u = parse_store_url("postgresql://postgres@127.0.0.1:5432/heat?schema=site_a&sslmode=disable")
    assert u.backend == "postgresql"
    assert u.schema == "site_a"
    assert u.conninfo == "postgresql://postgres@127.0.0.1:5432/heat?sslmode=disable"
    assert parse_store_url("postgres://h/db").schema is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "expected"),
        ("heat.db", "no scheme"),
        ("mysql://u@h/db", "unknown scheme 'mysql'"),
        ("sqlite://host/x.db", "three slashes"),
        ("sqlite:///", "no database path"),
        ("sqlite:///x.db?synchronous=sometimes", "synchronous='sometimes'"),
        ("sqlite:///x.db?journal=off", "unknown query parameter"),
        ("postgresql://u@h:notaport/db", "postgresql://u@h:notaport/db"),
        ("postgresql://u@h/db?schema=drop table", "SQL identifier"),
        ("postgresql://u@h/db?schema=1abc", "SQL identifier"),
    ],
)
def test_bad_urls_name_what_came_and_what_is_expected(url: str, says: str) -> None:
    with pytest.raises(StoreError) as exc:
        parse_store_url(url)
    msg = str(exc.value)
    assert says in msg
    assert "expected" in msg


def test_default_url_uses_heatreuse_home_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "hr-home" / "nested"
    monkeypatch.setenv("HEATREUSE_HOME", str(home))
    url = default_store_url()
    assert url == f"sqlite:///{home.resolve() / 'heatreuse.db'}"
    assert url.startswith("sqlite:////")
    assert not (tmp_path / "hr-home").exists()  # a writer creates it (0700), see test_store_open
    assert parse_store_url(url).path == str(home.resolve() / "heatreuse.db")


def test_default_home_is_under_local_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEATREUSE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_store_url() == f"sqlite:///{tmp_path}/.local/share/heatreuse/heatreuse.db"
    assert not (tmp_path / ".local").exists()  # naming the default store creates nothing


def test_open_store_default_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path))
    with open_store(create=True) as store:
        assert store.dialect == "sqlite"
        assert store.schema_version() == len(STORE_MIGRATIONS)
    assert (tmp_path / "heatreuse.db").is_file()


def test_unreachable_postgres_is_a_store_error() -> None:
    # port 1 on loopback: nothing listens there
    with pytest.raises(StoreError, match="cannot connect"):
        open_store("postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2", create=True)


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "not.db"
    bad.write_text("hello, I am not SQLite\n" * 100)
    with pytest.raises(StoreError, match=r"not\.db"):
        open_store(f"sqlite:///{bad}", create=True)
