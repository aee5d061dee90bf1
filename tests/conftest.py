"""Every test runs with its own ``$HEATREUSE_HOME`` (a path not created yet).

Commands that write keys, checkpoints or the default store go under
``$HEATREUSE_HOME``; without this a test could write into the real
``~/.local/share/heatreuse`` of whoever runs the suite, or two tests could share
a signing key. A test that sets ``HEATREUSE_HOME`` itself (monkeypatch) wins.

The site models' schema cache (:mod:`heatreuse.site.schema_cache`) is off for the
suite and the commands it starts: no test writes into the ``~/.cache`` of whoever
runs it, and no schema built while a test patches something outlives the test.
tests/site/test_schema_cache.py switches it on with folders of its own.

``./run test`` runs the suite on two pytest-xdist workers with ``--dist loadfile``: the
tests of one file run on one worker, in order, so a module-scoped set-up (a twin month,
the demo, a broker, a browser) is built once. Tests of different files run side by side:
each has its own temp folders and ``$HEATREUSE_HOME``, its own PostgreSQL schema, MQTT
topic prefix and client id, and free loopback ports; keep new tests that way.
(``--dist loadgroup`` is no use here: pytest-xdist 3.8's ``xdist_group`` renames node
ids in a way pytest 9.2 no longer takes, so the groups are silently ignored.)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

os.environ["HEATREUSE_CACHE_DIR"] = "off"

# The suite's commands write to a pipe (captured), where heatreuse lays rich output out on
# 1000 columns unless COLUMNS is set (heatreuse.cli.output.make_console). pytest-xdist's
# workers start with COLUMNS=80 and LINES=24 in their environment, and a console made while
# a module is imported would keep those 80 columns for every later test of that worker.
# A test that wants a width sets COLUMNS itself (monkeypatch).
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


#: The files that take longest (tens of seconds each), longest first. On pytest-xdist
#: workers they are collected first, so that ``./run test`` (``--dist loadfile
#: --no-loadscope-reorder``) starts them first and both workers finish at about the same
#: time, not one waiting for a long file handed out last. Only the order changes; a run
#: without xdist keeps pytest's order.
SLOW_FILES_FIRST = (  # measured with --durations=0 on two workers, 15-90 s each
    "tests/store/test_store_sealed.py",
    "tests/web/test_dashboard_browser.py",
    "tests/services/test_pilot_on_demo.py",
    "tests/services/test_commissioning.py",
    "tests/telemetry/test_edge.py",
    "tests/services/test_twin.py",
    "tests/services/test_sla_seal.py",
    "tests/api/test_rbac_matrix.py",
    "tests/services/test_fleet_status.py",
    "tests/api/test_api_security.py",
    "tests/telemetry/test_twin_mqtt.py",
    "tests/cli/test_changes_cmds.py",
    "tests/cli/test_twin_cmds.py",
    "tests/services/test_monitoring.py",
    "tests/telemetry/test_brick_export.py",
    "tests/services/test_drill.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker, the :data:`SLOW_FILES_FIRST` first (a stable sort)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank = {path: k for k, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(autouse=True)
def _private_heatreuse_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("hr") / "heatreuse-home"
    monkeypatch.setenv("HEATREUSE_HOME", str(home))
    return home


#: The PostgreSQL server of the tests (127.0.0.1:5432, user postgres, trust auth).
PG_URL = os.environ.get("HEATREUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty store on each backend: SQLite in ``tmp_path``, or a
    PostgreSQL schema ``hr_test_<random>`` dropped afterwards (the test fails, never
    skips, when the server is not reachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    try:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({exc}); these tests need the server on "
            "127.0.0.1:5432 (user postgres, trust auth)",
            pytrace=False,
        )
    schema = "hr_test_" + uuid.uuid4().hex[:12]
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
