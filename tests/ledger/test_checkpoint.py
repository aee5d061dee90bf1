"""Signed notes, keys and checkpoints against the Go reference implementation's vectors.

The PeterNeumann / EnochRoot keys, the note text and the signatures are the test
vectors of Go's ``golang.org/x/mod/sumdb/note`` (``note_test.go`` TestSign, TestOpen,
TestVerifierList; ``example_test.go``), an independent implementation of the same
signed-note format that C2SP signed-note standardises. The checkpoint body example is
the one in C2SP ``tlog-checkpoint.md``.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from heatreuse.errors import HeatreuseError, LedgerError, VerificationError
from heatreuse.ledger.canonical import canonical_json_bytes, is_canonical, parse_entry_line
from heatreuse.ledger.checkpoint import (
    Checkpoint,
    open_note,
    parse_checkpoint_text,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from heatreuse.ledger.keys import (
    SigningKey,
    compute_key_id,
    generate_signing_key,
    load_signing_key,
    parse_vkey,
    save_signing_key,
)
from heatreuse.ledger.merkle import MerkleTree
from heatreuse.ledger.tlog import (
    DirectoryCheckpointStore,
    MemoryLogStorage,
    TransparencyLog,
)

# golang.org/x/mod/sumdb/note note_test.go (TestSign, TestOpen)
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01"
    "oOTGwnWLox33WWd1RvMc+QQ=\n"
)


# -- keys --------------------------------------------------------------------------------


def test_go_signer_key_reproduces_the_go_signature_byte_for_byte() -> None:
    key = SigningKey.from_skey(GO_SKEY)
    assert key.name == "PeterNeumann"
    assert key.key_id == 0xC74F20A3
    assert key.vkey() == GO_VKEY
    assert key.to_skey() == GO_SKEY
    # Ed25519 (RFC 8032) is deterministic, so the whole note must match Go's output.
    assert sign_note(GO_TEXT, key) == GO_TEXT + "\n" + PETER_SIG


def test_go_verifier_keys_parse_and_key_ids_recompute() -> None:
    peter = parse_vkey(GO_VKEY)
    enoch = parse_vkey(ENOCH_VKEY)
    assert (peter.name, peter.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert (enoch.name, enoch.key_id) == ("EnochRoot", 0xAF0CFE78)
    assert compute_key_id("EnochRoot", enoch.public_key) == 0xAF0CFE78
    assert peter.to_vkey() == GO_VKEY
    assert enoch.to_vkey() == ENOCH_VKEY


def test_enoch_key_is_the_all_zero_seed_key() -> None:
    # Go's example_test.go generates EnochRoot from a reader of zero bytes (the seed).
    assert SigningKey(name="EnochRoot", seed=bytes(32)).vkey() == ENOCH_VKEY


def test_go_open_ignores_unknown_signatures_and_rejects_bad_ones() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, parse_vkey(GO_VKEY)) == GO_TEXT
    assert open_note(note, parse_vkey(ENOCH_VKEY)) == GO_TEXT
    text, sigs = parse_note(note)
    assert text == GO_TEXT
    assert [(s.name, s.key_id) for s in sigs] == [
        ("PeterNeumann", 0xC74F20A3),
        ("EnochRoot", 0xAF0CFE78),
    ]
    # Invalid signature (Go TestOpen: "ABCD" spliced into the base64).
    bad = GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(VerificationError, match="does not verify"):
        open_note(bad, parse_vkey(GO_VKEY))
    # Only an unknown key signed.
    with pytest.raises(VerificationError, match="expected a signature by PeterNeumann"):
        open_note(GO_TEXT + "\n" + ENOCH_SIG, parse_vkey(GO_VKEY))


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_go_malformed_notes_are_rejected(note: str) -> None:
    # Go TestOpen "Invalid encoded message syntax" and "too many signatures".
    with pytest.raises(VerificationError):
        open_note(note, parse_vkey(GO_VKEY))


def test_mangled_verifier_keys_are_rejected() -> None:
    # Go TestNewVerifier: every proper substring and every single-byte change fails.
    bad = [GO_VKEY[i:j] for i in range(0, len(GO_VKEY), 7) for j in (i + 5, len(GO_VKEY) - 1)]
    bad += [GO_VKEY[:i] + chr(ord(GO_VKEY[i]) + 1) + GO_VKEY[i + 1 :] for i in range(len(GO_VKEY))]
    bad += [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]
    for text in bad:
        with pytest.raises(LedgerError):
            parse_vkey(text)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname", "new\nline"])
def test_bad_key_names_are_rejected(name: str) -> None:
    with pytest.raises(LedgerError, match="key name"):
        generate_signing_key(name)


def test_key_file_is_0600_and_round_trips(tmp_path: Path) -> None:
    key = generate_signing_key("heatreuse.example/site-a")
    path = save_signing_key(key, tmp_path / "ledger.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_signing_key(path)
    assert loaded == key
    assert "seed" not in repr(loaded) or key.seed.hex() not in repr(loaded)
    with pytest.raises(LedgerError, match="refusing to overwrite"):
        save_signing_key(key, path)
    other = generate_signing_key("heatreuse.example/site-a")
    save_signing_key(other, path, overwrite=True)
    assert load_signing_key(path) == other


def test_too_open_key_file_is_refused(tmp_path: Path) -> None:
    path = save_signing_key(generate_signing_key("site-a"), tmp_path / "k")
    os.chmod(path, 0o644)
    with pytest.raises(LedgerError, match="expected 0600"):
        load_signing_key(path)
    with pytest.raises(LedgerError, match="not found"):
        load_signing_key(tmp_path / "missing")


def test_skey_with_wrong_key_id_is_refused() -> None:
    tampered = GO_SKEY.replace("c74f20a3", "c74f20a4")
    with pytest.raises(LedgerError, match="does not match"):
        SigningKey.from_skey(tampered)


# -- checkpoints ---------------------------------------------------------------------


def test_c2sp_checkpoint_example_body_parses() -> None:
    # C2SP tlog-checkpoint.md example.
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = parse_checkpoint_text(text)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.body() == text


def test_checkpoint_sign_verify_round_trip() -> None:
    key = generate_signing_key("heatreuse.example/site-a")
    tree = MerkleTree([b"a", b"b", b"c"])
    cp = Checkpoint(origin=key.name, size=3, root_hash=tree.root_hash())
    note = sign_checkpoint(cp, key)
    lines = note.split("\n")
    assert lines[:3] == [
        "heatreuse.example/site-a",
        "3",
        base64.b64encode(tree.root_hash()).decode(),
    ]
    assert lines[3] == ""
    assert lines[4].startswith("\u2014 heatreuse.example/site-a ")
    assert verify_checkpoint(note, key.verifier) == cp


def test_tampered_or_foreign_checkpoints_fail() -> None:
    key = generate_signing_key("site-a")
    cp = Checkpoint(origin="site-a", size=5, root_hash=MerkleTree([b"x"] * 5).root_hash())
    note = sign_checkpoint(cp, key)
    with pytest.raises(VerificationError, match="does not verify"):
        verify_checkpoint(note.replace("\n5\n", "\n6\n", 1), key.verifier)
    impostor = generate_signing_key("site-a")
    with pytest.raises(VerificationError, match="expected a signature by site-a"):
        verify_checkpoint(sign_checkpoint(cp, impostor), key.verifier)
    # The exception carries exit code 3 in the CLI.
    assert VerificationError.exit_code == 3
    assert issubclass(VerificationError, HeatreuseError)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("origin\n05\nAAAA\n", "leading zeros"),
        ("origin\n-1\nAAAA\n", "decimal"),
        ("origin\n5\nnot base64!\n", "base64"),
        ("origin\n5\nAAAA\n", "32-byte"),
        ("origin\n5\n", "at least 3 lines"),
        ("\n5\n" + "A" * 43 + "=\n", "origin"),
    ],
)
def test_malformed_checkpoint_bodies(text: str, match: str) -> None:
    with pytest.raises(VerificationError, match=match):
        parse_checkpoint_text(text)


# -- canonical JSON and the log ----------------------------------------------------------


def test_canonical_json_rfc8785() -> None:
    # RFC 8785 3.2.3: keys sort by UTF-16 code units, so U+1F600 (surrogate 0xD83D)
    # sorts before U+FB33, unlike code-point order (the RFC's own sorting example).
    data = {"b": 1, "\ufb33": 2, "a": [1.5, 2.0, "é", None, True], "\u20ac": 0, "\U0001f600": 1}
    out = canonical_json_bytes(data)
    assert out == '{"a":[1.5,2,"é",null,true],"b":1,"€":0,"😀":1,"\ufb33":2}'.encode()
    assert is_canonical(out)
    assert not is_canonical(b'{"b":1, "a":2}')
    assert parse_entry_line(out, "x")["a"] == [1.5, 2, "é", None, True]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (float("nan"), r"\$\.x.*finite"),
        (float("inf"), r"\$\.x.*finite"),
        (2**60, "2\\*\\*53"),
        ({"deep": [1, float("-inf")]}, r"\$\.x\.deep\[1\]"),
        (object(), "JSON value"),
        ({1: 2}, "string keys"),
    ],
)
def test_canonical_json_rejects_non_json(value: object, match: str) -> None:
    with pytest.raises(LedgerError, match=match):
        canonical_json_bytes({"x": value})


def test_transparency_log_numbers_entries_and_signs(tmp_path: Path) -> None:
    key = generate_signing_key("site-a")
    storage = MemoryLogStorage()
    log = TransparencyLog("site-a", storage, DirectoryCheckpointStore(tmp_path / "cp"))
    assert log.extend([{"type": "a", "v": 1}, {"type": "a", "v": 2}]) == [0, 1]
    note = log.sign_checkpoint(key)
    log.append({"type": "b", "v": 3.5})
    note2 = log.sign_checkpoint(key)
    assert log.signed_checkpoints() == [note, note2]
    assert (tmp_path / "cp" / "2.txt").read_text(encoding="utf-8") == note
    assert log.entries()[2] == {"index": 2, "type": "b", "v": 3.5}
    # Re-opening from storage rebuilds the same tree.
    reopened = TransparencyLog("site-a", storage)
    assert reopened.root_hash() == log.root_hash()
    cp1, cp2 = verify_checkpoint(note, key.verifier), verify_checkpoint(note2, key.verifier)
    assert cp2.root_hash == log.root_hash()
    assert cp1.root_hash == log.root_hash(2)


def test_transparency_log_refuses_bad_entries_and_keys() -> None:
    log = TransparencyLog("site-a")
    with pytest.raises(LedgerError, match="'type'"):
        log.append({"v": 1})
    with pytest.raises(LedgerError, match="expected 0"):
        log.append({"type": "a", "index": 5})
    with pytest.raises(LedgerError, match="finite"):
        log.append({"type": "a", "v": float("nan")})
    assert log.size == 0
    with pytest.raises(LedgerError, match="differs from the log origin"):
        log.sign_checkpoint(generate_signing_key("site-b"))
    storage = MemoryLogStorage()
    with pytest.raises(LedgerError, match="contiguous"):
        storage.append_entries(3, [b"{}"])


def test_directory_checkpoint_store_never_replaces_a_note(tmp_path: Path) -> None:
    store = DirectoryCheckpointStore(tmp_path / "cp")
    store.save_checkpoint(3, "note a\n")
    store.save_checkpoint(3, "note a\n")  # idempotent
    with pytest.raises(LedgerError, match="a different checkpoint for size 3"):
        store.save_checkpoint(3, "note b\n")
    store.save_checkpoint(10, "note c\n")
    assert store.load_checkpoints() == ["note a\n", "note c\n"]
    assert DirectoryCheckpointStore(tmp_path / "none").load_checkpoints() == []
