"""Heat-delivery SLA: definitions, OpenSLO v1 import/export, evaluation on 1-minute slices.

Public API
----------
- :class:`SlaDefinition` (``SlaDefinition.from_site(site)``), :class:`MaintenanceWindowDef`
- :func:`evaluate` -> :class:`SlaReport` (:class:`Interruption`, :class:`Breach`,
  :class:`BurnRate`, :class:`MaintenanceVerdict`, :class:`DailyHeat`,
  :class:`DailyMinutes`), :func:`minute_status`
- the verdict: :func:`sla_verdict` (met / breached / unknown), :func:`data_coverage`,
  :func:`proven_breaches`, :func:`with_verdict`
- :func:`compose_reports`: one period's report from the reports of its parts
  (sealed months and what the store still holds)
- :func:`export_openslo`, :func:`import_openslo`, :func:`sla_terms_yaml`
"""

from heatreuse.sla.compose import compose_reports
from heatreuse.sla.definition import MaintenanceWindowDef, SlaDefinition
from heatreuse.sla.evaluate import (
    VERDICTS,
    Breach,
    BurnRate,
    DailyHeat,
    DailyMinutes,
    Interruption,
    MaintenanceVerdict,
    SlaReport,
    data_coverage,
    evaluate,
    minute_status,
    proven_breaches,
    sla_verdict,
    with_verdict,
)
from heatreuse.sla.openslo import (
    export_openslo,
    from_openslo_documents,
    import_openslo,
    sla_terms_yaml,
    to_openslo_documents,
)

__all__ = [
    "VERDICTS",
    "Breach",
    "BurnRate",
    "DailyHeat",
    "DailyMinutes",
    "Interruption",
    "MaintenanceVerdict",
    "MaintenanceWindowDef",
    "SlaDefinition",
    "SlaReport",
    "compose_reports",
    "data_coverage",
    "evaluate",
    "export_openslo",
    "from_openslo_documents",
    "import_openslo",
    "minute_status",
    "proven_breaches",
    "sla_terms_yaml",
    "sla_verdict",
    "to_openslo_documents",
    "with_verdict",
]
