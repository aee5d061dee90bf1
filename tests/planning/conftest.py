"""Shared fixtures of the planning tests: one hourly study of the pool example, run once."""

from __future__ import annotations

from pathlib import Path

import pytest

from heatreuse.planning import StudyResult, run_study
from heatreuse.site import Site, load_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def pool_site() -> Site:
    return load_site(EXAMPLES / "pool.yaml")


@pytest.fixture(scope="session")
def pool_study(tmp_path_factory: pytest.TempPathFactory, pool_site: Site) -> StudyResult:
    """The pool example at hourly steps with the model comparison and a 2 x 2 sweep on 2 workers."""
    out = tmp_path_factory.mktemp("plan-pool")
    return run_study(
        pool_site,
        out,
        step_s=3600,
        compare_models=True,
        sweeps=["tank_volume_m3=4:8:4", "it_power_kw=40:60:20"],
        workers=2,
    )
