"""Where heatreuse keeps its data: the data directory and store URLs.

The one parser of store URLs, shared by the store backends and the ledger's tables
(which live in the same database): ``sqlite:///relative.db``,
``sqlite:////abs/path.db``, ``postgresql://user@host:port/db[?schema=name]``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from heatreuse.errors import StoreError

#: Environment variable naming the data directory.
HEATREUSE_HOME_ENV = "HEATREUSE_HOME"
#: Data directory when the variable is unset.
DEFAULT_HOME = "~/.local/share/heatreuse"

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


#: Mode of the files heatreuse creates for data (store, edge buffer): owner only.
PRIVATE_FILE_MODE = 0o600
#: Mode of the folders heatreuse creates for data ($HEATREUSE_HOME, checkpoints, keys).
PRIVATE_DIR_MODE = 0o700


def heatreuse_home(create: bool = False) -> Path:
    """Return the data directory (``$HEATREUSE_HOME`` or ``~/.local/share/heatreuse``).

    Parameters
    ----------
    create
        Create it (and missing parents) with mode 0700 if it does not exist. Only
        writers do: a command that reads leaves the file system as it found it.
    """
    home = Path(os.path.expanduser(os.environ.get(HEATREUSE_HOME_ENV) or DEFAULT_HOME))
    if create:
        make_private_dirs(home)
    return home


def default_store_url() -> str:
    """Return the default store URL ``sqlite:///$HEATREUSE_HOME/heatreuse.db``.

    ``HEATREUSE_HOME`` defaults to ``~/.local/share/heatreuse``; nothing is created
    here (the store backend creates the folder when a writer creates the store). The
    path is absolute, so the URL has four slashes
    (``sqlite:////home/me/.local/share/heatreuse/heatreuse.db``).
    """
    return f"sqlite:///{(heatreuse_home() / 'heatreuse.db').resolve()}"


def make_private_dirs(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` and its missing parents with mode 0700.

    Folders that exist are left as they are (their mode is never changed); only the
    ones created here get :data:`PRIVATE_DIR_MODE`, whatever the umask.

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path)
    missing: list[Path] = []
    p = target
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # made by another process meanwhile: not ours to change
            continue
        os.chmod(d, PRIVATE_DIR_MODE)
    return target


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` as an empty file with mode 0600 (and its folder, 0700) if missing.

    SQLite takes an empty file as an empty database and gives its ``-wal``, ``-shm``
    and ``-journal`` side files the mode of the database file, so a database created
    through this is owner-only with its side files. An existing file is left as it is.

    Returns
    -------
    bool
        True if the file was created here.
    """
    target = Path(path)
    make_private_dirs(target.parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and ``store info``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@")))


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL.

    Attributes
    ----------
    backend
        ``"sqlite"`` or ``"postgresql"``.
    url
        The URL as given.
    path
        SQLite only: the database file (absolute), or ``":memory:"``.
    conninfo
        PostgreSQL only: the libpq URL without the heatreuse-specific query
        parameters (``schema``).
    schema
        PostgreSQL only: the schema holding the tables (created if missing), or
        ``None`` for the server's default ``search_path``.
    synchronous
        SQLite only: ``"normal"`` (default) or ``"full"`` (every commit fsyncs the WAL).
    relative
        SQLite only: the URL's path was relative (``sqlite:///x.db``, three slashes),
        so :attr:`path` was resolved against the working directory.
    """

    backend: Literal["sqlite", "postgresql"]
    url: str
    path: str | None = None
    conninfo: str | None = None
    schema: str | None = None
    synchronous: Literal["normal", "full"] = "normal"
    relative: bool = False


_EXPECTED_URL = (
    "expected 'sqlite:///relative/path.db', 'sqlite:////absolute/path.db', "
    "'sqlite:///:memory:' or 'postgresql://user@host:port/dbname[?schema=name]'"
)


def parse_store_url(url: str) -> StoreURL:
    """Parse a store URL; raise :class:`~heatreuse.errors.StoreError` naming what came.

    Accepted forms (SQLAlchemy conventions):

    * ``sqlite:///relative.db`` (relative to the working directory),
      ``sqlite:////abs/path.db`` (absolute), ``sqlite:///~/x.db`` (home-relative),
      ``sqlite:///:memory:``; optional ``?synchronous=full|normal``.
    * ``postgresql://user@host:port/dbname`` (also ``postgres://``); optional
      ``?schema=name`` puts all tables in that schema (created if missing); other
      query parameters go to libpq unchanged.
    """
    if not isinstance(url, str) or not url.strip():
        raise StoreError(f"store URL: got {url!r}; {_EXPECTED_URL}")
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise StoreError(f"store URL {url!r}: no scheme; {_EXPECTED_URL}")
    if scheme == "sqlite":
        return _parse_sqlite_url(url, rest)
    if scheme in ("postgresql", "postgres"):
        return _parse_postgres_url(url)
    raise StoreError(f"store URL {url!r}: unknown scheme {scheme!r}; {_EXPECTED_URL}")


def _parse_sqlite_url(url: str, rest: str) -> StoreURL:
    if not rest.startswith("/"):
        raise StoreError(
            f"store URL {url!r}: a SQLite URL has no host, so it needs three slashes "
            f"after 'sqlite:'; {_EXPECTED_URL}"
        )
    body, _, query = rest[1:].partition("?")
    if not body:
        raise StoreError(f"store URL {url!r}: no database path; {_EXPECTED_URL}")
    params = dict(parse_qsl(query, keep_blank_values=True))
    sync = params.pop("synchronous", "normal").lower()
    if sync not in ("normal", "full"):
        raise StoreError(f"store URL {url!r}: synchronous={sync!r}; expected 'normal' or 'full'")
    if params:
        raise StoreError(
            f"store URL {url!r}: unknown query parameter(s) {sorted(params)}; "
            "expected only 'synchronous' on a SQLite URL"
        )
    relative = False
    if body == ":memory:":
        path = ":memory:"
    else:
        p = Path(os.path.expanduser(body))
        if body.endswith("/"):
            raise StoreError(f"store URL {url!r}: path {body!r} is a directory; {_EXPECTED_URL}")
        path = str(p if p.is_absolute() else (Path.cwd() / p))
        relative = not p.is_absolute()
    return StoreURL(
        backend="sqlite",
        url=url,
        path=path,
        synchronous=sync,  # type: ignore[arg-type]
        relative=relative,
    )


def _parse_postgres_url(url: str) -> StoreURL:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise StoreError(f"store URL {url!r}: {exc}; {_EXPECTED_URL}") from exc
    dbname = parts.path.lstrip("/")
    if not parts.hostname and not dbname:
        raise StoreError(f"store URL {url!r}: no host and no database name; {_EXPECTED_URL}")
    if "/" in dbname:
        raise StoreError(f"store URL {url!r}: database name {dbname!r} contains '/'")
    params = parse_qsl(parts.query, keep_blank_values=True)
    schema = None
    rest: list[tuple[str, str]] = []
    for k, v in params:
        if k == "schema":
            schema = v
        else:
            rest.append((k, v))
    if schema is not None and not _IDENT_RE.match(schema):
        raise StoreError(
            f"store URL {url!r}: schema={schema!r}; expected an SQL identifier "
            "(letters, digits, underscore; not starting with a digit)"
        )
    query = "&".join(f"{k}={v}" for k, v in rest)
    conninfo = f"postgresql://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")
    return StoreURL(backend="postgresql", url=url, conninfo=conninfo, schema=schema)
