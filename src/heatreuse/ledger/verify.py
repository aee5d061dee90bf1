"""Ledger export folder and its independent verification.

Export folder format (``format_version`` 1)
-------------------------------------------
An export is everything an outside auditor needs; :func:`verify_export` reads nothing
else::

    DIR/manifest.json        {"format": "heatreuse-ledger-export", "format_version": 1,
                              "origin": "<log origin>", "entry_count": n,
                              "checkpoint_sizes": [..], "merkle": "RFC 9162 SHA-256",
                              "entry_encoding": "RFC 8785 JSON"}
    DIR/entries.jsonl        one entry per line, in log order: the RFC 8785 canonical
                              JSON of the entry (UTF-8) followed by "\\n". Line k
                              (1-based) is entry k-1 and carries "index": k-1. The line
                              bytes without the newline are the Merkle leaf.
    DIR/checkpoints/<size>.txt
                             C2SP signed-note checkpoints (origin, size, base64 root,
                              Ed25519 signature), one per signed tree size.
    DIR/public_key.vkey      the verifier key, "<name>+<key ID hex>+<base64(0x01||pk)>".
    DIR/totals.json          reported totals (see below).
    DIR/leaf_hashes.bin      optional, unsigned: the 32-byte leaf hashes in log order as
                              they were signed. Used only to say *which* entry changed;
                              trusted only if it reproduces every signed root.

The public key must be obtained or confirmed out of band (website, contract): a
verifier that trusts ``public_key.vkey`` blindly only proves internal consistency.
Pass the known key as ``expected_vkey`` (CLI: ``heatreuse verify DIR --vkey KEY``) to
pin it.

Totals (``totals.json``)
------------------------
``{"format": "heatreuse-ledger-totals", "format_version": 1, "totals": [T, ...]}``,
each ``T`` a declarative sum::

    {"name": "heat delivered 2026-01",         # free text
     "entry_type": "ledger_interval",          # entries with entry["type"] == this
     "field": "heat_delivered_kwh",            # the summed field (dotted path: "a.b")
     "group_by": "period_start",               # field whose string value ...
     "group_prefix": "2026-01",                # ... starts with this ("" = all)
     "where": {"estimated": false},            # optional exact-match filters
     "tree_size": 744,                         # sum over entries 0..tree_size-1; must
                                               #   be a signed checkpoint size
     "count": 744, "value": 12345.678}         # number of entries summed, the sum

A matching entry whose field is missing or not a number is an error. Integers sum
exactly; when any value is a float the sum is ``math.fsum``. Verification compares
counts exactly and values exactly for integers, within 1e-9 relative for floats.

Entry types
-----------
Every entry has a string ``type``; the report counts entries per type
(``entry_types``). Types with rules of their own: ``audit`` entries (who, what,
when, why of an acknowledgement, a silence or an escalation step) must carry the
fields :data:`AUDIT_FIELDS` with ``actor``, ``action`` and ``at`` non-empty strings.

What :func:`verify_export` checks
---------------------------------
1. ``public_key.vkey`` parses; every ``checkpoints/<size>.txt`` is a valid signed note
   by that key, its size equals the file name and its origin the manifest's.
2. Every line of ``entries.jsonl`` is canonical JSON with ``index`` equal to its
   position; runs of shifted indices are reported as deleted/inserted/reordered.
3. The root of the first ``size`` entries equals each signed root; entries beyond the
   largest checkpoint are unsigned and fail.
4. Consistency proofs between consecutive checkpoints, computed from the entries,
   verify against the signed roots (RFC 9162 2.1.4.2), as an auditor would.
5. Every total is recomputed and compared; each entry behind a total gets an inclusion
   proof against the signed root of the checkpoint the total is anchored to.
6. On a root mismatch the first bad entry is localised: exactly, from a trusted
   ``leaf_hashes.bin`` (edited / deleted / inserted / moved, per entry); otherwise to
   the range between the last matching and the first failing checkpoint.
7. With witness keys (``--witness``): the newest checkpoint carries a valid
   cosignature by each witness (C2SP tlog-cosignature/v1, see
   :mod:`heatreuse.ledger.cosignature`), and every cosignature by them in the folder
   verifies. A witness cosigns only a checkpoint consistent with the largest one it
   has seen, so a log that was rolled back or forked after a witness saw it (even one
   rebuilt consistently by someone holding the database, the checkpoint folder and
   the signing key) cannot show a cosigned newest checkpoint. Without a witness such
   a rebuilt log verifies: it is consistent in itself.

8. Every sealed SLA result (``sla_seal`` entry) adds up (evidence, coverage, a ``met``
   verdict with enough data and no broken term), and a period sealed twice names the
   earlier seal with a reason (:mod:`heatreuse.ledger.seal`); exports without seals
   pass this check trivially.
9. Every ``commissioning`` entry carries its fields, its items have a status of
   pass/fail/skipped and ``passed`` follows from them
   (:mod:`heatreuse.ledger.commissioning`).

Hostile folders
---------------
Every file is opened without following symbolic links and must be a regular file
(a FIFO, a device or a link to ``/dev/zero`` is refused at once, never read), and
reads are bounded: ``entries.jsonl`` and ``leaf_hashes.bin`` at ``max_entries_bytes``
(default :data:`MAX_ENTRIES_BYTES`, 512 MiB: about 160 000 hourly entries of ~3 KB),
``manifest.json`` and ``totals.json`` at :data:`MAX_JSON_BYTES` (16 MiB), a checkpoint
or key file at :data:`MAX_NOTE_BYTES` (64 KiB), at most :data:`MAX_CHECKPOINT_FILES`
checkpoint files. ``checkpoints/`` must be a folder, not a link.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
import math
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heatreuse.errors import LedgerError, VerificationError
from heatreuse.ledger.canonical import canonical_json_bytes, parse_entry_line
from heatreuse.ledger.checkpoint import Checkpoint, parse_note, verify_checkpoint
from heatreuse.ledger.commissioning import check_commissioning_entries
from heatreuse.ledger.cosignature import find_cosignatures
from heatreuse.ledger.keys import VerifierKey, parse_cosigner_vkey, parse_vkey
from heatreuse.ledger.merkle import (
    HASH_SIZE_BYTES,
    MerkleTree,
    verify_consistency,
    verify_inclusion,
)
from heatreuse.ledger.safe_files import check_real_folder, read_regular_file
from heatreuse.ledger.seal import check_seal_entries

__all__ = [
    "AUDIT_FIELDS",
    "ENTRY_AUDIT",
    "EXPORT_FORMAT",
    "EXPORT_FORMAT_VERSION",
    "MAX_CHECKPOINT_FILES",
    "MAX_ENTRIES_BYTES",
    "MAX_JSON_BYTES",
    "MAX_NOTE_BYTES",
    "Problem",
    "ReportedTotal",
    "TotalSpec",
    "VerifiedExport",
    "VerifyReport",
    "WitnessedCheckpoint",
    "compute_total",
    "export_log",
    "monthly_total_specs",
    "read_export",
    "verify_export",
]

EXPORT_FORMAT = "heatreuse-ledger-export"
EXPORT_FORMAT_VERSION = 1
TOTALS_FORMAT = "heatreuse-ledger-totals"
#: Relative tolerance for float totals [-].
FLOAT_TOTAL_REL_TOL = 1e-9

#: Entry type of audited acts (ack, silence, escalation step).
ENTRY_AUDIT = "audit"
#: Fields every ``audit`` entry carries: who, what (action on target), when, why.
AUDIT_FIELDS = ("audit_id", "site_id", "at", "actor", "action", "target", "reason", "detail")

ENTRIES_FILE = "entries.jsonl"
CHECKPOINT_DIR = "checkpoints"
VKEY_FILE = "public_key.vkey"
TOTALS_FILE = "totals.json"
MANIFEST_FILE = "manifest.json"
LEAF_HASHES_FILE = "leaf_hashes.bin"
_MAX_LISTED = 20
#: Largest ``entries.jsonl`` (and ``leaf_hashes.bin``) verify reads by default [bytes].
MAX_ENTRIES_BYTES = 512 * 1024 * 1024
#: Largest ``manifest.json`` / ``totals.json`` [bytes].
MAX_JSON_BYTES = 16 * 1024 * 1024
#: Largest checkpoint note or ``public_key.vkey`` [bytes].
MAX_NOTE_BYTES = 64 * 1024
#: Most files read from ``checkpoints/`` [-].
MAX_CHECKPOINT_FILES = 100_000
#: A cosignature time later than the verifier's clock by more than this fails [s].
COSIGNATURE_FUTURE_TOLERANCE_S = 600


# -- totals ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TotalSpec:
    """A declarative total: the sum of ``field`` over matching entries.

    Attributes
    ----------
    entry_type
        Only entries with ``entry["type"] == entry_type`` count.
    field
        Summed field, a dotted path (``"heat_delivered_kwh"`` or ``"values.heat_kwh"``).
    group_by
        Field whose string value must start with ``group_prefix``.
    group_prefix
        Prefix, e.g. ``"2026-01"`` for a month of ISO timestamps; ``""`` matches all.
    where
        Exact-match filters as ``(dotted path, value)`` pairs.
    tree_size
        The total covers entries ``0..tree_size-1``; None means all entries at export.
    name
        Free-text label.
    """

    entry_type: str
    field: str
    group_by: str = ""
    group_prefix: str = ""
    where: tuple[tuple[str, Any], ...] = ()
    tree_size: int | None = None
    name: str = ""

    def label(self) -> str:
        """Human-readable name of the total."""
        if self.name:
            return self.name
        group = f" {self.group_by}={self.group_prefix}*" if self.group_by else ""
        return f"{self.entry_type}.{self.field}{group}"


@dataclass(frozen=True)
class ReportedTotal:
    """A total as reported: the spec (with ``tree_size`` set), the count and the value."""

    spec: TotalSpec
    count: int
    value: int | float


def _get_path(entry: Mapping[str, Any], parts: Sequence[str]) -> tuple[bool, Any]:
    node: Any = entry
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def compute_total(
    entries: Sequence[Mapping[str, Any] | None], spec: TotalSpec
) -> tuple[int | float, int, list[int]]:
    """Recompute a total over ``entries[:spec.tree_size]``.

    Parameters
    ----------
    entries
        Entries in log order (``None`` for an unreadable entry, skipped).
    spec
        The total.

    Returns
    -------
    tuple
        ``(value, count, indices)``: the sum (``int`` if all values are ints, else
        ``float`` by ``math.fsum``), the number of summed entries and their indices.

    Raises
    ------
    LedgerError
        When a matching entry lacks the field or it is not a number.
    """
    size = len(entries) if spec.tree_size is None else spec.tree_size
    if size > len(entries):
        raise LedgerError(
            f"total {spec.label()!r}: tree_size {size} exceeds the {len(entries)} entries"
        )
    entry_type = spec.entry_type
    field_parts = spec.field.split(".")
    group_parts = spec.group_by.split(".") if spec.group_by else None
    prefix = spec.group_prefix
    filters = [(path.split("."), wanted) for path, wanted in spec.where]
    values: list[int | float] = []
    indices: list[int] = []
    for i in range(size):
        entry = entries[i]
        if entry is None or entry.get("type") != entry_type:
            continue
        if group_parts is not None:
            found, key = _get_path(entry, group_parts)
            if not found or not isinstance(key, str) or not key.startswith(prefix):
                continue
        if any(
            not found or value != wanted or type(value) is not type(wanted)
            for (found, value), wanted in ((_get_path(entry, p), w) for p, w in filters)
        ):
            continue
        found, value = _get_path(entry, field_parts)
        if not found or isinstance(value, bool) or not isinstance(value, int | float):
            raise LedgerError(
                f"entry {i}: total {spec.label()!r} needs a number in field {spec.field!r}, "
                f"got {value!r}" + ("" if found else " (field missing)")
            )
        values.append(value)
        indices.append(i)
    if all(isinstance(v, int) for v in values):
        return sum(int(v) for v in values), len(values), indices
    return math.fsum(values), len(values), indices


def monthly_total_specs(
    entries: Iterable[Mapping[str, Any]],
    entry_type: str,
    field: str,
    group_by: str = "period_start",
    tree_size: int | None = None,
) -> list[TotalSpec]:
    """One :class:`TotalSpec` per calendar month present in ``group_by`` (``YYYY-MM``)."""
    months: set[str] = set()
    for entry in entries:
        if entry.get("type") != entry_type:
            continue
        found, key = _get_path(entry, group_by.split("."))
        if found and isinstance(key, str) and len(key) >= 7:
            months.add(key[:7])
    return [
        TotalSpec(
            entry_type=entry_type,
            field=field,
            group_by=group_by,
            group_prefix=month,
            tree_size=tree_size,
            name=f"{field} {month}",
        )
        for month in sorted(months)
    ]


def _values_equal(reported: Any, recomputed: int | float) -> bool:
    if isinstance(reported, bool) or not isinstance(reported, int | float):
        return False
    if isinstance(reported, int) and isinstance(recomputed, int):
        return reported == recomputed
    return math.isclose(float(reported), float(recomputed), rel_tol=FLOAT_TOTAL_REL_TOL)


def _total_to_json(total: ReportedTotal) -> dict[str, Any]:
    spec = total.spec
    return {
        "name": spec.label(),
        "entry_type": spec.entry_type,
        "field": spec.field,
        "group_by": spec.group_by,
        "group_prefix": spec.group_prefix,
        "where": dict(spec.where),
        "tree_size": spec.tree_size,
        "count": total.count,
        "value": total.value,
    }


def _total_from_json(obj: Any, where: str) -> ReportedTotal:
    if not isinstance(obj, dict):
        raise LedgerError(f"{where}: expected an object, got {type(obj).__name__}")
    try:
        where_filters = obj.get("where") or {}
        if not isinstance(where_filters, dict):
            raise LedgerError(f"{where}.where: expected an object")
        spec = TotalSpec(
            entry_type=_expect(obj, "entry_type", str, where),
            field=_expect(obj, "field", str, where),
            group_by=obj.get("group_by", "") or "",
            group_prefix=obj.get("group_prefix", "") or "",
            where=tuple(sorted(where_filters.items())),
            tree_size=_expect(obj, "tree_size", int, where),
            name=obj.get("name", "") or "",
        )
        count = _expect(obj, "count", int, where)
        value = obj.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LedgerError(f"{where}.value: expected a number, got {value!r}")
    except TypeError as exc:  # pragma: no cover - defensive
        raise LedgerError(f"{where}: {exc}") from exc
    return ReportedTotal(spec=spec, count=count, value=value)


def _expect(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LedgerError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


# -- export ---------------------------------------------------------------------------


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def export_log(
    directory: str | os.PathLike[str],
    entries: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[str],
    vkey: str | VerifierKey,
    totals: Sequence[TotalSpec | ReportedTotal] = (),
) -> Path:
    """Write a ledger export folder (format in the module docstring).

    Parameters
    ----------
    directory
        Target folder; created if missing. It must be empty or hold an earlier export.
    entries
        All log entries in order, each with ``index`` equal to its position.
    checkpoints
        Signed checkpoint notes; each must verify with ``vkey`` and cover at most
        ``len(entries)`` entries, with the root of those entries.
    vkey
        The verifier key (string or :class:`VerifierKey`).
    totals
        Totals to report: a :class:`TotalSpec` is computed here from the entries (its
        ``tree_size`` defaults to the largest checkpoint size), a
        :class:`ReportedTotal` is written as given (what a report claimed).

    Returns
    -------
    Path
        The export folder.

    Raises
    ------
    LedgerError
        When the inputs do not form a verifiable export (the message says why).
    """
    out = Path(directory)
    verifier = vkey if isinstance(vkey, VerifierKey) else parse_vkey(vkey, "vkey")
    if out.exists():
        if not out.is_dir():
            raise LedgerError(f"{out}: export target exists and is not a folder")
        if any(out.iterdir()) and not (out / MANIFEST_FILE).is_file():
            raise LedgerError(
                f"{out}: export target is not empty and holds no {MANIFEST_FILE}; "
                "refusing to write into an unrelated folder"
            )
    lines: list[bytes] = []
    for i, entry in enumerate(entries):
        if entry.get("index") != i or isinstance(entry.get("index"), bool):
            raise LedgerError(f"entry {i}: field 'index' is {entry.get('index')!r}, expected {i}")
        lines.append(canonical_json_bytes(entry))
    tree = MerkleTree(lines)

    parsed: dict[int, Checkpoint] = {}
    for n, note in enumerate(checkpoints):
        cp = verify_checkpoint(note, verifier, f"checkpoint {n}")
        if cp.size > tree.size:
            raise LedgerError(
                f"checkpoint {n}: covers {cp.size} entries but only {tree.size} are exported"
            )
        if cp.root_hash != tree.root_hash(cp.size):
            raise LedgerError(
                f"checkpoint {n} (size {cp.size}): signed root does not match the entries"
            )
        parsed[cp.size] = cp
    if not parsed:
        raise LedgerError("export: at least one signed checkpoint is needed")
    origins = {cp.origin for cp in parsed.values()}
    if len(origins) != 1:
        raise LedgerError(f"export: checkpoints name several origins: {sorted(origins)}")
    origin = origins.pop()
    max_size = max(parsed)
    if max_size != tree.size:
        raise LedgerError(
            f"export: the largest checkpoint covers {max_size} entries but {tree.size} are "
            "exported; sign a checkpoint at the current size first"
        )

    plain_entries: list[Mapping[str, Any]] = list(entries)
    reported: list[ReportedTotal] = []
    for item in totals:
        if isinstance(item, ReportedTotal):
            reported.append(item)
            continue
        spec = item
        if spec.tree_size is None:
            spec = TotalSpec(
                entry_type=spec.entry_type,
                field=spec.field,
                group_by=spec.group_by,
                group_prefix=spec.group_prefix,
                where=spec.where,
                tree_size=max_size,
                name=spec.name,
            )
        if spec.tree_size not in parsed:
            raise LedgerError(
                f"total {spec.label()!r}: tree_size {spec.tree_size} is not a signed "
                f"checkpoint size ({sorted(parsed)})"
            )
        value, count, _ = compute_total(plain_entries, spec)
        reported.append(ReportedTotal(spec=spec, count=count, value=value))

    out.mkdir(parents=True, exist_ok=True)
    cp_dir = out / CHECKPOINT_DIR
    earlier = _earlier_notes(cp_dir)  # a re-export keeps the witnesses' cosignatures
    if cp_dir.exists():
        shutil.rmtree(cp_dir)
    cp_dir.mkdir()
    for note in checkpoints:
        cp = verify_checkpoint(note, verifier)
        note = _merge_signatures(note, earlier.get(cp.size))
        (cp_dir / f"{cp.size}.txt").write_bytes(note.encode("utf-8"))
    _write_bytes_atomic(out / ENTRIES_FILE, b"".join(line + b"\n" for line in lines))
    _write_bytes_atomic(out / LEAF_HASHES_FILE, b"".join(tree.leaf_hashes()))
    _write_bytes_atomic(out / VKEY_FILE, (verifier.to_vkey() + "\n").encode("utf-8"))
    totals_doc = {
        "format": TOTALS_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "totals": [_total_to_json(t) for t in reported],
    }
    _write_bytes_atomic(out / TOTALS_FILE, _json_bytes(totals_doc))
    manifest = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "origin": origin,
        "entry_count": len(lines),
        "checkpoint_sizes": sorted(parsed),
        "merkle": "RFC 9162 SHA-256",
        "entry_encoding": "RFC 8785 JSON",
        "checkpoint_format": "C2SP tlog-checkpoint, Ed25519 signed-note",
    }
    _write_bytes_atomic(out / MANIFEST_FILE, _json_bytes(manifest))
    return out


def _earlier_notes(cp_dir: Path) -> dict[int, str]:
    """Checkpoint notes of an earlier export in the target folder (bounded reads)."""
    notes: dict[int, str] = {}
    try:
        if not check_real_folder(cp_dir, str(cp_dir)):
            return notes
        for path in cp_dir.iterdir():
            if path.suffix == ".txt" and path.stem.isdigit():
                raw = read_regular_file(path, MAX_NOTE_BYTES, str(path))
                notes[int(path.stem)] = raw.decode("utf-8")
    except (VerificationError, OSError, UnicodeDecodeError):
        return {}  # nothing worth keeping from a damaged folder
    return notes


def _merge_signatures(note: str, earlier: str | None) -> str:
    """``note`` plus the signature lines an earlier copy of the same note carried."""
    if earlier is None or earlier == note:
        return note
    try:
        body, _ = parse_note(note)
        old_body, _ = parse_note(earlier)
    except VerificationError:
        return note
    if old_body != body:
        return note
    have = set(note[len(body) + 1 :].split("\n"))
    extra = [line for line in earlier[len(body) + 1 :].split("\n") if line and line not in have]
    return note + "".join(line + "\n" for line in extra)


# -- verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One verification failure.

    Attributes
    ----------
    where
        File and line or item, e.g. ``entries.jsonl line 18`` or ``checkpoints/64.txt``.
    message
        What was expected and what was found.
    entry_index
        0-based log position the problem points at, when one can be named: the entry
        index for an edited, missing or moved entry, the line position (line - 1) for
        a line that is not a signed entry, the first index of a range otherwise.
    """

    where: str
    message: str
    entry_index: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A witness's valid cosignature on the newest checkpoint of an export.

    Attributes
    ----------
    witness
        Witness key name.
    size
        Size of the cosigned checkpoint [entries].
    cosigned_at_s
        Cosigning time [s since the POSIX epoch, UTC].
    """

    witness: str
    size: int
    cosigned_at_s: int

    def cosigned_at_iso(self) -> str:
        """Cosigning time as ISO 8601 UTC."""
        return dt.datetime.fromtimestamp(self.cosigned_at_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify_export`; ``ok`` is True when nothing failed."""

    directory: str
    origin: str | None
    key_name: str | None
    entry_count: int
    checkpoint_sizes: tuple[int, ...]
    checkpoints_verified: tuple[int, ...]
    consistency_proofs_verified: int
    totals_recomputed: int
    totals_matched: int
    inclusion_proofs_verified: int
    leaf_hashes_used: bool
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    witnessed: tuple[WitnessedCheckpoint, ...] = ()
    entry_types: Mapping[str, int] = field(default_factory=dict)
    """Number of entries per ``type`` (``audit``, ``ledger_interval``, ...)."""

    @property
    def ok(self) -> bool:
        """True when the export verified without any problem."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output)."""
        return {
            "directory": self.directory,
            "ok": self.ok,
            "origin": self.origin,
            "key_name": self.key_name,
            "entry_count": self.entry_count,
            "checkpoint_sizes": list(self.checkpoint_sizes),
            "checkpoints_verified": list(self.checkpoints_verified),
            "consistency_proofs_verified": self.consistency_proofs_verified,
            "totals_recomputed": self.totals_recomputed,
            "totals_matched": self.totals_matched,
            "inclusion_proofs_verified": self.inclusion_proofs_verified,
            "leaf_hashes_used": self.leaf_hashes_used,
            "entry_types": dict(sorted(self.entry_types.items())),
            "witnessed": [
                {
                    "witness": w.witness,
                    "size": w.size,
                    "cosigned_at_s": w.cosigned_at_s,
                    "cosigned_at": w.cosigned_at_iso(),
                }
                for w in self.witnessed
            ],
            "problems": [
                {"where": p.where, "message": p.message, "entry_index": p.entry_index}
                for p in self.problems
            ],
        }


