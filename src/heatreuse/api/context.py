"""What the API app works with (:class:`ApiContext`) and its settings (:class:`ApiSettings`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from heatreuse.services.people import LoginPolicy
    from heatreuse.site import Site
    from heatreuse.site.points import SitePoints
    from heatreuse.store.base import Store
    from heatreuse.telemetry import Ingestor


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ApiSettings:
    """Tunables of the API.

    Attributes
    ----------
    session_ttl_s
        Lifetime of a browser session (cookie and server check) [s].
    secure_cookies
        ``"auto"``: cookies are ``Secure`` unless the request came over plain http to a
        loopback address (a lab on 127.0.0.1); ``"always"``; ``"never"`` (tests only).
    max_body_bytes
        Largest body of an API write (login, ack, silences, users, tokens) [bytes];
        larger: 413 before it is read. The readings push has its own limit.
    ingest_max_body_bytes
        Largest readings push body [bytes] (:mod:`heatreuse.telemetry.http`).
    allow_anonymous_ingest
        The readings push takes readings without a device token (loopback labs).
    checkpoint_dir, key_path
        Ledger checkpoint folder and signing key (default under ``$HEATREUSE_HOME``).
    read_connections
        Store connections the API reads through under ``heatreuse serve --http``
        (:class:`~heatreuse.store.pool.StorePool`); one more writes for every
        state-changing request, and one more checks tokens.
    """

    session_ttl_s: float = 8 * 3600.0
    secure_cookies: str = "auto"
    max_body_bytes: int = 64 * 1024
    ingest_max_body_bytes: int = 8 * 1024 * 1024
    allow_anonymous_ingest: bool = False
    checkpoint_dir: str | None = None
    key_path: str | None = None
    read_connections: int = 4


@dataclass
class ApiContext:
    """Everything :func:`heatreuse.api.app.create_app` needs.

    Attributes
    ----------
    sites
        The sites served, by id.
    store
        The open store (readings, alerts, people, audit, ledger); a
        :class:`~heatreuse.store.pool.StorePool` under ``heatreuse serve --http``.
    auth_store
        The store token and session checks read (a connection of their own, so the
        check of every request does not queue behind long reads); None: ``store``.
    token_secret
        The server secret (HMAC of tokens, signature of session cookies; 32+ bytes).
    clock
        Current time (aware UTC); tests inject a fake one.
    ingestor
        The live ingest pipeline of the served site (mounts the readings push), or None.
    ingestors
        The live ingest pipelines by site id of a central ``heatreuse serve`` of several
        sites (the readings push routes each site to its own); ``ingestor`` is then the
        first of them. Empty: ``ingestor`` alone.
    health, metrics_text
        ``() -> dict`` for ``/healthz`` and ``() -> str`` for ``/metrics`` (the serve
        process's); None: a minimal health answer and the ingestor's counters.
    watch
        ``() -> LiveWatch | None``: the live watch of ``heatreuse serve`` (started after
        the HTTP listener, hence a callable), for the web UI's live state.
    login_policy, hasher
        Rate limit/lockout of logins and the argon2id hasher (cheap one in tests).
    settings
        :class:`ApiSettings`.
    """

    sites: Mapping[str, Site]
    store: Store
    token_secret: bytes
    auth_store: Store | None = None
    clock: Callable[[], dt.datetime] = _utc_now
    ingestor: Ingestor | None = None
    ingestors: Mapping[str, Ingestor] = field(default_factory=dict)
    health: Callable[[], dict[str, Any]] | None = None
    metrics_text: Callable[[], str] | None = None
    watch: Callable[[], Any] | None = None
    login_policy: LoginPolicy | None = None
    hasher: PasswordHasher | None = None
    settings: ApiSettings = field(default_factory=ApiSettings)
    _points: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def points_of(self, site_id: str) -> SitePoints:
        """The expanded points of a served site (:func:`heatreuse.site.expand_points`),
        built once: a site file does not change while it is served."""
        found = self._points.get(site_id)
        if found is None:
            from heatreuse.site import expand_points

            found = self._points[site_id] = expand_points(self.site(site_id))
        return found

    @property
    def auth(self) -> Store:
        """The store of token and session checks (``auth_store``, else ``store``)."""
        return self.store if self.auth_store is None else self.auth_store

    def all_ingestors(self) -> dict[str, Ingestor]:
        """Every live ingest pipeline of this process by site id (``ingestors``, ``ingestor``)."""
        out = dict(self.ingestors)
        if self.ingestor is not None:
            out.setdefault(self.ingestor.site_id, self.ingestor)
        return out

    def ingestor_of(self, site_id: str) -> Ingestor | None:
        """The live ingest pipeline of ``site_id`` in this process, or None."""
        return self.all_ingestors().get(site_id)

    def site(self, site_id: str) -> Site:
        """The served site ``site_id`` (404 in the API when unknown: :class:`UnknownSite`)."""
        try:
            return self.sites[site_id]
        except KeyError:
            raise UnknownSiteError(site_id) from None


class UnknownSiteError(LookupError):
    """A site id that this API does not serve (HTTP 404)."""

    def __init__(self, site_id: str) -> None:
        super().__init__(site_id)
        self.site_id = site_id
