"""A witness for ledger checkpoints: the heat customer's or auditor's own cosigner.

The operator holds the database, the checkpoint folder and the signing key, so it can
roll its ledger back and rebuild it consistently (drop the tail, re-ingest other
figures, sign again); such a log verifies. A witness closes that gap: someone else
keeps, per log origin, the largest checkpoint it has seen and cosigns a new one only
when a consistency proof shows it extends that one (C2SP tlog-witness semantics,
offline: the proof is computed from the export's entries and checked against the root
the witness recorded). ``heatreuse verify DIR --witness VKEY`` then requires the
witness's cosignature on the newest checkpoint.

Witness folder (``--state DIR``, created by :func:`init_witness`, mode 0700)::

    DIR/witness.key          the witness's Ed25519 cosigner key (0600, "PRIVATE+KEY+...")
    DIR/witness.vkey         its public key, name+id+base64(0x04 || pk) (C2SP vkey)
    DIR/logs/<log>.json      per origin: log key, size, root, time, cosigned checkpoint
    DIR/refused/<log>-<size>-<time>.txt
                             checkpoints refused as rollback or fork, kept as
                             evidence (each is signed by the log key)
    DIR/.lock                serialises cosigning: check and record are one step

References
----------
C2SP tlog-witness, https://c2sp.org/tlog-witness (add-checkpoint checks);
C2SP tlog-cosignature, https://c2sp.org/tlog-cosignature (v1); RFC 9162 2.1.4.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heatreuse.errors import LedgerError, VerificationError
from heatreuse.ledger.checkpoint import Checkpoint
from heatreuse.ledger.cosignature import add_cosignature
from heatreuse.ledger.keys import (
    SIGNATURE_TYPE_COSIGNATURE,
    SigningKey,
    VerifierKey,
    generate_signing_key,
    load_signing_key,
    parse_vkey,
    save_signing_key,
)
from heatreuse.ledger.merkle import MerkleTree, verify_consistency
from heatreuse.ledger.safe_files import read_regular_file
from heatreuse.ledger.verify import (
    CHECKPOINT_DIR,
    MAX_ENTRIES_BYTES,
    MAX_JSON_BYTES,
    MAX_NOTE_BYTES,
    VKEY_FILE,
    read_export,
)
from heatreuse.locations import make_private_dirs

__all__ = [
    "CosignResult",
    "WitnessRecord",
    "cosign_export",
    "init_witness",
    "load_record",
]

KEY_FILE = "witness.key"
PUBLIC_KEY_FILE = "witness.vkey"
STATE_FORMAT = "heatreuse-witness-state"
STATE_FORMAT_VERSION = 1
_LOGS_DIR = "logs"
_REFUSED_DIR = "refused"
_LOCK_FILE = ".lock"
_SAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_LISTED = 3


@dataclass(frozen=True)
class WitnessRecord:
    """What a witness remembers about one log: the largest checkpoint it cosigned.

    Attributes
    ----------
    origin
        Log origin.
    log_vkey
        The log's public key, pinned at the first cosignature.
    size
        Tree size of the cosigned checkpoint [entries].
    root_hash
        Its 32-byte root hash.
    cosigned_at_s
        When it was cosigned [s since the POSIX epoch, UTC].
    checkpoint
        The cosigned note (log signature and this witness's cosignature).
    """

    origin: str
    log_vkey: str
    size: int
    root_hash: bytes
    cosigned_at_s: int
    checkpoint: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the record."""
        return {
            "format": STATE_FORMAT,
            "format_version": STATE_FORMAT_VERSION,
            "origin": self.origin,
            "log_vkey": self.log_vkey,
            "size": self.size,
            "root_hash_b64": base64.b64encode(self.root_hash).decode("ascii"),
            "cosigned_at_s": self.cosigned_at_s,
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True)
class CosignResult:
    """What one :func:`cosign_export` did."""

    origin: str
    previous_size: int | None
    size: int
    root_hash_b64: str
    cosigned_at_s: int
    cosignature_line: str
    checkpoint_path: Path
    first_seen: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "origin": self.origin,
            "previous_size": self.previous_size,
            "size": self.size,
            "root_hash_b64": self.root_hash_b64,
            "cosigned_at_s": self.cosigned_at_s,
            "cosigned_at": _iso(self.cosigned_at_s),
            "cosignature_line": self.cosignature_line.rstrip("\n"),
            "checkpoint_path": str(self.checkpoint_path),
            "first_seen": self.first_seen,
        }


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- keys
def init_witness(name: str, out_dir: str | os.PathLike[str]) -> SigningKey:
    """Make a witness folder with a new Ed25519 cosigner key pair.

    Parameters
    ----------
    name
        Witness key name, e.g. ``witness.pool-operator.example/auditor`` (no spaces,
        no ``+``).
    out_dir
        The witness folder (created, mode 0700); it must not hold a key yet.

    Returns
    -------
    SigningKey
        The new key; ``key.vkey()`` is the public key to hand to verifiers.

    Raises
    ------
    LedgerError
        When the name is invalid or the folder already holds a witness key.
    """
    key = generate_signing_key(name, SIGNATURE_TYPE_COSIGNATURE)
    folder = make_private_dirs(out_dir)  # 0700 when created here
    target = folder / KEY_FILE
    if target.exists() or target.is_symlink():
        raise LedgerError(
            f"{target}: a witness key exists already; refusing to replace it (verifiers "
            "trust its public key)"
        )
    save_signing_key(key, target)
    (folder / PUBLIC_KEY_FILE).write_text(key.vkey() + "\n", encoding="utf-8")
    return key