def _span(a: int, b: int) -> str:
    return str(a) if a == b else f"{a}..{b}"


def _entries(a: int, b: int) -> str:
    """``entry 7`` or ``entries 7..9``."""
    return f"entry {a}" if a == b else f"entries {a}..{b}"


def _runs(items: Sequence[int]) -> list[tuple[int, int]]:
    """Collapse sorted integers into inclusive runs."""
    runs: list[tuple[int, int]] = []
    for x in items:
        if runs and x == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], x)
        else:
            runs.append((x, x))
    return runs


def _longest_increasing(values: Sequence[int]) -> set[int]:
    """Positions (into ``values``) of one longest strictly increasing subsequence."""
    tails: list[int] = []
    tail_pos: list[int] = []
    prev = [-1] * len(values)
    for pos, v in enumerate(values):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_pos.append(pos)
        else:
            tails[k] = v
            tail_pos[k] = pos
        prev[pos] = tail_pos[k - 1] if k > 0 else -1
    keep: set[int] = set()
    pos = tail_pos[-1] if tail_pos else -1
    while pos >= 0:
        keep.add(pos)
        pos = prev[pos]
    return keep


class _Verifier:
    """State of one verification run (kept small and linear)."""

    def __init__(self, directory: Path, max_entries_bytes: int = MAX_ENTRIES_BYTES) -> None:
        self.dir = directory
        self.max_entries_bytes = max_entries_bytes
        self.notes: dict[int, str] = {}  # signed note text per validly signed size
        self.witnessed: list[WitnessedCheckpoint] = []
        self.problems: list[Problem] = []
        self.flagged: set[int] = set()  # entry indices named by a problem
        self.origin: str | None = None
        self.manifest: dict[str, Any] | None = None
        self.verifier: VerifierKey | None = None
        self.file_sizes: list[int] = []
        self.signed: dict[int, Checkpoint] = {}
        self.lines: list[bytes] = []
        self.entries: list[dict[str, Any] | None] = []
        self.tree = MerkleTree()
        self.root_ok: dict[int, bool] = {}
        self.consistency_ok = 0
        self.totals_recomputed = 0
        self.totals_matched = 0
        self.inclusion_ok = 0
        self.leaf_hashes_used = False
        self.entry_types: dict[str, int] = {}

    def fail(self, where: str, message: str, entry_index: int | None = None) -> None:
        self.problems.append(Problem(where, message, entry_index))
        if entry_index is not None:
            self.flagged.add(entry_index)

    def read(self, rel: str, max_bytes: int) -> bytes | None:
        """A member file's bytes, or None (missing or refused: the problem is recorded)."""
        try:
            return read_regular_file(self.dir / rel, max_bytes, rel)
        except FileNotFoundError:
            self.fail(rel, "missing")
        except VerificationError as exc:
            self.fail(rel, str(exc).removeprefix(f"{rel}: "))
        return None

    def read_text(self, rel: str, max_bytes: int) -> str | None:
        data = self.read(rel, max_bytes)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.fail(rel, f"expected UTF-8 text ({exc})")
            return None

    # 1. manifest, key, checkpoints -------------------------------------------------

    def read_manifest(self) -> None:
        text = self.read_text(MANIFEST_FILE, MAX_JSON_BYTES)
        if text is None:
            return
        try:
            obj = json.loads(text)
        except (RecursionError, ValueError) as exc:
            self.fail(MANIFEST_FILE, f"expected JSON, got unreadable content ({exc})")
            return
        if not isinstance(obj, dict):
            self.fail(MANIFEST_FILE, "expected a JSON object")
            return
        if obj.get("format") != EXPORT_FORMAT:
            self.fail(
                MANIFEST_FILE, f"expected format {EXPORT_FORMAT!r}, got {obj.get('format')!r}"
            )
        if obj.get("format_version") != EXPORT_FORMAT_VERSION:
            self.fail(
                MANIFEST_FILE,
                f"expected format_version {EXPORT_FORMAT_VERSION}, "
                f"got {obj.get('format_version')!r}",
            )
        origin = obj.get("origin")
        if isinstance(origin, str) and origin:
            self.origin = origin
        else:
            self.fail(MANIFEST_FILE, f"expected a non-empty string origin, got {origin!r}")
        self.manifest = obj

    def read_key(self, expected: VerifierKey | None) -> None:
        self._read_key_file()
        if expected is None:
            return
        if self.verifier is not None and self.verifier != expected:
            self.fail(
                VKEY_FILE,
                f"holds {self.verifier.to_vkey()}, expected the pinned key "
                f"{expected.to_vkey()}: the export was signed by another key",
            )
        self.verifier = expected  # signatures are checked against the pinned key

    def _read_key_file(self) -> None:
        if not (self.dir / VKEY_FILE).exists() and not (self.dir / VKEY_FILE).is_symlink():
            self.fail(VKEY_FILE, "missing; signatures cannot be checked")
            return
        text = self.read_text(VKEY_FILE, MAX_NOTE_BYTES)
        if text is None:
            return
        try:
            self.verifier = parse_vkey(text, VKEY_FILE)
        except LedgerError as exc:
            self.fail(VKEY_FILE, str(exc).removeprefix(f"{VKEY_FILE}: "))
            return
        if self.origin is not None and self.verifier.name != self.origin:
            self.fail(
                VKEY_FILE,
                f"key name {self.verifier.name!r} differs from the log origin {self.origin!r}",
            )

    def read_checkpoints(self) -> None:
        cp_dir = self.dir / CHECKPOINT_DIR
        try:
            present = check_real_folder(cp_dir, f"{CHECKPOINT_DIR}/")
        except VerificationError as exc:
            self.fail(f"{CHECKPOINT_DIR}/", str(exc).removeprefix(f"{CHECKPOINT_DIR}/: "))
            return
        if not present:
            self.fail(f"{CHECKPOINT_DIR}/", "missing; nothing anchors the entries")
            return
        names: list[str] = []
        with os.scandir(cp_dir) as listing:
            for item in listing:
                if len(names) >= MAX_CHECKPOINT_FILES:
                    self.fail(
                        f"{CHECKPOINT_DIR}/",
                        f"more than {MAX_CHECKPOINT_FILES} files; only the first "
                        f"{MAX_CHECKPOINT_FILES} are read",
                    )
                    break
                names.append(item.name)
        found: list[tuple[int, Path]] = []
        for name in sorted(names):
            path = cp_dir / name
            rel = f"{CHECKPOINT_DIR}/{name}"
            if path.suffix != ".txt" or not path.stem.isdigit() or not path.stem.isascii():
                self.fail(rel, "unexpected file; checkpoints are named <size>.txt")
                continue
            found.append((int(path.stem), path))
        found.sort()
        self.file_sizes = [size for size, _ in found]
        if not found:
            self.fail(f"{CHECKPOINT_DIR}/", "no checkpoint files; nothing anchors the entries")
        if self.manifest is not None:
            listed = self.manifest.get("checkpoint_sizes")
            if isinstance(listed, list) and listed != self.file_sizes:
                missing = sorted(set(listed) - set(self.file_sizes), key=str)
                extra = sorted(set(self.file_sizes) - set(listed))
                detail = []
                if missing:
                    detail.append(f"missing files for sizes {missing}")
                if extra:
                    detail.append(f"unlisted files for sizes {extra}")
                self.fail(
                    f"{CHECKPOINT_DIR}/",
                    f"manifest lists checkpoint sizes {listed}, found {self.file_sizes}"
                    + (f" ({'; '.join(detail)})" if detail else ""),
                )
        if self.verifier is None:
            return
        for size, path in found:
            rel = f"{CHECKPOINT_DIR}/{path.name}"
            try:
                note = read_regular_file(path, MAX_NOTE_BYTES, rel).decode("utf-8")
                cp = verify_checkpoint(note, self.verifier, rel)
            except UnicodeDecodeError as exc:
                self.fail(rel, f"expected a UTF-8 signed note ({exc})")
                continue
            except VerificationError as exc:
                self.fail(rel, str(exc).removeprefix(f"{rel}: "))
                continue
            if cp.size != size:
                self.fail(rel, f"signed tree size is {cp.size}, but the file name says {size}")
                continue
            if self.origin is not None and cp.origin != self.origin:
                self.fail(rel, f"origin {cp.origin!r} differs from the manifest's {self.origin!r}")
                continue
            if self.origin is None:
                self.origin = cp.origin
            self.signed[size] = cp
            self.notes[size] = note

    # 2. entries --------------------------------------------------------------------

    def read_entries(self) -> None:
        data = self.read(ENTRIES_FILE, self.max_entries_bytes)
        if data is None:
            return
        if data and not data.endswith(b"\n"):
            nlines = data.count(b"\n") + 1
            self.fail(
                f"{ENTRIES_FILE} line {nlines}",
                "last line has no newline: the file was truncated or appended to by hand",
                nlines - 1,
            )
        self.lines = data.split(b"\n")
        if data.endswith(b"\n"):
            self.lines.pop()
        if self.manifest is not None:
            count = self.manifest.get("entry_count")
            if isinstance(count, int) and count != len(self.lines):
                hint = (
                    "truncated or entries deleted" if count > len(self.lines) else "entries added"
                )
                self.fail(
                    ENTRIES_FILE,
                    f"has {len(self.lines)} entries, the manifest says {count} ({hint}?)",
                )
        index_fields: list[Any] = []
        for pos, line in enumerate(self.lines):
            where = f"{ENTRIES_FILE} line {pos + 1}"
            try:
                entry: dict[str, Any] | None = parse_entry_line(line, where)
            except LedgerError as exc:
                self.fail(where, str(exc).removeprefix(f"{where}: "), pos)
                entry = None
            self.entries.append(entry)
            index_fields.append(entry.get("index") if entry is not None else None)
            if entry is not None:
                self._check_type(entry, where, pos)
        self._check_index_fields(index_fields)
        self.tree = MerkleTree(self.lines)

    def _check_type(self, entry: Mapping[str, Any], where: str, pos: int) -> None:
        kind = entry.get("type")
        name = kind if isinstance(kind, str) else ""
        self.entry_types[name] = self.entry_types.get(name, 0) + 1
        if kind != ENTRY_AUDIT:
            return
        missing = [f for f in AUDIT_FIELDS if f not in entry]
        empty = [
            f
            for f in ("actor", "action", "at")
            if f not in missing and (not isinstance(entry[f], str) or not entry[f])
        ]
        if missing or empty:
            self.fail(
                where,
                f"audit entry: expected fields {list(AUDIT_FIELDS)} with actor, action and at "
                f"non-empty strings; missing {missing}, empty {empty}",
                pos,
            )

    def _check_index_fields(self, index_fields: Sequence[Any]) -> None:
        run_start = -1
        run_offset = 0

        def close(end: int) -> None:
            a, b, off = run_start, end, run_offset
            lines = f"line {a + 1}" if a == b else f"lines {a + 1}..{b + 1}"
            carries = f"index {_span(a + off, b + off)}"
            expected = f"expected {_span(a, b)}"
            if a == b:
                cause = "entries out of order, or entries deleted/inserted before it"
            elif off > 0:
                cause = (
                    f"{off} entr{'y' if off == 1 else 'ies'} missing before line {a + 1} (deleted?)"
                )
            else:
                cause = f"{-off} line{'s' if off < -1 else ''} inserted before line {a + 1}?"
            self.fail(f"{ENTRIES_FILE} {lines}", f"{carries}, {expected}: {cause}", a)

        for pos, idx in enumerate(index_fields):
            if self.entries[pos] is None:
                offset = 0
            elif not isinstance(idx, int) or isinstance(idx, bool):
                self.fail(
                    f"{ENTRIES_FILE} line {pos + 1}",
                    f"expected an integer field 'index' = {pos}, got {idx!r}",
                    pos,
                )
                offset = 0
            else:
                offset = idx - pos
            if run_start >= 0 and offset != run_offset:
                close(pos - 1)
                run_start = -1
            if offset != 0 and run_start < 0:
                run_start, run_offset = pos, offset
        if run_start >= 0:
            close(len(index_fields) - 1)

    # 3./4. roots and consistency --------------------------------------------------------

    def check_roots(self) -> None:
        n = self.tree.size
        for size in sorted(self.signed):
            rel = f"{CHECKPOINT_DIR}/{size}.txt"
            if size > n:
                self.root_ok[size] = False
                self.fail(
                    rel,
                    f"covers entries 0..{size - 1} but {ENTRIES_FILE} has only {n}: "
                    f"{size - n} missing (file truncated or entries deleted)",
                    n,
                )
                continue
            self.root_ok[size] = self.tree.root_hash(size) == self.signed[size].root_hash
        if self.signed:
            largest = max(self.signed)
            if n > largest:
                self.fail(
                    ENTRIES_FILE,
                    f"{_entries(largest, n - 1)} not covered by any signed checkpoint "
                    f"(the largest covers {largest}): appended or inserted without a signature",
                    largest,
                )
        sizes = [s for s in sorted(self.signed) if s <= n]
        for a, b in itertools.pairwise(sizes):
            if not (self.root_ok[a] and self.root_ok[b]):
                continue
            proof = self.tree.consistency_proof(a, b)
            if verify_consistency(a, b, self.signed[a].root_hash, self.signed[b].root_hash, proof):
                self.consistency_ok += 1
            else:  # pragma: no cover - impossible when both roots match
                self.fail(
                    f"{CHECKPOINT_DIR}/{b}.txt",
                    f"no valid consistency proof from checkpoint {a} to {b}",
                )

    # 6. localisation ------------------------------------------------------------------

    def _trusted_leaf_hashes(self) -> list[bytes] | None:
        path = self.dir / LEAF_HASHES_FILE
        if not self.signed or not (path.exists() or path.is_symlink()):
            return None
        data = self.read(LEAF_HASHES_FILE, self.max_entries_bytes)
        if data is None:
            return None
        if len(data) % HASH_SIZE_BYTES:
            self.fail(LEAF_HASHES_FILE, "length is not a multiple of 32 bytes (damaged)")
            return None
        hashes = [data[i : i + HASH_SIZE_BYTES] for i in range(0, len(data), HASH_SIZE_BYTES)]
        auth = MerkleTree.from_leaf_hashes(hashes)
        largest = max(self.signed)
        if auth.size != largest or any(
            auth.root_hash(s) != cp.root_hash for s, cp in self.signed.items()
        ):
            self.fail(
                LEAF_HASHES_FILE,
                "does not reproduce the signed checkpoint roots (edited or stale); "
                "not used to localise changes",
            )
            return None
        return hashes

    def _check_canonical(self, positions: Iterable[int]) -> None:
        """Flag suspect lines that are not RFC 8785 canonical (a hand edit).

        Only run on lines already under suspicion: the leaf hash covers the exact line
        bytes, so on an intact log this diagnostic is redundant, and RFC 8785
        serialisation is the slowest step of a verification.
        """
        for pos in sorted(set(positions)):
            entry = self.entries[pos]
            if entry is None:
                continue  # already reported as unreadable
            try:
                canonical = canonical_json_bytes(entry)
            except LedgerError:
                canonical = b""
            if canonical != self.lines[pos]:
                self.fail(
                    f"{ENTRIES_FILE} line {pos + 1}",
                    "not in RFC 8785 canonical form (edited by hand?); its leaf hash "
                    "cannot match the signed one",
                    pos,
                )

    def localise(self) -> None:
        n = self.tree.size
        failing = [s for s in sorted(self.signed) if not self.root_ok.get(s, True)]
        suspects: set[int] = set()
        if self.signed and n > max(self.signed):
            suspects.update(range(max(self.signed), n))
        auth = self._trusted_leaf_hashes()
        if auth is not None:
            self.leaf_hashes_used = True
            suspects.update(self._localise_exact(auth))
        if not failing:
            self._check_canonical(suspects)
            return
        matched = [s for s in sorted(self.signed) if self.root_ok.get(s)]
        first = failing[0]
        good = max([s for s in matched if s < first], default=0)
        if auth is None:
            suspects.update(range(good, min(first, n)))
        self._check_canonical(suspects)
        for size in failing:
            if size > n:
                continue  # already reported as missing entries
            rel = f"{CHECKPOINT_DIR}/{size}.txt"
            if size == first:
                basis = (
                    f"entries 0..{good - 1} match checkpoint {good}, so "
                    if good
                    else "no earlier checkpoint matches, so "
                )
                self.fail(
                    rel,
                    f"signed root does not match the root of entries 0..{size - 1}; "
                    f"{basis}the first edited, deleted, inserted or reordered entry is in "
                    f"{_span(good, size - 1)} (bisected against the checkpoint roots)",
                    good,
                )
            else:
                self.fail(rel, f"signed root does not match the root of entries 0..{size - 1}")

    def _localise_exact(self, auth: Sequence[bytes]) -> list[int]:
        """Name each edited, deleted, inserted or moved entry; return suspect lines."""
        got = self.tree.leaf_hashes()
        if got == list(auth):
            return []
        auth_pos = {h: j for j, h in enumerate(auth)}
        authentic = [(p, auth_pos[h]) for p, h in enumerate(got) if h in auth_pos]
        present = {j for _, j in authentic}
        keep = _longest_increasing([j for _, j in authentic])
        moved = [(p, j) for k, (p, j) in enumerate(authentic) if k not in keep]
        edited: list[tuple[int, int]] = []  # (line position, entry index)
        inserted: list[int] = []
        claimed: set[int] = set()
        for p, h in enumerate(got):
            if h in auth_pos:
                continue
            entry = self.entries[p]
            idx = entry.get("index") if entry is not None else None
            if (
                isinstance(idx, int)
                and not isinstance(idx, bool)
                and 0 <= idx < len(auth)
                and idx not in present
                and idx not in claimed
            ):
                edited.append((p, idx))
                claimed.add(idx)
            else:
                inserted.append(p)
        missing = [j for j in range(len(auth)) if j not in present and j not in claimed]
        line_of = {j: p for p, j in edited}
        self.flagged.update(line_of)
        for a, b in _runs(sorted(line_of)):
            first, last = line_of[a] + 1, line_of[b] + 1
            where = f"line {first}" if a == b else f"lines {_span(first, last)}"
            self.fail(
                f"{ENTRIES_FILE} {where}",
                f"{_entries(a, b)} edited: content differs from the signed "
                f"entr{'y' if a == b else 'ies'} (leaf hash does not match the signed log)",
                a,
            )
        for a, b in _runs(missing):
            self.fail(
                ENTRIES_FILE,
                f"signed entr{'y' if a == b else 'ies'} {_span(a, b)} "
                f"{'is' if a == b else 'are'} missing (deleted)",
                a,
            )
        for a, b in _runs(inserted):
            self.fail(
                f"{ENTRIES_FILE} line {_span(a + 1, b + 1)}",
                "not an entry of the signed log (inserted)",
                a,
            )
        self.flagged.update(j for _, j in moved)
        for p, j in moved[:_MAX_LISTED]:
            self.fail(
                f"{ENTRIES_FILE} line {p + 1}",
                f"holds signed entry {j} out of order (entries reordered)",
                j,
            )
        if len(moved) > _MAX_LISTED:
            self.fail(ENTRIES_FILE, f"{len(moved) - _MAX_LISTED} more entries out of order")
        return [p for p, _ in edited] + inserted

    # 5. totals ------------------------------------------------------------------------

    def check_totals(self) -> None:
        text = self.read_text(TOTALS_FILE, MAX_JSON_BYTES)
        if text is None:
            return
        try:
            doc = json.loads(text)
        except (RecursionError, ValueError) as exc:
            self.fail(TOTALS_FILE, f"expected JSON, got unreadable content ({exc})")
            return
        if not isinstance(doc, dict) or doc.get("format") != TOTALS_FORMAT:
            self.fail(TOTALS_FILE, f"expected an object with format {TOTALS_FORMAT!r}")
            return
        items = doc.get("totals")
        if not isinstance(items, list):
            self.fail(TOTALS_FILE, "expected a list 'totals'")
            return
        proven: set[tuple[int, int]] = set()
        for k, obj in enumerate(items):
            where = f"{TOTALS_FILE} totals[{k}]"
            try:
                total = _total_from_json(obj, where)
            except LedgerError as exc:
                self.fail(where, str(exc).removeprefix(f"{where}: "))
                continue
            spec = total.spec
            where = f"{where} ({spec.label()})"
            size = spec.tree_size
            assert size is not None
            if size not in self.signed:
                self.fail(
                    where,
                    f"tree_size {size} is not the size of a validly signed checkpoint "
                    f"({sorted(self.signed)}): the total is not anchored",
                )
                continue
            if size > len(self.entries):
                self.fail(where, f"covers {size} entries, {ENTRIES_FILE} has {len(self.entries)}")
                continue
            try:
                value, count, indices = compute_total(self.entries, spec)
            except LedgerError as exc:
                self.fail(where, str(exc))
                continue
            self.totals_recomputed += 1
            if count == total.count and _values_equal(total.value, value):
                self.totals_matched += 1
            else:
                suspects = sorted(self.flagged.intersection(indices))
                hint = f"; flagged entries among them: {suspects[:_MAX_LISTED]}" if suspects else ""
                self.fail(
                    where,
                    f"reported {total.value!r} from {total.count} entries, recomputed "
                    f"{value!r} from {count} entries (entries 0..{size - 1}){hint}",
                )
            if not self.root_ok.get(size):
                continue
            root = self.signed[size].root_hash
            for i in indices:
                if (i, size) in proven:
                    continue
                proof = self.tree.inclusion_proof(i, size)
                if verify_inclusion(i, size, self.tree.leaf_hash(i), root, proof):
                    self.inclusion_ok += 1
                    proven.add((i, size))
                else:  # pragma: no cover - impossible when the root matches
                    self.fail(where, f"entry {i}: inclusion proof fails", i)

    # 7. witnesses --------------------------------------------------------------------

    def check_witnesses(self, witnesses: Sequence[VerifierKey], now_s: int) -> None:
        if not witnesses:
            return
        newest = max(self.signed) if self.signed else None
        for witness in witnesses:
            label = f"witness {witness.name} (key ID {witness.key_id:08x})"
            best: int | None = None
            for size in sorted(self.signed):
                rel = f"{CHECKPOINT_DIR}/{size}.txt"
                for cos in find_cosignatures(self.notes[size], witness, rel):
                    if not cos.valid:
                        self.fail(
                            rel,
                            f"the cosignature by {label} does not verify: the checkpoint "
                            "was changed after it was cosigned, or the cosignature was "
                            "copied from another checkpoint or forged",
                        )
                    elif cos.timestamp_s > now_s + COSIGNATURE_FUTURE_TOLERANCE_S:
                        self.fail(
                            rel,
                            f"the cosignature by {label} is dated {cos.timestamp_s} s, "
                            f"later than now ({now_s} s): refused",
                        )
                    elif size == newest and (best is None or cos.timestamp_s > best):
                        best = cos.timestamp_s
            if newest is None:
                self.fail(f"{CHECKPOINT_DIR}/", f"no valid checkpoint for {label} to vouch for")
            elif best is None:
                self.fail(
                    f"{CHECKPOINT_DIR}/{newest}.txt",
                    f"the newest checkpoint (size {newest}) carries no valid cosignature by "
                    f"{label}: it was not witnessed. A witness does not cosign a checkpoint "
                    "that is smaller than, or forked from, one it has cosigned, so this "
                    "export may be a rolled-back or rewritten log; have the witness run "
                    "`heatreuse witness cosign` on it",
                )
            else:
                self.witnessed.append(WitnessedCheckpoint(witness.name, newest, best))

    # 8. sealed SLA results ------------------------------------------------------------

    def check_seals(self) -> None:
        """Each ``sla_seal`` adds up and every period's seals form one chain
        (:func:`heatreuse.ledger.seal.check_seal_entries`)."""
        for i, message in check_seal_entries(self.entries):
            self.fail(f"{ENTRIES_FILE} line {i + 1}", message, i)

    def check_commissioning(self) -> None:
        """Each ``commissioning`` entry is whole and its verdict follows from its items
        (:func:`heatreuse.ledger.commissioning.check_commissioning_entries`)."""
        for i, message in check_commissioning_entries(self.entries):
            self.fail(f"{ENTRIES_FILE} line {i + 1}", message, i)

    def report(self) -> VerifyReport:
        return VerifyReport(
            directory=str(self.dir),
            origin=self.origin,
            key_name=self.verifier.name if self.verifier else None,
            entry_count=len(self.lines),
            checkpoint_sizes=tuple(self.file_sizes),
            checkpoints_verified=tuple(s for s in sorted(self.signed) if self.root_ok.get(s)),
            consistency_proofs_verified=self.consistency_ok,
            totals_recomputed=self.totals_recomputed,
            totals_matched=self.totals_matched,
            inclusion_proofs_verified=self.inclusion_ok,
            leaf_hashes_used=self.leaf_hashes_used,
            problems=tuple(self.problems),
            entry_types=dict(self.entry_types),
            witnessed=tuple(self.witnessed),
        )


