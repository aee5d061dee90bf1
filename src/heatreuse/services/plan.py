"""Use case: the feasibility study of a site file (``heatreuse plan``).

Loads and validates the site file and the command-line options (weather
spec, step, sweep ranges) before any simulation starts, so bad input fails
fast with a message that names it, then runs
:func:`heatreuse.planning.run_study`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from heatreuse.planning import StudyResult, parse_step_s, parse_sweep_specs, run_study
from heatreuse.planning.sweep import Progress, check_applicable
from heatreuse.site import load_site


def plan_site(
    site_file: str | Path,
    out_dir: str | Path,
    *,
    weather: str | None = None,
    step: str | int | None = None,
    compare_models: bool = False,
    sweeps: Sequence[str] = (),
    year: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> StudyResult:
    """Run the plan study for ``site_file`` and write its files to ``out_dir``.

    Parameters
    ----------
    site_file
        The site YAML file.
    out_dir
        Output folder.
    weather
        Weather spec (``pvlib:723170TYA.CSV``, ``dwd-try:04``, a file path);
        default: the site's ``location.weather``.
    step
        Step such as ``60s``, ``15min``, ``1h`` or seconds; default 60 s for
        the main run, hourly for sweeps.
    compare_models
        Compare the five reuse models and build the matrix for every kind.
    sweeps
        ``PARAM=START:STOP:STEP`` strings.
    year
        Calendar year typical-year weather is stamped onto (default: the site's
        commissioning year, else 2025).
    workers
        Sweep worker processes (default: local cores).
    progress
        Sweep progress callback ``(done, total)``.

    Raises
    ------
    HeatreuseError
        Site file invalid (SiteConfigError), weather unknown or bad
        (WeatherError), bad step or sweep (SimulationError).
    """
    site = load_site(site_file)
    step_s = parse_step_s(step)
    axes = parse_sweep_specs(list(sweeps))
    check_applicable(site, axes)
    return run_study(
        site,
        Path(out_dir),
        weather=weather,
        step_s=step_s,
        compare_models=compare_models,
        sweep_axes=axes,
        year=year,
        workers=workers,
        progress=progress,
    )
