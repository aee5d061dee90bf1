"""Use cases of the reuse ledger: update, export, KPIs, EED export, monthly report.

The ledger lives in the store database (tables ``ledger_log`` / ``ledger_meta``,
:mod:`heatreuse.ledger.store_log`); signed checkpoints and the signing key live
*outside* it:

* checkpoints: ``$HEATREUSE_HOME/checkpoints/<site>/<size>.txt`` (or a given folder),
  next to ``public_key.vkey``;
* signing key: ``$HEATREUSE_HOME/keys/<site>.key`` (Ed25519, mode 0600), generated on
  first use.

:func:`update_ledger` is idempotent: it first checks the database log against the
published checkpoints (a rewritten row stops it) and refuses entries beyond the last
checkpoint that it did not write itself (:func:`check_signed_tail`); it collects
method / emission-factor / SLA / site-configuration entries when they changed, one
``ledger_interval`` entry per complete hour after the watermark, and a
``ledger_correction`` for each of the last ``recheck_hours`` already-ledgered hours
whose data changed; it appends them together with the signed checkpoint of the new
size and the new watermark (one transaction), then publishes the checkpoint.

An hour is complete when the store holds readings up to its end (within
:data:`COMPLETE_TOLERANCE_S`) and it lies in the past.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from heatreuse.errors import (
    HeatreuseError,
    LedgerConflictError,
    LedgerError,
    LedgerIntegrityError,
    SLAError,
    VerificationError,
)
from heatreuse.ledger.build import (
    ENTRY_AUDIT,
    ENTRY_CORRECTION,
    ENTRY_EMISSION_FACTORS,
    ENTRY_INTERVAL,
    ENTRY_METHOD,
    ENTRY_SITE_CONFIG,
    ENTRY_SLA,
    METHOD_VERSION,
    LedgerPoints,
    audit_entry,
    build_intervals,
    correction_entry,
    emission_factors_entry,
    interval_digest,
    ledger_points,
    method_entry,
    site_config_entry,
    site_config_hash,
    sla_entry,
    sla_seal_entry,
)
from heatreuse.ledger.checkpoint import Checkpoint, parse_note, verify_checkpoint
from heatreuse.ledger.keys import (
    SigningKey,
    VerifierKey,
    generate_signing_key,
    load_signing_key,
    parse_vkey,
    save_signing_key,
)
from heatreuse.ledger.kpis import (
    Period,
    compute_kpis,
    eed_csv,
    eed_report,
    intervals_frame,
    parse_period,
)
from heatreuse.ledger.report import (
    MonthlyReportData,
    daily_frame,
    render_monthly_html,
    write_monthly_pdf,
)
from heatreuse.ledger.seal import ENTRY_SLA_SEAL, SEAL_EVIDENCE_FIELDS
from heatreuse.ledger.store_log import (
    LedgerDatabase,
    SqlLogStorage,
    default_home,
    open_ledger_database,
)
from heatreuse.ledger.tlog import DirectoryCheckpointStore, TransparencyLog
from heatreuse.ledger.verify import TotalSpec, export_log
from heatreuse.locations import make_private_dirs
from heatreuse.services import monitoring as monitoring_service
from heatreuse.services import sla as sla_service
from heatreuse.site.model import Site
from heatreuse.store import default_store_url, open_store, using_store

__all__ = [
    "COMPLETE_TOLERANCE_S",
    "EXPORT_TOTAL_FIELDS",
    "LedgerContext",
    "SealRequest",
    "UpdateResult",
    "export_eed",
    "export_ledger",
    "kpi_report",
    "latest_checkpoint",
    "ledger_origin",
    "monthly_report",
    "open_ledger",
    "update_ledger",
]

#: An hour counts as complete when the store has readings up to this close to its end [s].
COMPLETE_TOLERANCE_S = 300.0
#: Fields whose monthly totals an export reports (verify recomputes them).
EXPORT_TOTAL_FIELDS: tuple[str, ...] = (
    "heat_delivered.metered_kwh",
    "heat_delivered.estimated_kwh",
    "it_electricity.metered_kwh",
    "it_electricity.estimated_kwh",
    "total_site_energy.metered_kwh",
    "total_site_energy.estimated_kwh",
    "backup_heat.metered_kwh",
    "heat_rejected.metered_kwh",
    "heat_pump_electricity.metered_kwh",
    "avoided_co2.metered_kg",
    "avoided_co2.estimated_kg",
)
_META_WATERMARK = "watermark"
_META_CONFIG = "site_config_sha256"


# --------------------------------------------------------------------------- paths, keys
def ledger_origin(site_id: str) -> str:
    """The log origin (and signing key name) of a site's ledger."""
    return f"heatreuse.local/{site_id}"


def _checkpoint_dir(site: Site, checkpoint_dir: str | os.PathLike[str] | None) -> Path:
    if checkpoint_dir is not None:
        return Path(checkpoint_dir)
    return default_home() / "checkpoints" / site.id


def _key_path(site: Site, key_path: str | os.PathLike[str] | None) -> Path:
    if key_path is not None:
        return Path(key_path)
    return default_home() / "keys" / f"{site.id}.key"