@dataclass(frozen=True)
class VerifiedExport:
    """What :func:`read_export` found: the report and the verified log behind it.

    Attributes
    ----------
    report
        The verification report (``report.ok`` must be checked).
    checkpoints
        Validly signed checkpoints by size (their roots may still mismatch the
        entries; see ``report.checkpoints_verified``).
    notes
        The signed note text of each of those checkpoints, by size.
    tree
        The Merkle tree over the exported entries.
    """

    report: VerifyReport
    checkpoints: Mapping[int, Checkpoint]
    notes: Mapping[int, str]
    tree: MerkleTree


def read_export(
    directory: str | os.PathLike[str],
    expected_vkey: str | VerifierKey | None = None,
    *,
    witnesses: Sequence[str | VerifierKey] = (),
    now: dt.datetime | None = None,
    max_entries_bytes: int = MAX_ENTRIES_BYTES,
) -> VerifiedExport:
    """Verify an export folder and return the report with the verified log.

    Parameters are those of :func:`verify_export`.
    """
    pinned = (
        parse_vkey(expected_vkey, "expected verifier key")
        if isinstance(expected_vkey, str)
        else expected_vkey
    )
    witness_keys = [
        parse_cosigner_vkey(w, "--witness key") if isinstance(w, str) else w for w in witnesses
    ]
    now_s = int((now or dt.datetime.now(dt.UTC)).timestamp())
    v = _Verifier(Path(directory), max_entries_bytes)
    if not v.dir.is_dir():
        v.fail(str(v.dir), "not a folder; expected a ledger export folder")
    else:
        v.read_manifest()
        v.read_key(pinned)
        v.read_checkpoints()
        v.read_entries()
        v.check_roots()
        v.localise()
        v.check_totals()
        v.check_seals()
        v.check_commissioning()
        v.check_witnesses(witness_keys, now_s)
    return VerifiedExport(v.report(), dict(v.signed), dict(v.notes), v.tree)


