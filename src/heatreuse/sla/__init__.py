"""Heat-delivery SLA: definitions, OpenSLO v1 import/export, evaluation on 1-minute slices.

Public API
----------
- :class:`SlaDefinition` (``SlaDefinition.from_site(site)``), :class:`MaintenanceWindowDef`
- :func:`evaluate` -> :class:`SlaReport` (:class:`Interruption`, :class:`Breach`,
  :class:`BurnRate`, :class:`MaintenanceVerdict`, :class:`DailyHeat`), :func:`minute_status`
- :func:`export_openslo`, :func:`import_openslo`, :func:`sla_terms_yaml`
"""

from heatreuse.sla.definition import MaintenanceWindowDef, SlaDefinition
from heatreuse.sla.evaluate import (
    Breach,
    BurnRate,
    DailyHeat,
    Interruption,
    MaintenanceVerdict,
    SlaReport,
    evaluate,
    minute_status,
)
from heatreuse.sla.openslo import (
    export_openslo,
    from_openslo_documents,
    import_openslo,
    sla_terms_yaml,
    to_openslo_documents,
)

__all__ = [
    "Breach",
    "BurnRate",
    "DailyHeat",
    "Interruption",
    "MaintenanceVerdict",
    "MaintenanceWindowDef",
    "SlaDefinition",
    "SlaReport",
    "evaluate",
    "export_openslo",
    "from_openslo_documents",
    "import_openslo",
    "minute_status",
    "sla_terms_yaml",
    "to_openslo_documents",
]
