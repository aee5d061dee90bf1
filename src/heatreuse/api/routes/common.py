"""Helpers of the route modules: time parameters, pages, redaction."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from heatreuse.api.errors import ApiError
from heatreuse.rawtext import preview

T = TypeVar("T")
DEFAULT_LIMIT = 100
_SECRET_KEY = re.compile(r"password|secret|token|api_?key|webhook|credential", re.I)
_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)


def parse_time(value: str | None, field: str) -> dt.datetime | None:
    """An ISO 8601 time with offset (``Z``) or epoch seconds, as aware UTC; 422 otherwise."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"-?\d{1,12}(\.\d+)?", text):
            return dt.datetime.fromtimestamp(float(text), dt.UTC)
        if len(text) > 40:
            raise ValueError
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise ApiError(
            422,
            f"{field}: expected an ISO 8601 time with offset such as 2026-03-01T00:00Z or "
            f"epoch seconds, got {preview(value)}",
            field,
        ) from None
    if t.tzinfo is None:
        raise ApiError(
            422,
            f"{field}: expected a time with its offset (Z or +01:00), got {preview(value)}",
            field,
        )
    return t.astimezone(dt.UTC)


def iso(t: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with ``Z``."""
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_cursor(cursor: str | None) -> int:
    """An opaque cursor of a page (an offset here); 422 if it is not one of ours."""
    if cursor is None or cursor == "":
        return 0
    if not re.fullmatch(r"\d{1,12}", cursor):
        raise ApiError(
            422,
            f"cursor: expected the next_cursor of a previous page, got {preview(cursor)}",
            "cursor",
        )
    return int(cursor)


def page(items: Sequence[T], limit: int, cursor: str | None) -> dict[str, Any]:
    """Slice ``items`` at the cursor; ``{"items", "next_cursor", "total"}``."""
    start = parse_cursor(cursor)
    chunk = list(items[start : start + limit])
    nxt = start + limit
    return {
        "items": chunk,
        "next_cursor": str(nxt) if nxt < len(items) else None,
        "total": len(items),
    }


def redact(node: Any) -> Any:
    """A copy of a configuration tree without secrets: values of keys that look like
    passwords, tokens, keys or webhooks are replaced, credentials in URLs removed."""
    if isinstance(node, dict):
        return {
            k: ("<redacted>" if _SECRET_KEY.search(str(k)) and v not in (None, "") else redact(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [redact(v) for v in node]
    if isinstance(node, str):
        return _URL_USERINFO.sub(r"\1<redacted>@", node)
    return node


def jsonable(node: Any) -> Any:
    """A JSON-ready copy: non-finite floats become None, times ISO text, tuples lists."""
    import math

    if isinstance(node, float):
        return node if math.isfinite(node) else None
    if isinstance(node, dict):
        return {str(k): jsonable(v) for k, v in node.items()}
    if isinstance(node, list | tuple | set | frozenset):
        return [jsonable(v) for v in node]
    if isinstance(node, dt.datetime):
        return iso(node) if node.tzinfo is not None else node.isoformat()
    if isinstance(node, dt.date):
        return node.isoformat()
    if node is None or isinstance(node, str | int | bool):
        return node
    if hasattr(node, "item"):  # numpy scalars
        return jsonable(node.item())
    if hasattr(node, "isoformat"):
        return str(node.isoformat())
    return str(node)


def jdict(node: Any) -> dict[str, Any]:
    """:func:`jsonable` of a mapping."""
    out = jsonable(node)
    assert isinstance(out, dict)
    return out


def jlist(node: Any) -> list[Any]:
    """:func:`jsonable` of a sequence."""
    out = jsonable(node)
    assert isinstance(out, list)
    return out
