"""Rows of ``change_requests`` (migration 8): the two-person rule's requests.

These functions only move rows; what may change (who approves, hashes, bounds, the
audit entries) is decided in :mod:`heatreuse.services.changes`. Each call joins a
transaction the caller opened with :meth:`heatreuse.store.Store.transaction`, or runs in
its own. Times are µs since 1970-01-01 UTC like the rest of the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from heatreuse.store.base import Store

_COLS = (
    "id, site_id, kind, command, reason, requested_by, requested_at_us, expires_at_us, "
    "request_hash, state, approved_by, approved_at_us, executed_at_us, result, break_glass, "
    "flagged_for_review, reviewed_by, reviewed_at_us, review_note, address"
)


def _opt_int(x: Any) -> int | None:
    return None if x is None else int(x)


def _opt_str(x: Any) -> str | None:
    return None if x is None else str(x)


@dataclass(frozen=True)
class ChangeRecord:
    """A row of ``change_requests``; ``command`` is the canonical JSON text."""

    id: str
    site_id: str
    kind: str
    command: str
    reason: str
    requested_by: str
    requested_at_us: int
    expires_at_us: int
    request_hash: str
    state: str
    approved_by: str | None = None
    approved_at_us: int | None = None
    executed_at_us: int | None = None
    result: Mapping[str, Any] | None = None
    break_glass: bool = False
    flagged_for_review: bool = False
    reviewed_by: str | None = None
    reviewed_at_us: int | None = None
    review_note: str | None = None
    address: str = ""


def _record(r: Sequence[Any]) -> ChangeRecord:
    return ChangeRecord(
        id=str(r[0]),
        site_id=str(r[1]),
        kind=str(r[2]),
        command=str(r[3]),
        reason=str(r[4]),
        requested_by=str(r[5]),
        requested_at_us=int(r[6]),
        expires_at_us=int(r[7]),
        request_hash=str(r[8]),
        state=str(r[9]),
        approved_by=_opt_str(r[10]),
        approved_at_us=_opt_int(r[11]),
        executed_at_us=_opt_int(r[12]),
        result=None if r[13] is None else json.loads(r[13]),
        break_glass=bool(r[14]),
        flagged_for_review=bool(r[15]),
        reviewed_by=_opt_str(r[16]),
        reviewed_at_us=_opt_int(r[17]),
        review_note=_opt_str(r[18]),
        address=str(r[19] or ""),
    )


def insert_change(store: Store, rec: ChangeRecord) -> None:
    """Insert a new change request."""
    with store.transaction() as tx:
        tx.execute(
            f"INSERT INTO change_requests ({_COLS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rec.id,
                rec.site_id,
                rec.kind,
                rec.command,
                rec.reason,
                rec.requested_by,
                int(rec.requested_at_us),
                int(rec.expires_at_us),
                rec.request_hash,
                rec.state,
                rec.approved_by,
                rec.approved_at_us,
                rec.executed_at_us,
                None if rec.result is None else json.dumps(rec.result, sort_keys=True),
                1 if rec.break_glass else 0,
                1 if rec.flagged_for_review else 0,
                rec.reviewed_by,
                rec.reviewed_at_us,
                rec.review_note,
                rec.address,
            ),
        )


def get_change(store: Store, site_id: str, change_id: str) -> ChangeRecord | None:
    """The change request ``change_id`` of ``site_id``, or None."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            f"SELECT {_COLS} FROM change_requests WHERE site_id = ? AND id = ?",
            (site_id, change_id),
        )
    return _record(rows[0]) if rows else None


def list_changes(store: Store, site_id: str) -> list[ChangeRecord]:
    """Every change request of a site, oldest first."""
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            f"SELECT {_COLS} FROM change_requests WHERE site_id = ? ORDER BY requested_at_us, id",
            (site_id,),
        )
    return [_record(r) for r in rows]


_UPDATABLE = frozenset(
    {
        "state",
        "approved_by",
        "approved_at_us",
        "executed_at_us",
        "result",
        "flagged_for_review",
        "reviewed_by",
        "reviewed_at_us",
        "review_note",
    }
)


def update_change(
    store: Store, site_id: str, change_id: str, expect_state: str, **fields: Any
) -> bool:
    """Set ``fields`` if the request is still in ``expect_state``; False if it was not.

    The state guard makes two concurrent approvals (or an approval racing an
    expiry) change the row once.
    """
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"change_requests: cannot update {sorted(unknown)}")
    cols, values = [], []
    for k, v in fields.items():
        cols.append(f"{k} = ?")
        if k == "result" and v is not None:
            v = json.dumps(v, sort_keys=True)
        elif k == "flagged_for_review":
            v = 1 if v else 0
        values.append(v)
    with store.transaction() as tx:
        tx.execute(
            f"UPDATE change_requests SET {', '.join(cols)} "
            "WHERE site_id = ? AND id = ? AND state = ?",
            (*values, site_id, change_id, expect_state),
        )
        return tx.rowcount == 1
