"""The API test harness: an app on a temporary SQLite store with one principal per role.

Site A (``pool-potsdam``) is served with its ingest pipeline; site B
(``greenhouse-niederrhein``) is served too, so a role on A can be tried on B. Every
person role holds a ``write``-scope token on A (``edge_writer`` through the row layer:
it is a service role); ``ingest_device`` is a device of A.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from heatreuse.api.app import ApiContext, ApiSettings, create_app
from heatreuse.services import access, people
from heatreuse.services.people import LoginPolicy
from heatreuse.site import Site, load_site
from heatreuse.store import Store, open_store
from heatreuse.store import people as rows
from heatreuse.telemetry import Ingestor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"
ROLES = (*access.USER_ROLES, *access.SERVICE_ROLES)


@dataclass
class Clock:
    """A settable clock."""

    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Api:
    """The app under test and what it was built from."""

    app: Any
    ctx: ApiContext
    store: Store
    site_a: Site
    site_b: Site
    secret: bytes
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token

    def client(self) -> TestClient:
        return TestClient(self.app)

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def login(self, client: TestClient, name: str, password: str = PASSWORD) -> str:
        r = client.post("/api/v1/login", json={"name": name, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["csrf_token"])


def build_api(tmp_path: Path, **settings: Any) -> Api:
    site_a = load_site(EXAMPLES / "pool.yaml")
    site_b = load_site(EXAMPLES / "greenhouse.yaml")
    store = open_store(f"sqlite:///{tmp_path / 'api.db'}", create=True)
    secret = people.load_token_secret(create=True)
    clock = Clock()
    hasher = people.cheap_hasher()
    tokens: dict[str, str] = {}
    for role in access.USER_ROLES:
        name = f"{role}-a"
        people.add_user(store, name, PASSWORD, role, site_a.id, by="root", hasher=hasher, now=T0)
        tokens[role], _ = people.create_token(
            store, name, scope="write", by="root", secret=secret, now=T0
        )
    # a service principal of the edge writer kind (no CLI creates one yet)
    uid = rows.insert_user(store, "edge-writer-a", hasher.hash(PASSWORD), 0)
    rows.grant_role(store, uid, site_a.id, "edge_writer", "root", 0)
    tokens["edge_writer"], _ = people.create_token(
        store, "edge-writer-a", scope="write", by="root", secret=secret, now=T0
    )
    tokens["ingest_device"], _ = people.add_device(
        store, site_a.id, "edge-1", by="root", secret=secret, now=T0
    )
    ctx = ApiContext(
        sites={site_a.id: site_a, site_b.id: site_b},
        store=store,
        token_secret=secret,
        clock=clock,
        ingestor=Ingestor(site_a, store),
        hasher=hasher,
        login_policy=LoginPolicy(),
        settings=ApiSettings(**settings),
    )
    return Api(create_app(ctx), ctx, store, site_a, site_b, secret, clock, tokens)
