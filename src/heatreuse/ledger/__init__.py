"""Reuse ledger: tamper-evident Merkle log, signed checkpoints, export and verify.

Modules
-------
merkle
    RFC 9162 Merkle tree hashing, inclusion and consistency proofs (pure).
canonical
    RFC 8785 canonical JSON of entries (the Merkle leaves).
keys
    Ed25519 signer/verifier keys in C2SP signed-note text form; key files (0600).
checkpoint
    C2SP tlog-checkpoint signed notes: sign, parse, verify.
tlog
    :class:`TransparencyLog` over the small :class:`LogStorage` /
    :class:`CheckpointStore` interfaces a database layer implements.
verify
    The export folder format, :func:`export_log` and :func:`verify_export`.
cosignature
    C2SP tlog-cosignature/v1 lines: a witness's timestamped Ed25519 cosignature.
witness
    The witness: per-log state, consistency check, cosigning an export folder.
safe_files
    Bounded reads of regular files only (no symlinks, FIFOs, devices).

Importing this package only imports these modules; nothing runs at import time.
"""

from heatreuse.ledger.canonical import canonical_json_bytes
from heatreuse.ledger.checkpoint import (
    Checkpoint,
    parse_checkpoint_text,
    sign_checkpoint,
    verify_checkpoint,
)
from heatreuse.ledger.keys import (
    SigningKey,
    VerifierKey,
    generate_signing_key,
    load_signing_key,
    parse_vkey,
    save_signing_key,
)
from heatreuse.ledger.merkle import (
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from heatreuse.ledger.tlog import (
    CheckpointStore,
    DirectoryCheckpointStore,
    LogStorage,
    MemoryCheckpointStore,
    MemoryLogStorage,
    TransparencyLog,
)
from heatreuse.ledger.verify import (
    Problem,
    ReportedTotal,
    TotalSpec,
    VerifyReport,
    compute_total,
    export_log,
    monthly_total_specs,
    verify_export,
)

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "DirectoryCheckpointStore",
    "LogStorage",
    "MemoryCheckpointStore",
    "MemoryLogStorage",
    "MerkleTree",
    "Problem",
    "ReportedTotal",
    "SigningKey",
    "TotalSpec",
    "TransparencyLog",
    "VerifierKey",
    "VerifyReport",
    "canonical_json_bytes",
    "compute_total",
    "consistency_proof",
    "export_log",
    "generate_signing_key",
    "inclusion_proof",
    "leaf_hash",
    "load_signing_key",
    "monthly_total_specs",
    "parse_checkpoint_text",
    "parse_vkey",
    "root_hash",
    "save_signing_key",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
]
