"""Ed25519 keys for signed notes (C2SP signed-note), their text forms and key files.

Text forms (compatible with Go's ``golang.org/x/mod/sumdb/note``):

* verifier key ("vkey"), public: ``<name>+<key ID, 8 hex digits>+<base64(0x01 || pk)>``
* signer key ("skey"), secret: ``PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)>``

where ``pk`` is the 32-byte Ed25519 public key (RFC 8032), ``seed`` the 32-byte private
key, ``0x01`` the Ed25519 signature type of C2SP signed-note, and

    key ID = SHA-256(name || 0x0A || 0x01 || pk)[:4]   (big-endian uint32)

A witness (C2SP tlog-cosignature/v1) uses the same forms with signature type ``0x04``
(Ed25519 cosignature) in place of ``0x01``, which also enters its key ID; such keys are
made with ``signature_type=SIGNATURE_TYPE_COSIGNATURE`` and parsed with
:func:`parse_cosigner_vkey`.

Key names must be non-empty and hold no Unicode spaces and no ``+`` (C2SP
signed-note, "Format"); a schema-less URL such as ``heatreuse.example/site-a`` is
recommended.

A signer key is saved to a file of mode 0600 (created exclusively, never through a
world-readable temporary); :func:`load_signing_key` refuses a key file that group or
others can read, like OpenSSH does.

References
----------
C2SP signed-note, https://c2sp.org/signed-note (v1.0.0); C2SP tlog-cosignature,
https://c2sp.org/tlog-cosignature (v1, Ed25519). S. Josefsson, I. Liusvaara,
"Edwards-Curve Digital Signature Algorithm (EdDSA)", RFC 8032, IETF, January 2017.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from heatreuse.errors import LedgerError

__all__ = [
    "SIGNATURE_TYPE_COSIGNATURE",
    "SIGNATURE_TYPE_ED25519",
    "SigningKey",
    "VerifierKey",
    "check_key_name",
    "compute_key_id",
    "generate_signing_key",
    "load_signing_key",
    "parse_cosigner_vkey",
    "parse_vkey",
    "save_signing_key",
]

#: Signature type byte of Ed25519 in C2SP signed-note.
SIGNATURE_TYPE_ED25519 = 0x01
#: Signature type byte of an Ed25519 cosigner (witness) key, C2SP tlog-cosignature/v1.
SIGNATURE_TYPE_COSIGNATURE = 0x04
_TYPE_NAMES = {
    SIGNATURE_TYPE_ED25519: "Ed25519",
    SIGNATURE_TYPE_COSIGNATURE: "Ed25519 cosignature",
}
_ED25519_KEY_SIZE_BYTES = 32
_SKEY_PREFIX = "PRIVATE+KEY+"


def check_key_name(name: str, where: str = "key name") -> str:
    """Return ``name`` if it is a valid signed-note key name, else raise LedgerError."""
    if not name:
        raise LedgerError(f"{where}: expected a non-empty key name, got an empty string")
    bad = [c for c in name if c.isspace() or c == "+" or ord(c) < 0x20 or ord(c) == 0x7F]
    if bad:
        raise LedgerError(
            f"{where}: expected a key name without spaces, '+' or control characters "
            f"(C2SP signed-note), got {name!r}"
        )
    return name


def compute_key_id(
    name: str, public_key: bytes, signature_type: int = SIGNATURE_TYPE_ED25519
) -> int:
    """Key ID of an Ed25519 key: first 4 bytes of SHA-256(name || 0x0A || type || pk).

    ``type`` is 0x01 for a note signer, 0x04 for a cosigner (witness).

    Returns
    -------
    int
        The key ID as a big-endian unsigned 32-bit integer.
    """
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class VerifierKey:
    """A public Ed25519 note verifier key.

    Attributes
    ----------
    name
        Key name (by convention the log origin).
    public_key
        32-byte Ed25519 public key (RFC 8032 encoding).
    signature_type
        0x01 (note signer, default) or 0x04 (cosigner / witness).
    """

    name: str
    public_key: bytes
    signature_type: int = SIGNATURE_TYPE_ED25519

    def __post_init__(self) -> None:
        check_key_name(self.name)
        _check_type(self.signature_type, f"verifier key {self.name}")
        if len(self.public_key) != _ED25519_KEY_SIZE_BYTES:
            raise LedgerError(
                f"verifier key {self.name}: expected a {_ED25519_KEY_SIZE_BYTES}-byte "
                f"Ed25519 public key, got {len(self.public_key)} bytes"
            )

    @property
    def key_id(self) -> int:
        """Key ID (uint32) as defined in C2SP signed-note."""
        return compute_key_id(self.name, self.public_key, self.signature_type)

    def to_vkey(self) -> str:
        """Return the ``name+hexid+base64`` verifier key string."""
        payload = base64.b64encode(bytes([self.signature_type]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{payload.decode('ascii')}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is a valid Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def _check_type(signature_type: int, where: str) -> None:
    if signature_type not in _TYPE_NAMES:
        raise LedgerError(
            f"{where}: expected signature type 0x01 (Ed25519) or 0x04 (Ed25519 "
            f"cosignature), got 0x{signature_type:02x}"
        )


def parse_vkey(text: str, where: str = "verifier key") -> VerifierKey:
    """Parse a ``<name>+<hex key ID>+<base64(0x01 || pk)>`` verifier key string.

    Raises
    ------
    LedgerError
        When the string is malformed, the type is not Ed25519 (0x01), or the key ID
        does not match the name and public key.
    """
    return _parse_vkey(text, where, SIGNATURE_TYPE_ED25519)


def parse_cosigner_vkey(text: str, where: str = "witness key") -> VerifierKey:
    """Parse a witness's ``<name>+<hex key ID>+<base64(0x04 || pk)>`` verifier key.

    Raises
    ------
    LedgerError
        When the string is malformed, the type is not an Ed25519 cosignature key
        (0x04, C2SP tlog-cosignature), or the key ID does not match.
    """
    return _parse_vkey(text, where, SIGNATURE_TYPE_COSIGNATURE)


def _parse_vkey(text: str, where: str, signature_type: int) -> VerifierKey:
    text = text.strip()
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise LedgerError(
            f"{where}: expected '<name>+<8 hex digits>+<base64 key>', got {text[:80]!r}"
        )
    name, id_hex, key_b64 = parts
    check_key_name(name, where)
    if len(id_hex) != 8 or any(c not in "0123456789abcdef" for c in id_hex):
        raise LedgerError(f"{where}: expected a key ID of 8 lower-case hex digits, got {id_hex!r}")
    try:
        raw = base64.b64decode(key_b64, validate=True)
    except binascii.Error as exc:
        raise LedgerError(f"{where}: expected base64 key data, got {key_b64!r} ({exc})") from exc
    if len(raw) != 1 + _ED25519_KEY_SIZE_BYTES or raw[0] != signature_type:
        raise LedgerError(
            f"{where}: expected type 0x{signature_type:02x} ({_TYPE_NAMES[signature_type]}) "
            f"followed by a 32-byte public key, got {len(raw)} bytes starting with "
            f"0x{raw[:1].hex() or '--'}"
        )
    key = VerifierKey(name=name, public_key=raw[1:], signature_type=signature_type)
    if f"{key.key_id:08x}" != id_hex:
        raise LedgerError(
            f"{where}: key ID {id_hex} does not match the name and public key "
            f"(expected {key.key_id:08x})"
        )
    return key


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 note signer key.

    Attributes
    ----------
    name
        Key name (by convention the log origin).
    seed
        32-byte Ed25519 private key (RFC 8032 seed); never shown in ``repr``.
    signature_type
        0x01 (note signer, default) or 0x04 (cosigner / witness).
    """

    name: str
    seed: bytes = field(repr=False)
    signature_type: int = SIGNATURE_TYPE_ED25519

    def __post_init__(self) -> None:
        check_key_name(self.name)
        _check_type(self.signature_type, f"signer key {self.name}")
        if len(self.seed) != _ED25519_KEY_SIZE_BYTES:
            raise LedgerError(
                f"signer key {self.name}: expected a {_ED25519_KEY_SIZE_BYTES}-byte Ed25519 "
                f"private key, got {len(self.seed)} bytes"
            )

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public_key(self) -> bytes:
        """32-byte Ed25519 public key."""
        return self._private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def verifier(self) -> VerifierKey:
        """The matching public verifier key."""
        return VerifierKey(
            name=self.name, public_key=self.public_key, signature_type=self.signature_type
        )

    @property
    def key_id(self) -> int:
        """Key ID (uint32) as defined in C2SP signed-note."""
        return compute_key_id(self.name, self.public_key, self.signature_type)

    def vkey(self) -> str:
        """Return the public verifier key string."""
        return self.verifier.to_vkey()

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message`` (RFC 8032, deterministic)."""
        return self._private().sign(message)

    def to_skey(self) -> str:
        """Return the secret ``PRIVATE+KEY+name+hexid+base64`` string (keep it secret)."""
        payload = base64.b64encode(bytes([self.signature_type]) + self.seed).decode("ascii")
        return f"{_SKEY_PREFIX}{self.name}+{self.key_id:08x}+{payload}"

    @classmethod
    def from_skey(cls, text: str, where: str = "signer key") -> SigningKey:
        """Parse a ``PRIVATE+KEY+name+hexid+base64(0x01 || seed)`` string."""
        text = text.strip()
        if not text.startswith(_SKEY_PREFIX):
            raise LedgerError(f"{where}: expected a string starting with {_SKEY_PREFIX!r}")
        parts = text[len(_SKEY_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise LedgerError(f"{where}: expected 'PRIVATE+KEY+<name>+<key ID>+<base64 key>'")
        name, id_hex, key_b64 = parts
        try:
            raw = base64.b64decode(key_b64, validate=True)
        except binascii.Error as exc:
            raise LedgerError(f"{where}: expected base64 key data ({exc})") from exc
        if len(raw) != 1 + _ED25519_KEY_SIZE_BYTES or raw[0] not in _TYPE_NAMES:
            raise LedgerError(
                f"{where}: expected type 0x01 (Ed25519) or 0x04 (Ed25519 cosignature) "
                "followed by a 32-byte private key"
            )
        key = cls(name=check_key_name(name, where), seed=raw[1:], signature_type=raw[0])
        if f"{key.key_id:08x}" != id_hex:
            raise LedgerError(
                f"{where}: key ID {id_hex} does not match the name and key "
                f"(expected {key.key_id:08x})"
            )
        return key


def generate_signing_key(name: str, signature_type: int = SIGNATURE_TYPE_ED25519) -> SigningKey:
    """Generate a new random Ed25519 signer key named ``name``.

    ``signature_type`` 0x04 makes a witness (cosigner) key.
    """
    check_key_name(name)
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return SigningKey(name=name, seed=seed, signature_type=signature_type)


def save_signing_key(
    key: SigningKey, path: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Write the signer key to ``path`` with mode 0600.

    The key is written to a temporary file created with ``O_EXCL`` and mode 0600 from
    the start (never readable by others, whatever the umask), then linked into place,
    so a concurrent reader sees either no key file or the whole key, and of two
    concurrent writers exactly one wins.

    Raises
    ------
    LedgerError
        When the file exists and ``overwrite`` is false.
    """
    target = Path(path)
    exists = LedgerError(f"{target}: key file exists; refusing to overwrite a signing key")
    if target.exists() and not overwrite:
        raise exists
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (key.to_skey() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if another writer got there first
            except FileExistsError:
                raise exists from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return target


def load_signing_key(path: str | os.PathLike[str]) -> SigningKey:
    """Read a signer key written by :func:`save_signing_key`.

    Raises
    ------
    LedgerError
        When the file is missing, readable by group or others, or malformed.
    """
    source = Path(path)
    try:
        mode = source.stat().st_mode
    except FileNotFoundError as exc:
        raise LedgerError(f"{source}: signing key file not found") from exc
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise LedgerError(
            f"{source}: signing key file has mode {stat.S_IMODE(mode):04o}, expected 0600 "
            f"(readable by the owner only); fix with: chmod 600 {source}"
        )
    return SigningKey.from_skey(source.read_text(encoding="ascii"), where=str(source))