def _load_witness_key(state_dir: Path, key_path: Path | None) -> SigningKey:
    path = key_path if key_path is not None else state_dir / KEY_FILE
    if not path.exists():
        raise LedgerError(
            f"{path}: witness key not found; create one with `heatreuse witness init "
            f"--name NAME --out {state_dir}`"
        )
    key = load_signing_key(path)
    if key.signature_type != SIGNATURE_TYPE_COSIGNATURE:
        raise LedgerError(
            f"{path}: expected a witness (cosigner, type 0x04) key, got a log signing key; "
            "a witness needs its own key, made with `heatreuse witness init`"
        )
    return key


# --------------------------------------------------------------------------- state
def _record_path(state_dir: Path, origin: str) -> Path:
    digest = hashlib.sha256(origin.encode("utf-8")).hexdigest()[:12]
    readable = _SAFE_RE.sub("_", origin)[:80]
    return state_dir / _LOGS_DIR / f"{readable}-{digest}.json"


def load_record(state_dir: str | os.PathLike[str], origin: str) -> WitnessRecord | None:
    """The witness's record of a log origin, or None when it has never cosigned it.

    Raises
    ------
    LedgerError
        When the record exists but cannot be read or is malformed.
    """
    path = _record_path(Path(state_dir), origin)
    try:
        raw = read_regular_file(path, MAX_JSON_BYTES, str(path))
    except FileNotFoundError:
        return None
    except VerificationError as exc:
        raise LedgerError(str(exc)) from exc
    try:
        doc = json.loads(raw.decode("utf-8"))
        if doc.get("format") != STATE_FORMAT or doc.get("origin") != origin:
            raise ValueError(f"expected format {STATE_FORMAT!r} for origin {origin!r}")
        size = doc["size"]
        cosigned_at = doc["cosigned_at_s"]
        if not isinstance(size, int) or not isinstance(cosigned_at, int):
            raise ValueError("size and cosigned_at_s must be integers")
        return WitnessRecord(
            origin=origin,
            log_vkey=str(doc["log_vkey"]),
            size=size,
            root_hash=base64.b64decode(doc["root_hash_b64"], validate=True),
            cosigned_at_s=cosigned_at,
            checkpoint=str(doc["checkpoint"]),
        )
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{path}: witness record is damaged ({exc})") from exc


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    import fcntl

    make_private_dirs(state_dir / _LOGS_DIR)
    fd = os.open(state_dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _keep_refused(state_dir: Path, origin: str, size: int, note: str, now_s: int) -> Path:
    folder = make_private_dirs(state_dir / _REFUSED_DIR)
    name = _record_path(state_dir, origin).stem
    path = folder / f"{name}-{size}-{now_s}.txt"
    _write_atomic(path, note.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- cosign
def _export_log_key(export: Path) -> VerifierKey:
    rel = VKEY_FILE
    try:
        raw = read_regular_file(export / rel, MAX_NOTE_BYTES, f"{export}/{rel}")
    except FileNotFoundError as exc:
        raise LedgerError(
            f"{export}: no {rel}; expected a ledger export folder (`heatreuse ledger export`)"
        ) from exc
    try:
        return parse_vkey(raw.decode("utf-8"), f"{export}/{rel}")
    except UnicodeDecodeError as exc:
        raise LedgerError(f"{export}/{rel}: expected UTF-8 text ({exc})") from exc


def cosign_export(
    export_dir: str | os.PathLike[str],
    state_dir: str | os.PathLike[str],
    *,
    key_path: str | os.PathLike[str] | None = None,
    log_vkey: str | None = None,
    now: dt.datetime | None = None,
    max_entries_bytes: int = MAX_ENTRIES_BYTES,
) -> CosignResult:
    """Check an export's newest checkpoint against what this witness saw, and cosign it.

    Steps (under the witness folder's lock): verify the export with the log key the
    witness pinned for its origin (``log_vkey``, else the one recorded at the first
    cosignature, else the export's own key, which is then pinned); take the newest
    checkpoint; refuse it when it is smaller than the recorded one (rollback), has
    another root at the same size, or no consistency proof from the recorded size
    verifies against the recorded root (fork; RFC 9162 2.1.4.2, the proof computed
    from the exported entries); record it; write the cosignature line into
    ``EXPORT/checkpoints/<size>.txt``.

    Parameters
    ----------
    export_dir
        A ledger export folder (``heatreuse ledger export``).
    state_dir
        The witness folder (:func:`init_witness`).
    key_path
        The witness key (default ``state_dir/witness.key``).
    log_vkey
        The log's public key as published by the operator; pins it on first use and
        must equal the pinned one later.
    now
        Cosigning time [UTC] (default: the clock).
    max_entries_bytes
        Largest ``entries.jsonl`` read [bytes].

    Returns
    -------
    CosignResult

    Raises
    ------
    VerificationError
        When the export does not verify, or its newest checkpoint rolls back or forks
        the log the witness has seen (nothing is cosigned; the refused checkpoint is
        kept under ``state_dir/refused/``). The CLI exits 3.
    LedgerError
        When the witness key or folder is missing or damaged, or ``log_vkey`` differs
        from the pinned key (exit 2).
    """
    export = Path(export_dir)
    state = Path(state_dir)
    key = _load_witness_key(state, Path(key_path) if key_path is not None else None)
    given = parse_vkey(log_vkey, "--log-vkey") if log_vkey is not None else None
    if not export.is_dir():
        raise LedgerError(f"{export}: not a folder; expected a ledger export folder")
    ts = int((now or dt.datetime.now(dt.UTC)).timestamp())
    exported_key = _export_log_key(export)
    origin = exported_key.name
    with _locked(state):
        record = load_record(state, origin)
        pinned = given
        if record is not None:
            recorded = parse_vkey(record.log_vkey, f"witness record of {origin}")
            if given is not None and given != recorded:
                raise LedgerError(
                    f"--log-vkey {given.to_vkey()} differs from the key this witness pinned "
                    f"for {origin}: {recorded.to_vkey()}"
                )
            pinned = recorded
        if pinned is None:
            pinned = exported_key
        found = read_export(export, pinned, max_entries_bytes=max_entries_bytes)
        report = found.report
        if not report.ok:
            listed = "; ".join(str(p) for p in report.problems[:_MAX_LISTED])
            more = len(report.problems) - _MAX_LISTED
            raise VerificationError(
                f"{export}: the export does not verify with the log key "
                f"{pinned.to_vkey()} ({len(report.problems)} problem(s): {listed}"
                f"{f'; {more} more' if more > 0 else ''}); not cosigned"
            )
        if report.origin != origin:
            raise VerificationError(
                f"{export}: checkpoints name the log {report.origin!r}, its key {origin!r}"
            )
        size = max(found.checkpoints)
        cp: Checkpoint = found.checkpoints[size]
        note = found.notes[size]
        if record is not None:
            problem = _refusal(record, cp, found.tree)
            if problem is not None:
                kept = _keep_refused(state, origin, size, note, ts)
                raise VerificationError(
                    f"{export}/{CHECKPOINT_DIR}/{size}.txt: {problem}; not cosigned "
                    f"(the refused checkpoint, signed by the log key, is kept as evidence "
                    f"in {kept})"
                )
        cosigned, line = add_cosignature(note, key, ts)
        new_record = WitnessRecord(
            origin=origin,
            log_vkey=pinned.to_vkey(),
            size=size,
            root_hash=cp.root_hash,
            cosigned_at_s=ts,
            checkpoint=cosigned,
        )
        data = (json.dumps(new_record.to_dict(), indent=2) + "\n").encode("utf-8")
        _write_atomic(_record_path(state, origin), data)  # persisted before answering
    target = export / CHECKPOINT_DIR / f"{size}.txt"
    _write_atomic(target, cosigned.encode("utf-8"), mode=0o644)
    return CosignResult(
        origin=origin,
        previous_size=record.size if record is not None else None,
        size=size,
        root_hash_b64=base64.b64encode(cp.root_hash).decode("ascii"),
        cosigned_at_s=ts,
        cosignature_line=line,
        checkpoint_path=target,
        first_seen=record is None,
    )


def _refusal(record: WitnessRecord, cp: Checkpoint, tree: MerkleTree) -> str | None:
    """Why ``cp`` must not be cosigned after ``record``, or None when it extends it."""
    seen = (
        f"the checkpoint of size {record.size} this witness cosigned at "
        f"{_iso(record.cosigned_at_s)} (root "
        f"{base64.b64encode(record.root_hash).decode('ascii')})"
    )
    if cp.size < record.size:
        return (
            f"rollback: the newest checkpoint has size {cp.size}, smaller than {seen}; "
            f"{record.size - cp.size} entries the witness saw are gone"
        )
    if cp.size == record.size:
        if cp.root_hash != record.root_hash:
            return f"fork: same size as {seen}, but another root: the log was rewritten"
        return None
    proof = tree.consistency_proof(record.size, cp.size)
    if not verify_consistency(record.size, cp.size, record.root_hash, cp.root_hash, proof):
        return (
            f"fork: no consistency proof leads from {seen} to this checkpoint of size "
            f"{cp.size}: entries 0..{record.size - 1} were changed (the log was rolled "
            "back and rebuilt)"
        )
    return None