def _load_or_create_key(path: Path, origin: str, cp_dir: Path) -> SigningKey:
    if not path.exists():
        make_private_dirs(path.parent)
        with contextlib.suppress(OSError):
            os.chmod(path.parent, 0o700)
        try:
            save_signing_key(generate_signing_key(origin), path)
        except LedgerError:
            if not path.exists():
                raise  # else a concurrent `ledger update` created it first: use that one
    key = load_signing_key(path)
    if key.name != origin:
        raise LedgerError(
            f"{path}: signing key is named {key.name!r}, expected {origin!r} (the log origin)"
        )
    make_private_dirs(cp_dir)
    vkey_file = cp_dir / "public_key.vkey"
    if not vkey_file.exists():  # written whole (temporary file, rename): readers never see half
        tmp = cp_dir / f".public_key.vkey.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(key.vkey() + "\n", encoding="utf-8")
        os.replace(tmp, vkey_file)
    elif parse_vkey(vkey_file.read_text(encoding="utf-8")).public_key != key.public_key:
        raise LedgerError(
            f"{vkey_file}: the published verifier key does not belong to the signing key "
            f"{path}; checkpoints of this ledger were signed by another key"
        )
    return key


# --------------------------------------------------------------------------- the open ledger
@dataclass
class LedgerContext:
    """An open ledger: database, Merkle log, checkpoint folder."""

    site: Site
    db: LedgerDatabase
    log: TransparencyLog
    checkpoint_dir: Path
    key_path: Path

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()


@contextlib.contextmanager
def open_ledger(
    site: Site,
    store_url: str | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    key_path: str | os.PathLike[str] | None = None,
    create: bool = False,
) -> Iterator[LedgerContext]:
    """Open a site's ledger.

    The store at ``store_url`` must exist (:class:`~heatreuse.errors.StoreNotFoundError`
    otherwise) unless ``create`` (writers: ``ledger update``), which creates the store
    and the ledger tables when missing. Opened without ``create``, a store without
    ledger tables reads as an empty ledger and nothing is written by opening.
    """
    open_store(store_url, create=create).close()  # the store, its schema version
    db = open_ledger_database(store_url or default_store_url(), create=create)
    try:
        cp_dir = _checkpoint_dir(site, checkpoint_dir)
        log = TransparencyLog(
            ledger_origin(site.id), db.log_storage(site.id), DirectoryCheckpointStore(cp_dir)
        )
        yield LedgerContext(site, db, log, cp_dir, _key_path(site, key_path))
    finally:
        db.close()


def _published_vkey(ctx: LedgerContext) -> str | None:
    f = ctx.checkpoint_dir / "public_key.vkey"
    return f.read_text(encoding="utf-8").strip() if f.exists() else None


def check_against_checkpoints(ctx: LedgerContext) -> int:
    """Check the database log against every published checkpoint.

    Returns
    -------
    int
        The number of checkpoints checked.

    Raises
    ------
    LedgerIntegrityError
        When a checkpoint covers more entries than the database holds (entries
        deleted) or its root differs (entries rewritten); the message names the
        checkpoint file.
    VerificationError
        When a published checkpoint's signature fails.
    """
    return len(_checked_checkpoints(ctx))


def _checked_checkpoints(ctx: LedgerContext) -> list[Checkpoint]:
    """The published checkpoints, each verified and matched against the database."""
    notes = ctx.log.signed_checkpoints()
    vkey = _published_vkey(ctx)
    if notes and vkey is None:
        raise LedgerError(f"{ctx.checkpoint_dir}: checkpoints exist but public_key.vkey is missing")
    if not notes:
        return []
    verifier = parse_vkey(vkey or "", str(ctx.checkpoint_dir / "public_key.vkey"))
    checked: list[Checkpoint] = []
    for note in notes:
        cp = verify_checkpoint(note, verifier, f"{ctx.checkpoint_dir}/checkpoint")
        where = ctx.checkpoint_dir / f"{cp.size}.txt"
        if cp.size > ctx.log.size:
            raise LedgerIntegrityError(
                f"{where}: published checkpoint covers {cp.size} entries but the database "
                f"ledger of site {ctx.site.id!r} holds only {ctx.log.size}: entries were deleted"
            )
        if ctx.log.root_hash(cp.size) != cp.root_hash:
            raise LedgerIntegrityError(
                f"{where}: the database ledger of site {ctx.site.id!r} no longer matches this "
                f"published checkpoint (root of entries 0..{cp.size - 1} differs): rows were "
                "rewritten in the database; run `heatreuse verify` on an export to locate them"
            )
        checked.append(cp)
    return checked


def _head_verifier(ctx: LedgerContext) -> VerifierKey | None:
    """The log's public key: the published one, else that of an existing signing key."""
    vkey = _published_vkey(ctx)
    if vkey is not None:
        return parse_vkey(vkey, str(ctx.checkpoint_dir / "public_key.vkey"))
    if ctx.key_path.exists():
        return load_signing_key(ctx.key_path).verifier
    return None


