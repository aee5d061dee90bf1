"""The ``api`` fixture (:func:`api_harness.build_api`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_harness import Api, build_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    built = build_api(tmp_path)
    try:
        yield built
    finally:
        built.store.close()