def verify_export(
    directory: str | os.PathLike[str],
    expected_vkey: str | VerifierKey | None = None,
    *,
    witnesses: Sequence[str | VerifierKey] = (),
    now: dt.datetime | None = None,
    max_entries_bytes: int = MAX_ENTRIES_BYTES,
) -> VerifyReport:
    """Verify a ledger export folder using nothing but its contents.

    Parameters
    ----------
    directory
        The export folder (format in the module docstring).
    expected_vkey
        Optional verifier key obtained out of band (from the operator's website or
        contract). When given, checkpoints are verified against it and a different
        ``public_key.vkey`` in the folder is a failure; without it the folder's own key
        is trusted, which proves internal consistency but not who signed.
    witnesses
        Witness (cosigner) keys, ``name+id+base64(0x04 || pk)``: each must have
        cosigned the newest checkpoint (C2SP tlog-cosignature/v1). Without any, a log
        rolled back and rebuilt consistently by whoever holds the signing key verifies.
    now
        The verifier's clock [UTC] (default: the system clock); cosignatures dated
        more than 10 min after it fail.
    max_entries_bytes
        Largest ``entries.jsonl`` / ``leaf_hashes.bin`` read [bytes].

    Raises
    ------
    LedgerError
        When ``expected_vkey`` or a witness key itself is malformed.

    Returns
    -------
    VerifyReport
        Counts of what was checked and every problem found; ``report.ok`` is True
        when there is none. Problems name the file, line and entry index.
    """
    return read_export(
        directory,
        expected_vkey,
        witnesses=witnesses,
        now=now,
        max_entries_bytes=max_entries_bytes,
    ).report
