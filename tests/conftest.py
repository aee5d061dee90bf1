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
from pathlib import Path

import pytest

os.environ["HEATREUSE_CACHE_DIR"] = "off"

# The suite's commands write to a pipe (captured), where heatreuse lays rich output out on
# 1000 columns unless COLUMNS is set (heatreuse.cli.output.make_console). pytest-xdist's
# workers start with COLUMNS=80 and LINES=24 in their environment, and a console made while
# a module is imported would keep those 80 columns for every later test of that worker.
# A test that wants a width sets COLUMNS itself (monkeypatch).
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _private_heatreuse_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("hr") / "heatreuse-home"
    monkeypatch.setenv("HEATREUSE_HOME", str(home))
    return home
