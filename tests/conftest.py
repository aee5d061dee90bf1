"""Every test runs with its own ``$HEATREUSE_HOME`` (a path not created yet).

Commands that write keys, checkpoints or the default store go under
``$HEATREUSE_HOME``; without this a test could write into the real
``~/.local/share/heatreuse`` of whoever runs the suite, or two tests could share
a signing key. A test that sets ``HEATREUSE_HOME`` itself (monkeypatch) wins.

The site models' schema cache (:mod:`heatreuse.site.schema_cache`) is off for the
suite and the commands it starts: no test writes into the ``~/.cache`` of whoever
runs it, and no schema built while a test patches something outlives the test.
tests/site/test_schema_cache.py switches it on with folders of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HEATREUSE_CACHE_DIR"] = "off"


@pytest.fixture(autouse=True)
def _private_heatreuse_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("hr") / "heatreuse-home"
    monkeypatch.setenv("HEATREUSE_HOME", str(home))
    return home