def check_signed_tail(
    ctx: LedgerContext, published: Sequence[Checkpoint] | None = None
) -> str | None:
    """Make sure every database entry is covered by a checkpoint this ledger signed.

    Entries beyond the last published checkpoint are accepted only when the database's
    signed head (written in the same transaction as the entries by
    :meth:`~heatreuse.ledger.tlog.TransparencyLog.append_signed`) verifies with the
    log's key and covers exactly the stored entries: an update that was interrupted
    after writing and before publishing. Its checkpoint is published now.

    Parameters
    ----------
    ctx
        The open ledger.
    published
        The published checkpoints as checked by :func:`check_against_checkpoints`
        (default: checked here). Sizes come from the signed notes, not file names.

    Returns
    -------
    str or None
        A note when an interrupted update's checkpoint was published, else None.

    Raises
    ------
    LedgerIntegrityError
        When entries beyond the last signed checkpoint were not written by a signed
        append (e.g. a row INSERTed straight into ``ledger_log``); the message names
        the index range. Nothing is signed.
    """
    if published is None:
        published = _checked_checkpoints(ctx)
    size = ctx.log.size
    signed = max((cp.size for cp in published), default=0)
    if size <= signed:
        return None  # fewer entries than published: check_against_checkpoints reports it
    note = ctx.log.storage.signed_head()
    verifier = _head_verifier(ctx)
    why = "the database holds no signed head"
    if note is not None and verifier is None:
        why = "no public key or signing key of this ledger was found to check it"
    elif note is not None and verifier is not None:
        try:
            head = verify_checkpoint(note, verifier, "database signed head")
        except VerificationError as exc:
            why = f"the database's signed head does not verify ({exc})"
        else:
            if head.origin != ctx.log.origin:
                why = f"the database's signed head names the log {head.origin!r}"
            elif head.size != size:
                why = f"the database's signed head covers {head.size} entries, not {size}"
            elif head.root_hash != ctx.log.root_hash(size):
                why = "the database's signed head has another root than the stored entries"
            else:
                ctx.log.checkpoints.save_checkpoint(size, note)
                return (
                    f"checkpoint {size} signed by an interrupted `ledger update` was published now"
                )
    first = signed
    span = f"entry {first}" if first == size - 1 else f"entries {first}..{size - 1}"
    last = f"checkpoint {signed}" if signed else "no checkpoint yet"
    raise LedgerIntegrityError(
        f"ledger of site {ctx.site.id!r}: {span} in the database "
        f"{'is' if first == size - 1 else 'are'} not covered by a checkpoint that "
        f"`heatreuse ledger update` signed (last published: {last} in "
        f"{ctx.checkpoint_dir}; {why}): "
        f"{'it was' if first == size - 1 else 'they were'} written to ledger_log outside "
        "heatreuse (a direct INSERT?) and will not be signed. Nothing was appended. Have "
        "a database administrator examine those rows (ledger_log is append-only: "
        "removing them means lifting its triggers) or restore the database from a backup."
    )


def latest_checkpoint(ctx: LedgerContext) -> dict[str, Any] | None:
    """The latest published checkpoint: origin, size, root, signature line, note, path."""
    notes = ctx.log.signed_checkpoints()
    if not notes:
        return None
    note = notes[-1]
    vkey = _published_vkey(ctx)
    text, _ = parse_note(note)
    lines = text.splitlines()
    size = int(lines[1])
    root = base64.b64decode(lines[2])
    sig_line = note.rstrip("\n").splitlines()[-1]
    return {
        "origin": lines[0],
        "size": size,
        "root_hash_b64": lines[2],
        "root_hash_hex": root.hex(),
        "signature_line": sig_line,
        "note": note,
        "path": str(ctx.checkpoint_dir / f"{size}.txt"),
        "vkey": vkey,
    }


