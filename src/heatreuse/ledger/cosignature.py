"""Witness cosignatures on checkpoints (C2SP tlog-cosignature/v1, Ed25519).

A cosignature is one more signature line on a checkpoint's signed note, made with a
witness's own key (signature type 0x04, see :mod:`heatreuse.ledger.keys`)::

    — <witness name> base64(key ID (4 bytes) || timestamp (8 bytes, big-endian)
                            || Ed25519 signature (64 bytes))

The signed message is two header lines and the checkpoint body (the note text
without its signature lines)::

    cosignature/v1
    time <POSIX seconds, decimal, no leading zeros>
    <origin>
    <size>
    <base64 root>

It states that, as of that time, this is the largest consistent tree head the witness
has seen for that origin. Signature lines by other keys are ignored (signed-note rules).

References
----------
C2SP tlog-cosignature, https://c2sp.org/tlog-cosignature (v1, Ed25519 type);
C2SP signed-note, https://c2sp.org/signed-note (v1.0.0).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from heatreuse.errors import VerificationError
from heatreuse.ledger.checkpoint import parse_note
from heatreuse.ledger.keys import SIGNATURE_TYPE_COSIGNATURE, SigningKey, VerifierKey

__all__ = [
    "COSIGNATURE_HEADER",
    "Cosignature",
    "add_cosignature",
    "cosignature_line",
    "cosignature_message",
    "find_cosignatures",
]

#: First line of the cosigned message (domain separation).
COSIGNATURE_HEADER = "cosignature/v1"
_EM_DASH = "\u2014"
_TIMESTAMP_BYTES = 8
_ED25519_SIGNATURE_BYTES = 64
_MAX_TIMESTAMP_S = 2**63 - 1


@dataclass(frozen=True)
class Cosignature:
    """One cosignature line by a known witness on a note.

    Attributes
    ----------
    witness
        Witness key name.
    timestamp_s
        Cosigning time [s since the POSIX epoch, UTC].
    valid
        True when the Ed25519 signature verifies over the note body.
    """

    witness: str
    timestamp_s: int
    valid: bool


def _check_cosigner(key: SigningKey | VerifierKey) -> None:
    if key.signature_type != SIGNATURE_TYPE_COSIGNATURE:
        raise VerificationError(
            f"key {key.name}: expected a witness (cosigner) key of signature type 0x04, "
            f"got type 0x{key.signature_type:02x}"
        )


def cosignature_message(body: str, timestamp_s: int) -> bytes:
    """The bytes a witness signs: header, time line and the checkpoint body.

    Parameters
    ----------
    body
        The checkpoint note text (origin, size, root, extensions), newline-terminated.
    timestamp_s
        Cosigning time [s since the POSIX epoch], 0 <= t <= 2**63 - 1.
    """
    if not 0 <= timestamp_s <= _MAX_TIMESTAMP_S:
        raise VerificationError(f"cosignature time: expected 0..2^63-1 s, got {timestamp_s}")
    if not body.endswith("\n"):
        raise VerificationError("cosigned checkpoint: expected a body ending in a newline")
    return f"{COSIGNATURE_HEADER}\ntime {timestamp_s}\n{body}".encode()


def cosignature_line(body: str, key: SigningKey, timestamp_s: int) -> str:
    """Cosign a checkpoint body and return the note signature line (with its newline)."""
    _check_cosigner(key)
    sig = key.sign(cosignature_message(body, timestamp_s))
    blob = key.key_id.to_bytes(4, "big") + timestamp_s.to_bytes(_TIMESTAMP_BYTES, "big") + sig
    return f"{_EM_DASH} {key.name} {base64.b64encode(blob).decode('ascii')}\n"


def add_cosignature(note: str, key: SigningKey, timestamp_s: int) -> tuple[str, str]:
    """Return ``note`` with this witness's cosignature (replacing an earlier one by it).

    Returns
    -------
    (note, line)
        The cosigned note and the cosignature line that was added.
    """
    _check_cosigner(key)
    body, sigs = parse_note(note, "checkpoint")
    line = cosignature_line(body, key, timestamp_s)
    kept = [
        raw
        for raw, sig in zip(_signature_lines(note, body), sigs, strict=True)
        if not (sig.name == key.name and sig.key_id == key.key_id)
    ]
    return body + "\n" + "".join(kept) + line, line


def _signature_lines(note: str, body: str) -> list[str]:
    block = note[len(body) + 1 :]
    return [line + "\n" for line in block.split("\n")[:-1]]


def find_cosignatures(note: str, witness: VerifierKey, where: str = "note") -> list[Cosignature]:
    """The cosignatures by ``witness`` on a signed note, each verified.

    Lines by other keys are ignored; a line with the witness's name and key ID that is
    not ``timestamp || signature`` is reported as invalid, not skipped.

    Raises
    ------
    VerificationError
        When the note is malformed or ``witness`` is not a cosigner key.
    """
    _check_cosigner(witness)
    body, sigs = parse_note(note, where)
    found: list[Cosignature] = []
    for sig in sigs:
        if sig.name != witness.name or sig.key_id != witness.key_id:
            continue
        if len(sig.signature) != _TIMESTAMP_BYTES + _ED25519_SIGNATURE_BYTES:
            found.append(Cosignature(witness.name, 0, False))
            continue
        timestamp_s = int.from_bytes(sig.signature[:_TIMESTAMP_BYTES], "big")
        if timestamp_s > _MAX_TIMESTAMP_S:
            found.append(Cosignature(witness.name, timestamp_s, False))
            continue
        message = cosignature_message(body, timestamp_s)
        valid = witness.verify(message, sig.signature[_TIMESTAMP_BYTES:])
        found.append(Cosignature(witness.name, timestamp_s, valid))
    return found
