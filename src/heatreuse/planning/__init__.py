"""Planning studies on top of the simulation engine.

* :mod:`~heatreuse.planning.matrix`: the heat-demand matrix and fit verdicts;
* :mod:`~heatreuse.planning.compare`: the five reuse models side by side;
* :mod:`~heatreuse.planning.economics`: capex, opex, payback, NPV (estimates);
* :mod:`~heatreuse.planning.figures`: KPIs, avoided CO2 and money from a run's totals;
* :mod:`~heatreuse.planning.sweep`: parallel sizing sweeps and their Pareto frontier;
* :mod:`~heatreuse.planning.report`: the self-contained HTML report;
* :mod:`~heatreuse.planning.study`: the feasibility study that ``heatreuse plan`` runs.
"""

from heatreuse.planning.compare import REUSE_MODELS, ModelRun, compare_models
from heatreuse.planning.economics import (
    LIFETIME_YEARS,
    CapexBreakdown,
    capex_breakdown,
    npv_eur,
    simple_payback_years,
    site_capex,
)
from heatreuse.planning.figures import study_figures
from heatreuse.planning.matrix import DemandProfile, FitVerdict, Reason, demand_matrix, kind_demands
from heatreuse.planning.study import StudyResult, parse_step_s, run_study
from heatreuse.planning.sweep import (
    SWEEP_PARAMETERS,
    SweepResult,
    pareto_frontier,
    parse_range,
    parse_sweep_specs,
    run_sweep,
)

__all__ = [
    "LIFETIME_YEARS",
    "REUSE_MODELS",
    "SWEEP_PARAMETERS",
    "CapexBreakdown",
    "DemandProfile",
    "FitVerdict",
    "ModelRun",
    "Reason",
    "StudyResult",
    "SweepResult",
    "capex_breakdown",
    "compare_models",
    "demand_matrix",
    "kind_demands",
    "npv_eur",
    "pareto_frontier",
    "parse_range",
    "parse_step_s",
    "parse_sweep_specs",
    "run_study",
    "run_sweep",
    "simple_payback_years",
    "site_capex",
    "study_figures",
]
