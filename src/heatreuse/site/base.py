"""What every number in a site file must be: a number, finite, and plausible for its unit.

Every site model derives from :class:`SiteModel`. Its validators apply to every
field of every subclass, present and future, so a field added later obeys the
same rules without code of its own:

* a number is never a boolean (``volume_m3: true`` is refused, not read as 1);
* every float is finite (no ``.nan``, ``.inf``);
* every number lies in the plausible range of its unit, chosen by the unit
  suffix of its field name (:data:`PLAUSIBLE_RANGES`; ``max_temp_c: -1e20`` is
  refused); a number without a known suffix is bounded by
  :data:`MAX_ABS_NUMBER`.

A field's own bounds (``Field(gt=0)`` ...) still apply and are checked first;
the ranges here are the outer limits of what a site file can mean, wide enough
for any real site and narrow enough that arithmetic downstream cannot overflow.
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from heatreuse.units import UNIT_SUFFIXES, split_unit_suffix

#: Plausible range of a site-file number per unit suffix: (lowest, highest, what it is).
#: Temperatures: outdoor design temperatures reach -55 C, hot-water plant stays below
#: 200 C. Lengths may be negative (altitude below sea level). Prices, areas, volumes,
#: flows and durations are never negative. Gauge pressure of a hydronic loop: PN 100 at most.
PLAUSIBLE_RANGES: dict[str, tuple[float, float, str]] = {
    "_c": (-60.0, 200.0, "a temperature"),
    "_k": (-200.0, 200.0, "a temperature difference"),
    "_w": (0.0, 1.0e9, "a power"),
    "_kw": (0.0, 1.0e6, "a power"),
    "_mw": (0.0, 1.0e3, "a power"),
    "_wh": (0.0, 1.0e15, "an energy"),
    "_kwh": (0.0, 1.0e12, "an energy"),
    "_mwh": (0.0, 1.0e9, "an energy"),
    "_m": (-1.0e3, 1.0e5, "a length"),
    "_m2": (0.0, 1.0e7, "an area"),
    "_m3": (0.0, 1.0e7, "a volume"),
    "_l": (0.0, 1.0e10, "a volume"),
    "_bar": (-1.0, 100.0, "a gauge pressure"),
    "_s": (0.0, 1.0e9, "a duration"),
    "_min": (0.0, 1.0e7, "a duration"),
    "_h": (0.0, 1.0e6, "a duration"),
    "_d": (0.0, 1.0e5, "a duration"),
    "_per_h": (0.0, 1.0e3, "a rate"),
    "_m3_per_h": (0.0, 1.0e6, "a volume flow"),
    "_l_per_s": (0.0, 1.0e5, "a volume flow"),
    "_kg_per_s": (0.0, 1.0e5, "a mass flow"),
    "_kg_per_h": (0.0, 1.0e8, "a mass flow"),
    "_fraction": (0.0, 1.2, "a fraction"),
    "_percent": (0.0, 120.0, "a percentage"),
    "_deg": (-360.0, 360.0, "an angle"),
    "_eur": (0.0, 1.0e12, "an amount"),
    "_eur_per_kwh": (0.0, 100.0, "a price"),
    "_eur_per_kw": (0.0, 1.0e7, "a unit cost"),
    "_eur_per_m": (0.0, 1.0e7, "a unit cost"),
    "_eur_per_m3": (0.0, 1.0e7, "a unit cost"),
    "_eur_per_year": (0.0, 1.0e11, "a yearly cost"),
    "_kg_per_kwh": (0.0, 10.0, "an emission factor"),
    "_g_per_kwh": (0.0, 1.0e4, "an emission factor"),
    "_w_per_k": (0.0, 1.0e9, "a heat transfer coefficient"),
    "_w_per_m_k": (0.0, 1.0e3, "a thermal conductivity"),
    "_w_per_m2_k": (0.0, 1.0e5, "a heat transfer coefficient"),
    "_m2_k_per_w": (0.0, 1.0, "a fouling resistance"),
    "_m_per_h": (0.0, 1.0e4, "a speed"),
}
#: Largest magnitude of a number whose field name has no suffix in :data:`PLAUSIBLE_RANGES`.
MAX_ABS_NUMBER = 1.0e15


def plausible_range(field_name: str) -> tuple[float, float, str]:
    """The (lowest, highest, what) a number in field ``field_name`` may take.

    Parameters
    ----------
    field_name
        A site-model field name with its unit suffix (``max_temp_c``).

    Returns
    -------
    tuple
        Bounds in the field's unit and a description (``'a temperature in degC'``).

    Examples
    --------
    >>> plausible_range("max_temp_c")
    (-60.0, 200.0, 'a temperature in degC')
    >>> plausible_range("count")
    (-1000000000000000.0, 1000000000000000.0, 'a number')
    """
    split = split_unit_suffix(field_name)
    if split is not None and split[1] in PLAUSIBLE_RANGES:
        low, high, what = PLAUSIBLE_RANGES[split[1]]
        return low, high, f"{what} in {UNIT_SUFFIXES[split[1]]}"
    return -MAX_ABS_NUMBER, MAX_ABS_NUMBER, "a number"


def _leaf_types(annotation: Any) -> Iterator[Any]:
    """The types a field annotation admits (through Optional, unions, lists, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        yield from (type(arg) for arg in typing.get_args(annotation))
        return
    if origin is typing.Annotated:
        yield from _leaf_types(typing.get_args(annotation)[0])
        return
    args = typing.get_args(annotation)
    if not args:
        yield annotation
        return
    for arg in args:
        yield from _leaf_types(arg)


@functools.cache
def takes_number(cls: type[BaseModel], field_name: str) -> bool:
    """True when field ``field_name`` of ``cls`` takes numbers (and not booleans).

    Such a field refuses ``true``/``false`` (pydantic would read them as 1 and 0).
    """
    field = cls.model_fields.get(field_name)
    if field is None:
        return False
    types = set(_leaf_types(field.annotation))
    return bool(types & {int, float}) and bool not in types and Any not in types


def _bools(value: Any, where: str = "") -> Iterator[tuple[str, bool]]:
    if isinstance(value, bool):
        yield where, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _bools(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _bools(item, f"{where}[{key!r}]")


def _numbers(value: Any, where: str = "") -> Iterator[tuple[str, int | float]]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        yield where, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{where}[{key!r}]")


def _item(where: str) -> str:
    return f"item {where}: " if where else ""


def _a_number(what: str) -> str:
    """'a volume in m3 (a number, not true/false)'; 'a number (not true/false)'."""
    return (
        f"{what} (not true/false)" if what == "a number" else f"{what} (a number, not true/false)"
    )


def show_number(number: float) -> str:
    """A number as the user would write it, bounded in length (no 4,300-digit integers)."""
    if isinstance(number, int) and abs(number) >= 10**30:
        return f"an integer of about {int(number.bit_length() * math.log10(2)) + 1} digits"
    return repr(number) if isinstance(number, float) else str(number)


class SiteModel(BaseModel):
    """Base of every site-file model: frozen, no unknown fields, plausible numbers only."""

    # Attribute docstrings become field descriptions: docs/site-file.md shows them
    # (heatreuse.site.reference).
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        allow_inf_nan=False,
        defer_build=True,
    )

    @classmethod
    def model_rebuild(
        cls,
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Any = None,
    ) -> bool | None:
        """Complete the deferred model from the schema cache, else as pydantic does.

        pydantic calls this when a deferred model is first used. A schema it builds
        is kept for the next process (:mod:`heatreuse.site.schema_cache`).
        """
        from heatreuse.site import schema_cache

        if not force and not cls.__pydantic_complete__ and schema_cache.install(cls):
            return True
        built = super().model_rebuild(
            force=force,
            raise_errors=raise_errors,
            # one frame deeper than pydantic expects: this override
            _parent_namespace_depth=(
                _parent_namespace_depth + 1 if _parent_namespace_depth > 0 else 0
            ),
            _types_namespace=_types_namespace,
        )
        if built:
            schema_cache.remember(cls)
        return built

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, data: Any) -> Any:
        # A model validator, not a field one: pydantic allows no "before" field validator on
        # a discriminator field ("kind"). The error still names the field (loc).
        if not isinstance(data, dict):
            return data
        errors: list[InitErrorDetails] = []
        for name, value in data.items():
            if not (isinstance(name, str) and takes_number(cls, name)):
                continue
            for where, flag in _bools(value):
                what = plausible_range(name)[2]
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "site_bool_for_number",
                            f"{_item(where)}expected {_a_number(what)}; got {str(flag).lower()}",
                        ),
                        loc=(name,),
                        input=value,
                    )
                )
                break
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _plausible_number(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None:
            return value
        for where, number in _numbers(value):
            low, high, what = plausible_range(info.field_name)
            if isinstance(number, float) and not math.isfinite(number):
                raise PydanticCustomError(
                    "site_not_finite",
                    f"{_item(where)}expected {what}, a finite number; got {number!r}",
                )
            if not low <= number <= high:
                raise PydanticCustomError(
                    "site_implausible",
                    f"{_item(where)}expected {what} between {low:g} and {high:g} (the "
                    f"plausible range for a site); got {show_number(number)}",
                )
        return value
