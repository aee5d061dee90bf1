"""The site model and its loader (``heatreuse.site.load_site``).

Names are imported from their module on first use (:mod:`heatreuse._lazy`):
``from heatreuse.site import load_site`` does not load pydantic and the model
until a file is loaded, so ``heatreuse --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from heatreuse._lazy import lazy_exports

if TYPE_CHECKING:
    from heatreuse.site.loader import load_site, load_site_text
    from heatreuse.site.model import (
        CUSTOMER_KINDS,
        BackupBoiler,
        BufferTank,
        Compute,
        Contract,
        Cooling,
        Customer,
        DhwPreheatCustomer,
        DistrictPreheatCustomer,
        EmissionFactor,
        GreenhouseCustomer,
        HeatExchanger,
        HeatPump,
        HeatReject,
        MaintenanceTask,
        OperatingHours,
        Ownership,
        Pipe,
        Plant,
        PoolCustomer,
        Pump,
        Site,
        SlaTerms,
        SpaceHeatingCustomer,
        Tariffs,
        TempBand,
        TemplateRef,
    )
    from heatreuse.site.points import (
        Equipment,
        ModbusDevice,
        ModbusRegister,
        Point,
        PointsConfig,
        SitePoints,
        expand_points,
        standard_hydronic_points,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    ".loader": (
        "load_site",
        "load_site_text",
    ),
    ".model": (
        "CUSTOMER_KINDS",
        "BackupBoiler",
        "BufferTank",
        "Compute",
        "Contract",
        "Cooling",
        "Customer",
        "DhwPreheatCustomer",
        "DistrictPreheatCustomer",
        "EmissionFactor",
        "GreenhouseCustomer",
        "HeatExchanger",
        "HeatPump",
        "HeatReject",
        "MaintenanceTask",
        "OperatingHours",
        "Ownership",
        "Pipe",
        "Plant",
        "PoolCustomer",
        "Pump",
        "Site",
        "SlaTerms",
        "SpaceHeatingCustomer",
        "Tariffs",
        "TempBand",
        "TemplateRef",
    ),
    ".points": (
        "Equipment",
        "ModbusDevice",
        "ModbusRegister",
        "Point",
        "PointsConfig",
        "SitePoints",
        "expand_points",
        "standard_hydronic_points",
    ),
}

__all__ = [
    "CUSTOMER_KINDS",
    "BackupBoiler",
    "BufferTank",
    "Compute",
    "Contract",
    "Cooling",
    "Customer",
    "DhwPreheatCustomer",
    "DistrictPreheatCustomer",
    "EmissionFactor",
    "Equipment",
    "GreenhouseCustomer",
    "HeatExchanger",
    "HeatPump",
    "HeatReject",
    "MaintenanceTask",
    "ModbusDevice",
    "ModbusRegister",
    "OperatingHours",
    "Ownership",
    "Pipe",
    "Plant",
    "Point",
    "PointsConfig",
    "PoolCustomer",
    "Pump",
    "Site",
    "SitePoints",
    "SlaTerms",
    "SpaceHeatingCustomer",
    "Tariffs",
    "TempBand",
    "TemplateRef",
    "expand_points",
    "load_site",
    "load_site_text",
    "standard_hydronic_points",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
