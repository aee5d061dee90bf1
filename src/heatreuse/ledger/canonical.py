"""RFC 8785 JSON canonicalisation (JCS) of ledger entries.

A ledger entry is a JSON object; its leaf in the Merkle log is the UTF-8 bytes of its
RFC 8785 canonical form (keys sorted by UTF-16 code units, no insignificant
whitespace, ECMAScript number formatting). Canonicalisation is delegated to the
``rfc8785`` package; this module adds the checks the ledger needs and error messages
that name the offending field:

* NaN and infinities are refused (JSON cannot carry them, RFC 8785 section 3.2.2.3),
* integers outside the IEEE 754 safe range +-(2**53 - 1) are refused (RFC 8785
  section 3.2.2.3 / I-JSON, RFC 7493 section 2.2),
* keys must be strings, values JSON types (dict, list/tuple, str, int, float, bool,
  None).

Note that RFC 8785 writes ``2.0`` as ``2``: after a round trip through JSON such a
value reads back as an ``int``. Totals compare numerically, so this does not matter.

References
----------
A. Rundgren, B. Jordan, S. Erdtman, "JSON Canonicalization Scheme (JCS)", RFC 8785,
IETF, June 2020.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import rfc8785

from heatreuse.errors import LedgerError

__all__ = ["MAX_SAFE_INTEGER", "canonical_json_bytes", "is_canonical", "parse_entry_line"]

#: Largest integer an IEEE 754 double represents exactly, 2**53 - 1 (RFC 7493, 2.2).
MAX_SAFE_INTEGER = 2**53 - 1


def _check_value(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise LedgerError(
                f"entry field {path}: expected an integer within +-(2**53 - 1) "
                f"(RFC 8785 / I-JSON), got {value}"
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LedgerError(
                f"entry field {path}: expected a finite number, got {value!r} "
                "(NaN and infinity cannot be represented in JSON, RFC 8785 3.2.2.3)"
            )
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerError(
                    f"entry field {path}: expected string keys, got key {key!r} "
                    f"of type {type(key).__name__}"
                )
            _check_value(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]")
        return
    raise LedgerError(
        f"entry field {path}: expected a JSON value (object, array, string, number, "
        f"boolean, null), got {type(value).__name__}"
    )


def canonical_json_bytes(entry: Mapping[str, Any]) -> bytes:
    """Return the RFC 8785 canonical JSON bytes of a ledger entry.

    Parameters
    ----------
    entry
        The entry, a JSON object (mapping with string keys).

    Returns
    -------
    bytes
        UTF-8 canonical JSON, no trailing newline.

    Raises
    ------
    LedgerError
        When the entry holds NaN/infinity, an unsafe integer or a non-JSON value; the
        message names the field path (``$.values.heat_kwh``).
    """
    if not isinstance(entry, Mapping):
        raise LedgerError(f"entry: expected a JSON object (mapping), got {type(entry).__name__}")
    _check_value(entry, "$")
    try:
        return rfc8785.dumps(dict(entry))
    except rfc8785.CanonicalizationError as exc:  # pragma: no cover - caught above
        raise LedgerError(f"entry: cannot canonicalise as RFC 8785 JSON: {exc}") from exc


def is_canonical(line: bytes) -> bool:
    """True when ``line`` parses as a JSON object and equals its RFC 8785 form."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    if not isinstance(obj, dict):
        return False
    try:
        return canonical_json_bytes(obj) == line
    except LedgerError:
        return False


def parse_entry_line(line: bytes, where: str) -> dict[str, Any]:
    """Parse one line of ``entries.jsonl`` into a dict.

    Parameters
    ----------
    line
        The line without its newline.
    where
        Location used in error messages, e.g. ``"entries.jsonl line 18"``.

    Raises
    ------
    LedgerError
        When the line is not UTF-8, not JSON, or not a JSON object.
    """
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise LedgerError(f"{where}: expected UTF-8 JSON, got invalid UTF-8 ({exc})") from exc
    except ValueError as exc:
        raise LedgerError(f"{where}: expected one JSON object, got invalid JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise LedgerError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
