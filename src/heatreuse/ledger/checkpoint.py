"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes (Ed25519).

A checkpoint commits to the log at one size::

    heatreuse.example/site-a          <- origin (log identity)
    744                               <- tree size, decimal, no leading zeros
    Xc3aeaBwZamqVZy3Ad7Zoqudgjqt...=  <- base64 of the RFC 9162 root hash
                                      <- blank line
    — heatreuse.example/site-a AbCd...  <- em dash, key name, base64(key ID || sig)

The note text (first three lines, each ending in a newline) is what is signed. The
signature line is ``U+2014 U+0020 <key name> U+0020 base64(4-byte key ID || 64-byte
Ed25519 signature)``; the key ID is defined in :mod:`heatreuse.ledger.keys`. Optional
extension lines after the root are parsed and kept, though not written by heatreuse.

Verification follows the signed-note rules: signatures by unknown keys (other name or
key ID) are ignored, a signature by the known key must verify, and at least one must.

References
----------
C2SP tlog-checkpoint, https://c2sp.org/tlog-checkpoint; C2SP signed-note,
https://c2sp.org/signed-note (v1.0.0).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from heatreuse.errors import VerificationError
from heatreuse.ledger.keys import SIGNATURE_TYPE_ED25519, SigningKey, VerifierKey
from heatreuse.ledger.merkle import HASH_SIZE_BYTES

__all__ = [
    "Checkpoint",
    "NoteSignature",
    "open_note",
    "parse_checkpoint_text",
    "parse_note",
    "sign_checkpoint",
    "sign_note",
    "verify_checkpoint",
]

_EM_DASH = "\u2014"
_SIG_PREFIX = _EM_DASH + " "
_MAX_SIGNATURES = 100


@dataclass(frozen=True)
class Checkpoint:
    """The tree head at one size.

    Attributes
    ----------
    origin
        Log identity, e.g. ``heatreuse.example/site-a``.
    size
        Tree size [entries].
    root_hash
        32-byte RFC 9162 root hash of the first ``size`` entries.
    extensions
        Optional extension lines (opaque, not written by heatreuse).
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise VerificationError(
                f"checkpoint origin: expected one non-empty line, got {self.origin!r}"
            )
        if self.size < 0:
            raise VerificationError(f"checkpoint size: expected >= 0, got {self.size}")
        if len(self.root_hash) != HASH_SIZE_BYTES:
            raise VerificationError(
                f"checkpoint root hash: expected {HASH_SIZE_BYTES} bytes, got {len(self.root_hash)}"
            )
        for line in self.extensions:
            if not line or "\n" in line:
                raise VerificationError(
                    f"checkpoint extension: expected a non-empty line, got {line!r}"
                )

    def body(self) -> str:
        """The note text: origin, size, base64 root and extensions, newline-terminated."""
        root_b64 = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.size), root_b64, *self.extensions]
        return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a signed note."""

    name: str
    key_id: int
    signature: bytes


def _check_note_chars(text: str, where: str) -> None:
    for lineno, line in enumerate(text.split("\n"), start=1):
        for ch in line:
            if ord(ch) < 0x20:
                raise VerificationError(
                    f"{where} line {lineno}: control character U+{ord(ch):04X} is not "
                    "allowed in a signed note"
                )


def sign_note(text: str, key: SigningKey) -> str:
    """Sign a note text and return the signed note (text, blank line, signature line).

    Parameters
    ----------
    text
        Note text; must be non-empty and end with a newline.
    key
        Ed25519 signer key.
    """
    if not text.endswith("\n"):
        raise VerificationError("note text: expected text ending in a newline")
    if key.signature_type != SIGNATURE_TYPE_ED25519:
        raise VerificationError(
            f"signer key {key.name}: a witness (cosigner) key cannot sign notes as a log; "
            "it makes cosignatures (heatreuse.ledger.witness)"
        )
    _check_note_chars(text, "note text")
    sig = key.sign(text.encode("utf-8"))
    blob = key.key_id.to_bytes(4, "big") + sig
    return f"{text}\n{_SIG_PREFIX}{key.name} {base64.b64encode(blob).decode('ascii')}\n"