# --------------------------------------------------------------------------- store access
def _rollup_long(
    store: Any,
    site_id: str,
    points: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    counter_rollover: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Hourly rollups in long form (``Store.read_rollup``), index = bucket start (UTC)."""
    frame = store.read_rollup(
        site_id,
        list(points),
        start.to_pydatetime(),
        end.to_pydatetime(),
        resolution="1h",
        counter_rollover=counter_rollover,
    )
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["point_id", "count", "last_ts"])
    idx = pd.DatetimeIndex(frame.index)
    if idx.tz is None:
        raise LedgerError("store: read_rollup returned a naive index; expected tz-aware UTC")
    out: pd.DataFrame = frame.copy()
    out.index = idx.tz_convert("UTC").as_unit("ns")
    return out


def hourly_rollups(
    store: Any,
    site_id: str,
    points: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    tolerance_s: float = COMPLETE_TOLERANCE_S,
    counter_rollover: Mapping[str, float] | None = None,
) -> dict[str, pd.DataFrame]:
    """Hourly ``count``, ``mean``, ``min``, ``max`` and ``delta`` per point from the store.

    ``delta`` of an energy register in hour h is the store's counter increase
    (last reading of h minus the reading before it). It is kept only when that
    earlier reading lies within ``tolerance_s`` of the hour start and the last
    reading within ``tolerance_s`` of its end; otherwise (a data gap: the increase
    spans more than the hour, or the hour is partly unread) it is NaN and the
    ledger falls back to an estimate, never to a silent misattribution. A
    counter that fell in the hour (reset, meter exchange) has ``delta`` NaN and
    ``counter_break`` 1; one wrap of a register with a known roll-over value
    (``counter_rollover``, point id -> value) is counted (see
    :meth:`heatreuse.store.Store.read_rollup`).
    """
    long = _rollup_long(store, site_id, points, start, end, counter_rollover)
    out: dict[str, pd.DataFrame] = {}
    tol = pd.Timedelta(seconds=tolerance_s)
    for p in points:
        part = long[long["point_id"] == p]
        if part.empty:
            continue
        df = pd.DataFrame(
            {c: part[c].astype(float) for c in ("count", "mean", "min", "max") if c in part}
        )
        if p.endswith("_kwh") and "delta" in part:
            hour = pd.Series(part.index, index=part.index)
            since = pd.to_datetime(part["delta_since"], utc=True)
            last_ts = pd.to_datetime(part["last_ts"], utc=True)
            ok = (
                (since >= hour - tol)
                & (since <= hour + tol)
                & (last_ts >= hour + pd.Timedelta(hours=1) - tol)
            )
            df["delta"] = part["delta"].astype(float).where(ok)
            df["counter_break"] = part["counter_break"].astype(float)
        out[p] = df
    return out


def _data_bounds(
    store: Any, site_id: str, points: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.Timestamp | None, pd.Timestamp | None, pd.Timestamp | None]:
    """First hour, last hour and last reading time of any of ``points`` in [start, end)."""
    long = _rollup_long(store, site_id, points, start, end)
    if long.empty:
        return None, None, None
    long = long[long["count"] > 0]
    if long.empty:
        return None, None, None
    last_ts = pd.Timestamp(pd.to_datetime(long["last_ts"], utc=True).max())
    return long.index.min(), long.index.max(), last_ts


# --------------------------------------------------------------------------- update
@dataclass(frozen=True)
class UpdateResult:
    """What one :func:`update_ledger` run did."""

    site_id: str
    appended: int
    intervals: int
    corrections: int
    config_entries: tuple[str, ...]
    tree_size: int
    watermark: str | None
    checkpoint_path: str | None
    root_hash_b64: str | None
    checkpoints_checked: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    seals: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    audit: int = 0
    """Audit rows of the store folded into the log as ``audit`` entries."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "seals": [dict(x) for x in self.seals],
            "site_id": self.site_id,
            "appended": self.appended,
            "intervals": self.intervals,
            "corrections": self.corrections,
            "config_entries": list(self.config_entries),
            "tree_size": self.tree_size,
            "watermark": self.watermark,
            "checkpoint_path": self.checkpoint_path,
            "root_hash_b64": self.root_hash_b64,
            "checkpoints_checked": self.checkpoints_checked,
            "audit": self.audit,
            "notes": list(self.notes),
        }


def _last_of(entries: Sequence[Mapping[str, Any]], entry_type: str) -> Mapping[str, Any] | None:
    found: Mapping[str, Any] | None = None
    for e in reversed(entries):
        if e.get("type") == entry_type:
            found = e
            break
    return found


