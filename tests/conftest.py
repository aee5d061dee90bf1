"""Every test runs with its own ``$HEATREUSE_HOME`` (a path not created yet).

Commands that write keys, checkpoints or the default store go under
``$HEATREUSE_HOME``; without this a test could write into the real
``~/.local/share/heatreuse`` of whoever runs the suite, or two tests could share
a signing key. A test that sets ``HEATREUSE_HOME`` itself (monkeypatch) wins.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_heatreuse_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("hr") / "heatreuse-home"
    monkeypatch.setenv("HEATREUSE_HOME", str(home))
    return home