def parse_note(note: str, where: str = "note") -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and its signature lines (not verified).

    Raises
    ------
    VerificationError
        When the note is malformed; the message names ``where`` and the line.
    """
    if not note.endswith("\n"):
        raise VerificationError(f"{where}: expected a signed note ending in a newline")
    _check_note_chars(note, where)
    split_at = note.rfind("\n\n")
    if split_at < 0:
        raise VerificationError(
            f"{where}: expected note text, a blank line and signature lines; no blank line found"
        )
    text = note[: split_at + 1]
    sig_block = note[split_at + 2 :]
    sig_lines = sig_block.split("\n")[:-1]
    if not sig_lines:
        raise VerificationError(f"{where}: expected at least one signature line, got none")
    if len(sig_lines) > _MAX_SIGNATURES:
        raise VerificationError(f"{where}: too many signature lines ({len(sig_lines)})")
    first_sig_line = text.count("\n") + 2
    sigs: list[NoteSignature] = []
    for offset, line in enumerate(sig_lines):
        lineno = first_sig_line + offset
        if not line.startswith(_SIG_PREFIX):
            raise VerificationError(
                f"{where} line {lineno}: expected a signature line starting with "
                f"'— ' (em dash, space), got {line[:40]!r}"
            )
        parts = line[len(_SIG_PREFIX) :].split(" ")
        if len(parts) != 2 or not parts[0]:
            raise VerificationError(
                f"{where} line {lineno}: expected '— <key name> <base64 signature>'"
            )
        name, blob_b64 = parts
        try:
            blob = base64.b64decode(blob_b64, validate=True)
        except binascii.Error as exc:
            raise VerificationError(
                f"{where} line {lineno}: signature is not valid base64 ({exc})"
            ) from exc
        if len(blob) < 5:
            raise VerificationError(
                f"{where} line {lineno}: expected a key ID and a signature, got {len(blob)} bytes"
            )
        sigs.append(
            NoteSignature(name=name, key_id=int.from_bytes(blob[:4], "big"), signature=blob[4:])
        )
    return text, sigs


def open_note(note: str, verifier: VerifierKey, where: str = "note") -> str:
    """Verify a signed note against one known key and return its text.

    Signatures by other keys are ignored (signed-note rules); the note is accepted
    when the known key's signature verifies.

    Raises
    ------
    VerificationError
        When no signature by ``verifier`` is present or it does not verify.
    """
    text, sigs = parse_note(note, where)
    known = [s for s in sigs if s.name == verifier.name and s.key_id == verifier.key_id]
    if not known:
        present = ", ".join(f"{s.name} (key ID {s.key_id:08x})" for s in sigs)
        raise VerificationError(
            f"{where}: expected a signature by {verifier.name} (key ID "
            f"{verifier.key_id:08x}), found only signatures by: {present}"
        )
    message = text.encode("utf-8")
    for sig in known:
        if not verifier.verify(message, sig.signature):
            raise VerificationError(
                f"{where}: the Ed25519 signature by {verifier.name} (key ID "
                f"{verifier.key_id:08x}) does not verify: the note text was changed "
                "or the signature was forged"
            )
    return text


def parse_checkpoint_text(text: str, where: str = "checkpoint") -> Checkpoint:
    """Parse a checkpoint note text (origin, size, base64 root, extensions).

    Raises
    ------
    VerificationError
        When a line is missing or malformed; the message names the line.
    """
    if not text.endswith("\n"):
        raise VerificationError(f"{where}: expected checkpoint text ending in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError(
            f"{where}: expected at least 3 lines (origin, size, root hash), got {len(lines)}"
        )
    origin, size_text, root_b64, *extensions = lines
    if not origin:
        raise VerificationError(f"{where} line 1: expected a non-empty origin")
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (len(size_text) > 1 and size_text[0] == "0")
    ):
        raise VerificationError(
            f"{where} line 2: expected the tree size as a decimal without leading zeros, "
            f"got {size_text!r}"
        )
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error as exc:
        raise VerificationError(
            f"{where} line 3: expected the base64 root hash, got {root_b64!r} ({exc})"
        ) from exc
    if len(root) != HASH_SIZE_BYTES:
        raise VerificationError(
            f"{where} line 3: expected a {HASH_SIZE_BYTES}-byte root hash, got {len(root)} bytes"
        )
    for offset, line in enumerate(extensions):
        if not line:
            raise VerificationError(f"{where} line {4 + offset}: extension lines must be non-empty")
    return Checkpoint(
        origin=origin, size=int(size_text), root_hash=root, extensions=tuple(extensions)
    )


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> str:
    """Return the signed note of ``checkpoint`` (C2SP tlog-checkpoint + signed-note)."""
    return sign_note(checkpoint.body(), key)


def verify_checkpoint(note: str, verifier: VerifierKey, where: str = "checkpoint") -> Checkpoint:
    """Verify a signed checkpoint note with ``verifier`` and return the checkpoint.

    Raises
    ------
    VerificationError
        When the note is malformed, not signed by ``verifier`` or the signature fails.
    """
    text = open_note(note, verifier, where)
    return parse_checkpoint_text(text, where)