def _strip(entry: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {k: v for k, v in entry.items() if k != "index"}


def _config_entries(site: Site, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    methods = [e for e in entries if e.get("type") == ENTRY_METHOD]
    if not any(e.get("version") == METHOD_VERSION for e in methods) or (
        methods and methods[-1].get("version") != METHOD_VERSION
    ):
        out.append(method_entry())
    # compare through a JSON round trip: RFC 8785 writes 2.0 as 2
    for entry_type, current in (
        (ENTRY_EMISSION_FACTORS, emission_factors_entry(site)),
        (ENTRY_SLA, sla_entry(site)),
    ):
        if _strip(_last_of(entries, entry_type)) != json.loads(json.dumps(current)):
            out.append(current)
    last_cfg = _last_of(entries, ENTRY_SITE_CONFIG)
    if last_cfg is None or last_cfg.get("site_config_sha256") != site_config_hash(site):
        out.append(site_config_entry(site))
    return out


def audit_entries(
    store: Any, site_id: str, entries: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``audit`` entries for the store's audit rows not yet in the log, in id order.

    Acks, silences and escalation steps are written to the store's append-only
    ``audit`` table in the same transaction as the act itself (by any process,
    without the signing key); ``ledger update`` folds them into the signed log here.
    A row is folded once: rows whose ``audit_id`` is already in the log are skipped
    (ids, not a high-water mark, because concurrent writers may commit ids out of
    order on PostgreSQL).
    """
    folded = {int(e["audit_id"]) for e in entries if e.get("type") == ENTRY_AUDIT}
    return [
        audit_entry(
            audit_id=int(r.id),
            site_id=r.site_id,
            at_us=r.at_us,
            actor=r.actor,
            action=r.action,
            target=r.target,
            reason=r.reason,
            detail=r.detail,
        )
        for r in store.list_audit(site_id)
        if r.id is not None and int(r.id) not in folded
    ]


def _comparable(entry: Mapping[str, Any]) -> str:
    return interval_digest(json.loads(json.dumps({k: v for k, v in entry.items()})))


@dataclass(frozen=True)
class SealRequest:
    """Seal one period now (``heatreuse sla seal SITE --period P``).

    Attributes
    ----------
    period
        ``YYYY-MM`` (local month) or ``YYYY`` (contract year starting that year).
    reseal
        Replace an existing seal. A re-seal is a new entry that names the seal it
        replaces and carries ``reason``; it is refused when the store now holds less
        data for the period than when it was sealed (retention deleted some: a
        re-seal would seal thinner evidence), and nothing is appended when the
        recomputation equals the seal.
    reason
        Why the sealed result is replaced (required with ``reseal``).
    """

    period: str
    reseal: bool = False
    reason: str | None = None


def _evidence_lost_min(old: Any, new: Any) -> int:
    """Minutes of evidence [min] a re-seal would lose because data is gone.

    Valid minutes (good + bad) that left the period's scope by a definition change
    -- a later monitoring start (commissioning passed later than the first reading),
    a maintenance window announced afterwards -- are not lost data: they reappear as
    *unmonitored* or *maintenance* exclusions of the recomputation. What remains of the
    drop is data the store no longer holds (retention, a forced deletion).
    """
    dropped = (old.good_min + old.bad_min) - (new.good_min + new.bad_min)
    moved = max(0, new.excluded_unmonitored_min - old.excluded_unmonitored_min) + max(
        0, new.excluded_maintenance_min - old.excluded_maintenance_min
    )
    return int(max(0, dropped - moved))


def _seal_entries(
    site: Site,
    store: Any,
    entries: Sequence[Mapping[str, Any]],
    now: pd.Timestamp,
    first_index: int,
    request: SealRequest | None,
    grace: pd.Timedelta,
    notes: list[str],
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``sla_seal`` entries for closed unsealed periods (and ``request``), with a summary."""
    seals = sla_service.latest_seals([e for e in entries if e.get("type") == ENTRY_SLA_SEAL])
    specs = sla_service.closed_unsealed_periods(
        store, site, now.to_pydatetime(), seals, grace=grace
    )
    reseal: sla_service.PeriodSpec | None = None
    if request is not None:
        spec = sla_service.find_period(site, request.period)
        if spec.end > now:
            raise SLAError(
                f"--period {request.period}: {spec.label} has not ended yet (it ends "
                f"{spec.end.isoformat()}); only a closed period is sealed"
            )
        existing = seals.get(spec.label)
        if existing is None:
            if all(s.label != spec.label for s in specs):
                specs.append(spec)
        elif not request.reseal:
            raise SLAError(
                f"--period {request.period}: {spec.label} is already sealed (ledger entry "
                f"{existing.get('index')}, verdict {existing.get('verdict')}); pass --reseal "
                "--reason TEXT to record a new seal that names it"
            )
        elif not (request.reason or "").strip():
            raise SLAError(
                f"--reseal {spec.label}: --reason TEXT is required (why the sealed result is "
                "replaced; it goes into the ledger)"
            )
        else:
            reseal = spec
    specs.sort(key=lambda s: (s.kind != "month", s.start))
    index_of = {label: int(s["index"]) for label, s in seals.items()}
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def add(cand: sla_service.SealCandidate, **kw: Any) -> None:
        rep = cand.report
        entry = sla_seal_entry(
            site,
            rep.to_dict(),
            sealed_at=now.to_pydatetime(),
            composed_from=[index_of[m] for m in cand.composed_from if m in index_of],
            **kw,
        )
        index = first_index + len(out)
        index_of[rep.period_label] = index
        out.append(
            (
                entry,
                {
                    "period": rep.period_label,
                    "period_kind": rep.period_kind,
                    "verdict": rep.verdict,
                    "breached": rep.breached,
                    "data_coverage_fraction": rep.data_coverage_fraction,
                    "index": index,
                    "seal_number": entry["seal_number"],
                    "supersedes_index": entry["supersedes_index"],
                },
            )
        )

    for cand in sla_service.seal_candidates(store, site, specs, seals):
        add(cand)
    if reseal is not None:
        existing = seals[reseal.label]
        others = {k: v for k, v in seals.items() if k != reseal.label}
        (cand,) = sla_service.seal_candidates(store, site, [reseal], others)
        old = sla_service.sealed_report(existing)
        then, now_ = sla_service.evidence_of(old), sla_service.evidence_of(cand.report)
        if then == now_:
            notes.append(
                f"{reseal.label}: recomputing gives the sealed result again (verdict "
                f"{old.verdict}); nothing re-sealed"
            )
        elif _evidence_lost_min(old, cand.report) > 0:
            new_min = cand.report.good_min + cand.report.bad_min
            raise SLAError(
                f"--reseal {reseal.label}: refused, the store now holds less data for it than "
                f"when it was sealed ({new_min} minutes with a reading, sealed with "
                f"{old.good_min + old.bad_min}; {_evidence_lost_min(old, cand.report)} of "
                "them are not explained by a later monitoring start or a maintenance window): "
                "data was deleted, and a re-seal would replace the evidence with less of it"
            )
        else:
            add(
                cand,
                seal_number=int(existing.get("seal_number", 1)) + 1,
                supersedes_index=int(existing["index"]),
                reason=(request.reason if request else None),
            )
    return out


def update_ledger(
    site: Site,
    store_url: str | None = None,
    *,
    now: dt.datetime | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    key_path: str | os.PathLike[str] | None = None,
    recheck_hours: int = 48,
    store: Any = None,
    points: LedgerPoints | None = None,
    intervals: bool = True,
    seal: SealRequest | None = None,
    seal_grace: pd.Timedelta = sla_service.SEAL_GRACE,
    extra_entries: Sequence[Mapping[str, Any]] = (),
) -> UpdateResult:
    """Bring a site's ledger up to date with the store (idempotent).

    Besides the hourly intervals, every SLA period (site-local month; contract year
    when the SLA has one) that has closed since monitoring started and is not
    sealed yet is sealed: one ``sla_seal`` entry with its verdict and evidence
    (:mod:`heatreuse.ledger.seal`). A period is closed when data arrived after its
    end or ``seal_grace`` has passed.

    Parameters
    ----------
    site
        The site.
    store_url
        Store URL (default :func:`default_store_url`); the ledger tables live in the
        same database.
    now
        Current time [UTC] (default: the clock); hours ending after it are not built.
    checkpoint_dir, key_path
        Where checkpoints go and the signing key lives (default under
        ``$HEATREUSE_HOME``).
    recheck_hours
        How many already-ledgered hours before the watermark are rebuilt and, when
        their data changed, corrected [h].
    store
        An open telemetry store (else opened from ``store_url``).
    points
        Point roles (default from the site's registry).
    intervals
        Build hourly intervals (default); False only seals (what ``serve`` runs daily).
    seal
        Also seal (or re-seal) this one period now (``heatreuse sla seal``).
    seal_grace
        How long after its end a period is sealed when no later data came [time].
    extra_entries
        Entries appended last in the same signed append (``heatreuse commission``'s
        ``commissioning`` entry, :mod:`heatreuse.ledger.commissioning`).

    Returns
    -------
    UpdateResult

    Raises
    ------
    LedgerIntegrityError
        When the database ledger does not match a published checkpoint, or holds
        entries beyond the last checkpoint that no signed append wrote (exit 3).
    LedgerError
        When the database ledger does not match a published checkpoint, or the
        store cannot be read.
    SLAError
        A seal request that is refused (see :class:`SealRequest`).

    Notes
    -----
    When another ``ledger update`` of the same site appends first, this run's
    append is refused whole (no gap, no duplicate) and the update is redone on
    the new log state, up to three times.
    """
    for attempt in range(3):
        try:
            return _update_once(
                site,
                store_url,
                now=now,
                checkpoint_dir=checkpoint_dir,
                key_path=key_path,
                recheck_hours=recheck_hours,
                store=store,
                points=points,
                intervals=intervals,
                seal=seal,
                seal_grace=seal_grace,
                extra_entries=extra_entries,
            )
        except LedgerConflictError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _update_once(
    site: Site,
    store_url: str | None = None,
    *,
    now: dt.datetime | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    key_path: str | os.PathLike[str] | None = None,
    recheck_hours: int = 48,
    store: Any = None,
    points: LedgerPoints | None = None,
    intervals: bool = True,
    seal: SealRequest | None = None,
    seal_grace: pd.Timedelta = sla_service.SEAL_GRACE,
    extra_entries: Sequence[Mapping[str, Any]] = (),
) -> UpdateResult:
    now_ts = pd.Timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    if now_ts.tzinfo is None:
        raise LedgerError(f"now: expected a tz-aware instant, got {now!r}")
    now_ts = now_ts.tz_convert("UTC")
    lp = points or ledger_points(site)
    url = store_url or default_store_url()
    notes: list[str] = []
    with open_ledger(
        site, store_url, checkpoint_dir=checkpoint_dir, key_path=key_path, create=True
    ) as ctx:
        published = _checked_checkpoints(ctx)
        checked = len(published)
        recovered = check_signed_tail(ctx, published)
        if recovered is not None:
            notes.append(recovered)
        key = _load_or_create_key(ctx.key_path, ctx.log.origin, ctx.checkpoint_dir)
        entries = ctx.log.entries()
        new: list[dict[str, Any]] = _config_entries(site, entries)
        config_types = tuple(e["type"] for e in new)

        wm_text = ctx.db.get_meta(site.id, _META_WATERMARK)
        watermark = pd.Timestamp(wm_text) if wm_text else None
        latest: dict[str, Mapping[str, Any]] = {}
        original: dict[str, int] = {}
        for e in entries:
            if e.get("type") in (ENTRY_INTERVAL, ENTRY_CORRECTION):
                key_ = str(e["period_start"])
                latest[key_] = e
                if e.get("type") == ENTRY_INTERVAL:
                    original[key_] = int(e["index"])
        if latest and watermark is None:
            last_end = max(pd.Timestamp(e["period_end"]) for e in latest.values())
            watermark = last_end
            notes.append("watermark missing in the store: taken from the last ledgered hour")

        n_intervals = n_corrections = 0
        new_watermark = watermark
        with using_store(url, store, create=True) as st:
            ids = lp.all_points()
            lookback_start = (
                watermark - pd.Timedelta(hours=recheck_hours) if watermark is not None else None
            )
            scan_start = (
                lookback_start
                if lookback_start is not None
                else pd.Timestamp("1990-01-01", tz="UTC")
            )
            first, last, last_reading = (
                _data_bounds(st, site.id, ids, scan_start, now_ts + pd.Timedelta(hours=1))
                if intervals
                else (None, None, None)
            )
            if last is not None and last_reading is not None:
                end_hour = last
                if last_reading >= last + pd.Timedelta(seconds=3600 - COMPLETE_TOLERANCE_S):
                    end_hour = last + pd.Timedelta(hours=1)
                end_hour = min(end_hour, now_ts.floor("h"))
                start_hour = watermark if watermark is not None else first
                assert start_hour is not None
                start_hour = start_hour.floor("h")
                build_from = start_hour
                if lookback_start is not None:
                    build_from = min(start_hour, lookback_start.floor("h"))
                if end_hour > build_from:
                    rollups = hourly_rollups(
                        st,
                        site.id,
                        ids,
                        build_from,
                        end_hour,
                        counter_rollover=lp.counter_rollover,
                    )
                    hours = pd.date_range(build_from, end_hour, freq="h", inclusive="left")
                    data_hours: set[pd.Timestamp] = set()
                    for df in rollups.values():
                        data_hours.update(df.index[df["count"] > 0])
                    for entry in build_intervals(site, hours, rollups, lp):
                        k = entry["period_start"]
                        prev = latest.get(k)
                        if prev is None:
                            # a new hour; or an hour before the watermark that was never
                            # ledgered and now has data (a backfill), not hours before
                            # the data began
                            hour = pd.Timestamp(k)
                            if watermark is None or hour >= watermark or hour in data_hours:
                                new.append(entry)
                                n_intervals += 1
                        elif _comparable(prev) != _comparable(entry):
                            new.append(
                                correction_entry(
                                    entry,
                                    original.get(k, int(prev["index"])),
                                    prev,
                                    "store data for this hour changed after it was ledgered",
                                )
                            )
                            n_corrections += 1
                    new_watermark = end_hour if watermark is None else max(end_hour, watermark)
            elif intervals:
                notes.append("no readings in the store for this site's ledger points")
            sealed = _seal_entries(
                site, st, entries, now_ts, ctx.log.size + len(new), seal, seal_grace, notes
            )
            new.extend(e for e, _ in sealed)
            audit = audit_entries(st, site.id, entries)
            new += audit
        new += [dict(e) for e in extra_entries]

        storage = ctx.log.storage
        assert isinstance(storage, SqlLogStorage)
        meta = {_META_CONFIG: site_config_hash(site)}
        if new_watermark is not None:
            meta[_META_WATERMARK] = new_watermark.strftime("%Y-%m-%dT%H:%M:%SZ")
        if new:
            storage.stage_meta(meta)
            ctx.log.append_signed(new, key)  # entries and their checkpoint: one step
        elif new_watermark != watermark:
            ctx.db.set_meta(site.id, meta)
        cp_path = None
        root_b64 = None
        if ctx.log.size > 0:  # published: by append_signed or before (check_signed_tail)
            cp_path = str(ctx.checkpoint_dir / f"{ctx.log.size}.txt")
            root_b64 = base64.b64encode(ctx.log.root_hash()).decode("ascii")
        return UpdateResult(
            site_id=site.id,
            appended=len(new),
            intervals=n_intervals,
            corrections=n_corrections,
            config_entries=config_types,
            audit=len(audit),
            tree_size=ctx.log.size,
            watermark=meta.get(_META_WATERMARK),
            checkpoint_path=cp_path,
            root_hash_b64=root_b64,
            checkpoints_checked=checked,
            notes=tuple(notes),
            seals=tuple(info for _, info in sealed),
        )


# --------------------------------------------------------------------------- export
def total_specs(entries: Sequence[Mapping[str, Any]]) -> list[TotalSpec]:
    """Totals an export reports: monthly intervals plus correction deltas per field, and the
    evidence minutes of each sealed SLA result."""
    months_int: set[str] = set()
    months_cor: set[str] = set()
    for e in entries:
        if e.get("type") == ENTRY_INTERVAL:
            months_int.add(str(e["period_start"])[:7])
        elif e.get("type") == ENTRY_CORRECTION:
            months_cor.add(str(e["period_start"])[:7])
    specs: list[TotalSpec] = []
    for month in sorted(months_int):
        for f in EXPORT_TOTAL_FIELDS:
            specs.append(
                TotalSpec(ENTRY_INTERVAL, f, "period_start", month, name=f"{f} {month} (intervals)")
            )
    for month in sorted(months_cor):
        for f in EXPORT_TOTAL_FIELDS:
            specs.append(
                TotalSpec(
                    ENTRY_CORRECTION,
                    f"delta.{f}",
                    "period_start",
                    month,
                    name=f"{f} {month} (correction deltas)",
                )
            )
    # each sealed SLA result: its evidence minutes, recomputed and proven included by verify
    for e in entries:
        if e.get("type") != ENTRY_SLA_SEAL:
            continue
        where = (("period", str(e["period"])), ("seal_number", int(e["seal_number"])))
        for f in SEAL_EVIDENCE_FIELDS:
            specs.append(
                TotalSpec(
                    ENTRY_SLA_SEAL,
                    f"evidence.{f}",
                    where=where,
                    name=f"SLA {e['period']} seal {e['seal_number']}: {f}",
                )
            )
    return specs


def export_ledger(
    site: Site,
    out_dir: str | os.PathLike[str],
    store_url: str | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    key_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the verifiable export folder (``heatreuse verify DIR`` checks it).

    Entries come from the database, checkpoints and the public key from the
    checkpoint folder outside it; ``totals.json`` reports monthly totals (heat
    delivered, IT and total energy, backup and rejected heat, avoided CO2; metered
    and estimated apart; corrections as deltas) that verify recomputes.

    Raises
    ------
    LedgerError
        Empty ledger.
    LedgerIntegrityError
        The database no longer matches a published checkpoint, or holds entries that
        no checkpoint of this ledger covers (export never signs; see
        :func:`check_signed_tail`).
    """
    with open_ledger(site, store_url, checkpoint_dir=checkpoint_dir, key_path=key_path) as ctx:
        if ctx.log.size == 0:
            raise LedgerError(
                f"ledger of site {site.id!r} is empty; run `heatreuse ledger update` first"
            )
        check_signed_tail(
            ctx, _checked_checkpoints(ctx)
        )  # never signs: publishes an interrupted update's head or refuses
        notes = ctx.log.signed_checkpoints()
        vkey = _published_vkey(ctx)
        if vkey is None:
            raise LedgerError(
                f"{ctx.checkpoint_dir}: public_key.vkey is missing; run `heatreuse ledger "
                "update` to publish it"
            )
        entries = ctx.log.entries()
        return export_log(out_dir, entries, notes, vkey, total_specs(entries))


# --------------------------------------------------------------------------- KPIs, EED
def _entries(ctx: LedgerContext) -> list[dict[str, Any]]:
    if ctx.log.size == 0:
        raise LedgerError(
            f"ledger of site {ctx.site.id!r} is empty; run `heatreuse ledger update "
            "SITE.yaml` first"
        )
    return ctx.log.entries()


def kpi_report(
    site: Site,
    period: str,
    store_url: str | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """KPIs of a period from the ledger, with the checkpoint that anchors them."""
    per = parse_period(period)
    with open_ledger(site, store_url, checkpoint_dir=checkpoint_dir) as ctx:
        result = compute_kpis(site, _entries(ctx), per)
        result["checkpoint"] = _anchor(latest_checkpoint(ctx))
    return result


def _anchor(cp: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if cp is None:
        return None
    return {k: cp[k] for k in ("origin", "size", "root_hash_b64", "signature_line", "path")}


def export_eed(
    site: Site,
    year: int,
    out_dir: str | os.PathLike[str],
    store_url: str | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path]:
    """Write the EU EED report of ``year`` as JSON and CSV; returns both paths."""
    with open_ledger(site, store_url, checkpoint_dir=checkpoint_dir) as ctx:
        report = eed_report(site, _entries(ctx), year)
        report["checkpoint"] = _anchor(latest_checkpoint(ctx))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"eed_{site.id}_{year}.json"
    csv_path = out / f"eed_{site.id}_{year}.csv"
    json_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    csv_path.write_text(eed_csv(report), encoding="utf-8")
    return json_path, csv_path


# --------------------------------------------------------------------------- monthly report
def _sla_section(
    site: Site, period: Period, store_url: str | None, store: Any, now: dt.datetime | None
) -> tuple[list[dict[str, Any]] | None, str]:
    try:
        reports = sla_service.sla_report(site, store_url, period.label, store=store, now=now)
    except HeatreuseError as exc:  # e.g. no readings for the period: shown in the report
        return None, f"SLA evaluation failed: {type(exc).__name__}: {exc}"
    return [r.to_dict() for r in reports], (
        "SLA periods are in the site's local time zone; ledger periods are UTC."
    )


def monthly_report(
    site: Site,
    period: str,
    out_dir: str | os.PathLike[str],
    store_url: str | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    store: Any = None,
    now: dt.datetime | None = None,
) -> tuple[Path, Path]:
    """Write the monthly report (HTML and PDF) for ``period`` (``YYYY-MM``).

    Returns
    -------
    (html_path, pdf_path)
    """
    per = parse_period(period)
    if len(per.label) != 7:
        raise LedgerError(f"--period: expected a month YYYY-MM, got {period!r}")
    url = store_url or default_store_url()
    with open_ledger(site, store_url, checkpoint_dir=checkpoint_dir) as ctx:
        entries = _entries(ctx)
        cp = latest_checkpoint(ctx)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kpis = compute_kpis(site, entries, per)
    frame = intervals_frame(entries)
    method = _last_of(entries, ENTRY_METHOD)
    try:
        with using_store(url, store) as st:
            sla, sla_note = _sla_section(site, per, url, st, now)
            alerts, incidents, actions, alerts_note = monitoring_service.report_section(
                site, st, per.start, per.end
            )
    except LedgerError as exc:
        sla, sla_note = None, f"SLA module not available: {exc}"
        alerts, incidents, actions = None, [], []
        alerts_note = f"alerts not available: {exc}"
    warnings: list[str] = []
    basis = kpis["kpi_basis"]
    if basis["hours_not_ledgered"]:
        warnings.append(
            f"{basis['hours_not_ledgered']} of {basis['hours_in_period']} hours of the month "
            "are not in the ledger (no data yet, or `heatreuse ledger update` not run)"
        )
    if basis["hours_excluded_missing"]:
        warnings.append(
            f"{basis['hours_excluded_missing']} ledgered hours miss IT, total or heat values "
            "and are left out of the KPIs (never counted as zero)"
        )
    data = MonthlyReportData(
        site_id=site.id,
        site_name=site.site.name,
        period=per,
        kpis=kpis,
        daily=daily_frame(frame, per),
        sla=sla,
        sla_note=sla_note,
        alerts=alerts,
        alerts_note=alerts_note,
        incidents=incidents,
        actions=actions,
        checkpoint=cp,
        method=method,
        generated_at=(now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC),
        warnings=tuple(warnings),
    )
    html_path = out / f"monthly_{site.id}_{per.label}.html"
    pdf_path = out / f"monthly_{site.id}_{per.label}.pdf"
    html_path.write_text(render_monthly_html(data), encoding="utf-8")
    write_monthly_pdf(data, pdf_path)
    return html_path, pdf_path
