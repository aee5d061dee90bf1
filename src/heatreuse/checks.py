"""Private helpers of :mod:`heatreuse.physics`: array coercion and domain checks.

Every public physics function accepts Python floats or numpy arrays, returns a
``float`` when all its inputs are scalars and an ``ndarray`` otherwise, and
raises :class:`heatreuse.errors.DomainError` naming the function, the argument,
what was expected and what came.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from heatreuse.errors import DomainError

FloatArray = npt.NDArray[np.float64]
#: What a public physics function accepts for a numeric argument.
FloatOrArray = float | FloatArray


def as_array(value: Any, func: str, name: str) -> FloatArray:
    """Coerce ``value`` to a float64 array and refuse NaN / infinity."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DomainError(
            f"{func}: {name} expected a number or numeric array, got {value!r}"
        ) from exc
    if not np.all(np.isfinite(arr)):
        bad = _first_bad(~np.isfinite(arr))
        raise DomainError(f"{func}: {name} expected finite numbers, got {_describe(arr, bad)}")
    return arr


def is_scalar_call(*values: Any) -> bool:
    """True when every input is a scalar (0-d), so the result is a ``float``."""
    return all(np.ndim(v) == 0 for v in values)


def result(value: FloatArray, scalar: bool) -> FloatOrArray:
    """Return ``float`` for a scalar call, else a float64 ndarray."""
    if scalar:
        return float(np.asarray(value).reshape(()))
    return np.asarray(value, dtype=np.float64)


def _first_bad(mask: npt.NDArray[np.bool_]) -> int | None:
    if mask.ndim == 0:
        return None
    return int(np.flatnonzero(mask.ravel())[0])


def _describe(arr: FloatArray, index: int | None) -> str:
    if index is None:
        return repr(float(arr))
    n_bad_note = f" (element {index} of {arr.size})"
    return f"{float(arr.ravel()[index])!r}{n_bad_note}"


def require(
    ok: npt.NDArray[np.bool_] | bool,
    arr: FloatArray,
    func: str,
    name: str,
    expected: str,
) -> None:
    """Raise :class:`DomainError` unless ``ok`` holds everywhere.

    ``arr`` is the offending argument (broadcast to the shape of ``ok``), used
    to quote the first value that failed.
    """
    ok_arr = np.asarray(ok, dtype=bool)
    if bool(np.all(ok_arr)):
        return
    shaped = np.broadcast_to(arr, ok_arr.shape) if ok_arr.ndim else arr
    bad = _first_bad(~ok_arr)
    n_bad = int(np.count_nonzero(~ok_arr))
    more = f"; {n_bad} values out of domain" if n_bad > 1 else ""
    raise DomainError(f"{func}: {name} expected {expected}, got {_describe(shaped, bad)}{more}")


def non_negative(value: Any, func: str, name: str, unit: str = "") -> FloatArray:
    """Coerce and require ``value >= 0`` (``unit`` only for the message, e.g. ``"kWh"``)."""
    arr = as_array(value, func, name)
    require(arr >= 0.0, arr, func, name, f">= 0 {unit}".rstrip())
    return arr


def positive(value: Any, func: str, name: str) -> FloatArray:
    """Coerce and require ``value > 0``."""
    arr = as_array(value, func, name)
    require(arr > 0.0, arr, func, name, "> 0")
    return arr
