"""The append-only transparency log of the ledger, over a small storage interface.

:class:`TransparencyLog` turns entries (JSON objects) into RFC 8785 canonical bytes,
numbers them (``index``), appends them to a :class:`LogStorage` and to an in-memory
:class:`~heatreuse.ledger.merkle.MerkleTree`, and signs checkpoints that go to a
:class:`CheckpointStore` (meant to live *outside* the database, so that a rewrite by
a database superuser is still caught).

An append and its checkpoint are one step (:meth:`TransparencyLog.append_signed`):
the checkpoint of the new size is signed *before* the write and stored with the
entries in the same transaction (the storage's *signed head*), then published to the
checkpoint store. Entries beyond the last published checkpoint are therefore either
covered by the stored signed head (a run that was interrupted before publishing) or
were written by someone without the signing key (a direct ``INSERT``); the ledger
service tells the two apart and refuses the second.

Storage contract (for the database layer, e.g. ``heatreuse.store``):

* :meth:`LogStorage.append_entries` is atomic and append-only: it appends all given
  entries or none, and raises :class:`~heatreuse.errors.LedgerError` unless
  ``first_index`` equals the current entry count (so concurrent writers cannot leave
  gaps or overwrite). In SQL: one transaction, a ``UNIQUE``/primary key on the index,
  triggers that refuse ``UPDATE`` and ``DELETE``, appends serialised (SQLite ``BEGIN
  IMMEDIATE``; PostgreSQL an advisory lock).
* Entries are stored as the exact canonical bytes given; :meth:`LogStorage.read_entries`
  returns them unchanged, in log order.
* A ``signed_note`` given to :meth:`LogStorage.append_entries` (the checkpoint of the
  size after the append) is stored in the same transaction; :meth:`LogStorage.signed_head`
  returns the last one stored.
* :class:`CheckpointStore` keeps signed notes by tree size; saving a second, different
  note for the same size is refused.

:class:`MemoryLogStorage`, :class:`MemoryCheckpointStore` and
:class:`DirectoryCheckpointStore` are reference implementations (tests, demo).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from heatreuse.errors import LedgerError
from heatreuse.ledger.canonical import canonical_json_bytes, parse_entry_line
from heatreuse.ledger.checkpoint import Checkpoint, parse_note, sign_checkpoint
from heatreuse.ledger.keys import SigningKey
from heatreuse.ledger.merkle import MerkleTree
from heatreuse.locations import make_private_dirs

__all__ = [
    "CheckpointStore",
    "DirectoryCheckpointStore",
    "LogStorage",
    "MemoryCheckpointStore",
    "MemoryLogStorage",
    "TransparencyLog",
    "prepare_entry",
]


@runtime_checkable
class LogStorage(Protocol):
    """Append-only storage of canonical entry bytes in log order."""

    def entry_count(self) -> int:
        """Number of stored entries [-]."""
        ...

    def append_entries(
        self, first_index: int, entries: Sequence[bytes], signed_note: str | None = None
    ) -> None:
        """Append ``entries`` atomically as indices ``first_index, first_index + 1, ...``.

        Must raise LedgerError unless ``first_index == entry_count()``. ``signed_note``
        (the signed checkpoint of the resulting size) is stored in the same transaction.
        """
        ...

    def read_entries(self, start: int, stop: int) -> Sequence[bytes]:
        """Return the stored bytes of entries ``start <= index < stop`` in order."""
        ...

    def signed_head(self) -> str | None:
        """The signed note stored by the last signed append, or None."""
        ...


@runtime_checkable
class CheckpointStore(Protocol):
    """Storage of signed checkpoint notes, keyed by tree size."""

    def save_checkpoint(self, size: int, note: str) -> None:
        """Store the signed note for tree size ``size`` (refuse a different second note)."""
        ...

    def load_checkpoints(self) -> list[str]:
        """Return all stored signed notes ordered by tree size."""
        ...


class MemoryLogStorage:
    """In-memory :class:`LogStorage` (tests, demo, export of an in-memory ledger)."""

    def __init__(self) -> None:
        self._entries: list[bytes] = []
        self._signed_head: str | None = None

    def entry_count(self) -> int:
        return len(self._entries)

    def append_entries(
        self, first_index: int, entries: Sequence[bytes], signed_note: str | None = None
    ) -> None:
        if first_index != len(self._entries):
            raise LedgerError(
                f"log storage: append at index {first_index} refused, the log has "
                f"{len(self._entries)} entries (appends must be contiguous)"
            )
        self._entries.extend(bytes(e) for e in entries)
        if signed_note is not None:
            self._signed_head = signed_note

    def read_entries(self, start: int, stop: int) -> Sequence[bytes]:
        return self._entries[start:stop]

    def signed_head(self) -> str | None:
        return self._signed_head


class MemoryCheckpointStore:
    """In-memory :class:`CheckpointStore`."""

    def __init__(self) -> None:
        self._notes: dict[int, str] = {}

    def save_checkpoint(self, size: int, note: str) -> None:
        old = self._notes.get(size)
        if old is not None and old != note:
            raise LedgerError(f"checkpoint store: a different checkpoint for size {size} exists")
        self._notes[size] = note

    def load_checkpoints(self) -> list[str]:
        return [self._notes[size] for size in sorted(self._notes)]


class DirectoryCheckpointStore:
    """:class:`CheckpointStore` writing ``<directory>/<size>.txt`` files.

    Files are written to a temporary name and renamed, so a reader never sees half a
    note; an existing file for the same size with other content is never replaced.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def save_checkpoint(self, size: int, note: str) -> None:
        make_private_dirs(self.directory)
        target = self.directory / f"{size}.txt"
        if target.exists():
            if target.read_text(encoding="utf-8") == note:
                return
            raise LedgerError(f"{target}: a different checkpoint for size {size} exists")
        tmp = target.with_name(f".{size}.txt.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(note, encoding="utf-8", newline="\n")
        os.replace(tmp, target)

    def load_checkpoints(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        found: list[tuple[int, str]] = []
        for path in self.directory.glob("*.txt"):
            if path.stem.isdigit():
                found.append((int(path.stem), path.read_text(encoding="utf-8")))
        return [note for _, note in sorted(found)]


def prepare_entry(entry: Mapping[str, Any], index: int) -> bytes:
    """Number an entry and return its canonical bytes (its Merkle leaf).

    The entry must have a non-empty string ``type``; its ``index`` is set to
    ``index`` (an existing ``index`` must already equal it).

    Raises
    ------
    LedgerError
        When ``type`` is missing, ``index`` disagrees, or the entry is not JSON.
    """
    if not isinstance(entry, Mapping):
        raise LedgerError(f"entry {index}: expected a JSON object, got {type(entry).__name__}")
    entry_type = entry.get("type")
    if not isinstance(entry_type, str) or not entry_type:
        raise LedgerError(
            f"entry {index}: expected a non-empty string field 'type', got {entry_type!r}"
        )
    if "index" in entry and (
        not isinstance(entry["index"], int)
        or isinstance(entry["index"], bool)
        or entry["index"] != index
    ):
        raise LedgerError(
            f"entry {index}: field 'index' is {entry['index']!r}, expected {index} "
            "(its position in the log)"
        )
    numbered = dict(entry)
    numbered["index"] = index
    return canonical_json_bytes(numbered)


class TransparencyLog:
    """An append-only Merkle log of JSON entries with signed checkpoints.

    Parameters
    ----------
    origin
        Log identity written in every checkpoint, e.g. ``heatreuse.example/site-a``;
        the signing key must carry the same name.
    storage
        Entry storage; existing entries are loaded and re-hashed (about 0.3 s for
        100 000 entries). Default: in memory.
    checkpoints
        Where signed checkpoints go. Default: in memory.
    """

    def __init__(
        self,
        origin: str,
        storage: LogStorage | None = None,
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        if not origin or "\n" in origin:
            raise LedgerError(f"log origin: expected one non-empty line, got {origin!r}")
        self.origin = origin
        self.storage: LogStorage = storage if storage is not None else MemoryLogStorage()
        self.checkpoints: CheckpointStore = (
            checkpoints if checkpoints is not None else MemoryCheckpointStore()
        )
        self._tree = MerkleTree(self.storage.read_entries(0, self.storage.entry_count()))

    @property
    def size(self) -> int:
        """Number of entries [-]."""
        return self._tree.size

    @property
    def tree(self) -> MerkleTree:
        """The Merkle tree over all entries (do not append to it directly)."""
        return self._tree

    def append(self, entry: Mapping[str, Any]) -> int:
        """Append one entry and return its index."""
        return self.extend([entry])[0]

    def extend(self, entries: Iterable[Mapping[str, Any]]) -> list[int]:
        """Append entries atomically (all or none) and return their indices, unsigned.

        The new entries stay unsigned until :meth:`sign_checkpoint`; a ledger that
        others rely on appends with :meth:`append_signed` instead, so that no entry is
        ever stored without the checkpoint that covers it.
        """
        first = self.size
        payloads = [prepare_entry(entry, first + i) for i, entry in enumerate(entries)]
        if not payloads:
            return []
        self.storage.append_entries(first, payloads)
        for payload in payloads:
            self._tree.append(payload)
        return list(range(first, first + len(payloads)))

    def append_signed(self, entries: Iterable[Mapping[str, Any]], key: SigningKey) -> list[int]:
        """Append entries and sign the checkpoint of the new size, as one step.

        The checkpoint of the size after the append is signed first and handed to the
        storage, which writes it with the entries in one transaction (its signed head);
        then it is saved to the checkpoint store. If the process dies between the two,
        the stored signed head still covers the entries and can be published later;
        entries the storage holds beyond the last signed head were not written here.

        Returns
        -------
        list[int]
            Indices of the appended entries (empty, and nothing signed, when there
            are none).

        Raises
        ------
        LedgerError
            When the key name differs from the origin, or the storage refuses.
        """
        self._check_key(key)
        first = self.size
        payloads = [prepare_entry(entry, first + i) for i, entry in enumerate(entries)]
        if not payloads:
            return []
        for payload in payloads:
            self._tree.append(payload)
        try:
            note = sign_checkpoint(self.checkpoint(), key)
            self.storage.append_entries(first, payloads, signed_note=note)
        except BaseException:
            self._tree = MerkleTree.from_leaf_hashes(self._tree.leaf_hashes()[:first])
            raise
        self.checkpoints.save_checkpoint(self.size, note)
        return list(range(first, first + len(payloads)))

    def entry_bytes(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        """Canonical bytes of entries ``start <= index < stop`` (default: all)."""
        stop = self.size if stop is None else stop
        return list(self.storage.read_entries(start, stop))

    def entries(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Entries ``start <= index < stop`` as dicts (default: all)."""
        return [
            parse_entry_line(raw, f"log entry {start + i}")
            for i, raw in enumerate(self.entry_bytes(start, stop))
        ]

    def root_hash(self, size: int | None = None) -> bytes:
        """RFC 9162 root hash at ``size`` entries (default: all)."""
        return self._tree.root_hash(size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of entry ``index`` in the tree of ``size`` entries."""
        return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Consistency proof between tree sizes ``old_size`` and ``new_size``."""
        return self._tree.consistency_proof(old_size, new_size)

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        """The (unsigned) checkpoint at ``size`` entries (default: all)."""
        size = self.size if size is None else size
        return Checkpoint(origin=self.origin, size=size, root_hash=self.root_hash(size))

    def sign_checkpoint(self, key: SigningKey) -> str:
        """Sign the checkpoint at the current size, store and return the signed note.

        Raises
        ------
        LedgerError
            When the key name differs from the log origin.
        """
        self._check_key(key)
        note = sign_checkpoint(self.checkpoint(), key)
        self.checkpoints.save_checkpoint(self.size, note)
        return note

    def _check_key(self, key: SigningKey) -> None:
        if key.name != self.origin:
            raise LedgerError(
                f"signing key name {key.name!r} differs from the log origin {self.origin!r}; "
                "checkpoints are signed by a key named like the log"
            )

    def signed_checkpoints(self) -> list[str]:
        """All stored signed checkpoint notes, ordered by tree size."""
        notes = self.checkpoints.load_checkpoints()
        for note in notes:
            parse_note(note, "stored checkpoint")
        return notes
