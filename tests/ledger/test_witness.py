"""Witness cosignatures (C2SP tlog-cosignature/v1) and `verify --witness`: rollbacks and forks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from heatreuse.cli.main import run
from heatreuse.errors import LedgerError, VerificationError
from heatreuse.ledger.checkpoint import parse_note, sign_checkpoint, verify_checkpoint
from heatreuse.ledger.cosignature import add_cosignature, find_cosignatures
from heatreuse.ledger.keys import (
    SIGNATURE_TYPE_COSIGNATURE,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    parse_cosigner_vkey,
    save_signing_key,
)
from heatreuse.ledger.tlog import TransparencyLog
from heatreuse.ledger.verify import export_log, verify_export
from heatreuse.ledger.witness import cosign_export, init_witness, load_record

ORIGIN = "heatreuse.example/site-a"
WITNESS = "witness.customer.example/pool"
T0 = dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC)


def _entry(i: int, heat_kwh: float = 40.0) -> dict[str, Any]:
    return {"type": "ledger_interval", "hour": i, "heat_delivered_kwh": heat_kwh}


@pytest.fixture(scope="module")
def log_key() -> SigningKey:
    return generate_signing_key(ORIGIN)


def _export(
    path: Path, key: SigningKey, n: int, sizes: tuple[int, ...], forged_from: int | None = None
) -> Path:
    """Export a log of ``n`` entries with checkpoints at ``sizes`` (and n).

    From ``forged_from`` on, entries carry doubled heat: the same key signs a fork.
    """
    log = TransparencyLog(ORIGIN)
    notes = []
    for i in range(n):
        doubled = forged_from is not None and i >= forged_from
        log.append(_entry(i, 80.0 if doubled else 40.0))
        if log.size in sizes or log.size == n:
            notes.append(log.sign_checkpoint(key))
    return export_log(path, log.entries(), notes, key.vkey())


@pytest.fixture
def witness(tmp_path: Path) -> tuple[SigningKey, Path]:
    state = tmp_path / "witness"
    return init_witness(WITNESS, state), state


# -- the cosignature format ---------------------------------------------------------------


def test_cosignature_line_is_c2sp_tlog_cosignature_v1(log_key: SigningKey) -> None:
    """Rebuild the line by hand from the spec text and check it byte by byte."""
    key = generate_signing_key(WITNESS, SIGNATURE_TYPE_COSIGNATURE)
    log = TransparencyLog(ORIGIN)
    log.extend(_entry(i) for i in range(3))
    note = log.sign_checkpoint(log_key)
    body, _ = parse_note(note)
    cosigned, line = add_cosignature(note, key, 1679315147)
    assert cosigned == note + line
    name, blob_b64 = line.removeprefix("\u2014 ").rstrip("\n").split(" ")
    assert name == WITNESS
    blob = base64.b64decode(blob_b64)
    assert len(blob) == 4 + 8 + 64
    key_id = hashlib.sha256(WITNESS.encode() + b"\n" + b"\x04" + key.public_key).digest()[:4]
    assert blob[:4] == key_id
    assert int.from_bytes(blob[4:12], "big") == 1679315147
    message = b"cosignature/v1\ntime 1679315147\n" + body.encode()
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(blob[12:], message)  # raises if bad
    # the vkey carries type 0x04 and the log's note verification ignores the line
    vkey = key.vkey()
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert parse_cosigner_vkey(vkey) == key.verifier
    assert verify_checkpoint(cosigned, log_key.verifier).size == 3
    (found,) = find_cosignatures(cosigned, key.verifier)
    assert found.valid and found.timestamp_s == 1679315147
    # cosigning again replaces this witness's earlier line, keeps the log's
    again, _ = add_cosignature(cosigned, key, 1679315200)
    assert again.count("\u2014 ") == 2
    assert [c.timestamp_s for c in find_cosignatures(again, key.verifier)] == [1679315200]


def test_a_log_key_cannot_be_a_witness_key(log_key: SigningKey) -> None:
    with pytest.raises(LedgerError, match=r"expected type 0x04 \(Ed25519 cosignature\)"):
        parse_cosigner_vkey(log_key.vkey())
    key = generate_signing_key(WITNESS, SIGNATURE_TYPE_COSIGNATURE)
    with pytest.raises(VerificationError, match="cannot sign notes as a log"):
        TransparencyLog(WITNESS).sign_checkpoint(key)


# -- witness init ---------------------------------------------------------------------------


def test_witness_init_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "w"
    assert run(["witness", "init", "--name", WITNESS, "--out", str(state)]) == 0
    out = capsys.readouterr().out
    vkey = (state / "witness.vkey").read_text().strip()
    assert vkey in out
    assert parse_cosigner_vkey(vkey).name == WITNESS
    assert stat.S_IMODE((state / "witness.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert load_signing_key(state / "witness.key").vkey() == vkey
    # never replaces a witness key that verifiers already trust
    assert run(["witness", "init", "--name", WITNESS, "--out", str(state)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert run(["witness", "init", "--name", "has space", "--out", str(tmp_path / "x")]) == 2


# -- cosign and verify ------------------------------------------------------------------------


def test_cosigned_export_verifies_with_the_witness(
    tmp_path: Path,
    log_key: SigningKey,
    witness: tuple[SigningKey, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    wkey, state = witness
    export = _export(tmp_path / "x1", log_key, 20, (8,))
    # before the witness has seen it: verify --witness fails, plain verify passes
    assert verify_export(export).ok
    unwitnessed = verify_export(export, witnesses=[wkey.vkey()], now=T0)
    assert not unwitnessed.ok
    assert "carries no valid cosignature by witness" in str(unwitnessed.problems[0])

    result = cosign_export(export, state, now=T0)
    assert result.first_seen and result.size == 20 and result.previous_size is None
    report = verify_export(export, witnesses=[wkey.vkey()], now=T0)
    assert report.ok, report.problems
    (seen,) = report.witnessed
    assert (seen.witness, seen.size, seen.cosigned_at_iso()) == (
        WITNESS,
        20,
        "2026-02-01T08:00:00Z",
    )
    record = load_record(state, ORIGIN)
    assert record is not None and record.size == 20 and record.log_vkey == log_key.vkey()
    assert stat.S_IMODE((state / "logs").stat().st_mode) == 0o700

    # the log grows: the witness checks consistency from 20 and cosigns 31
    grown = _export(tmp_path / "x2", log_key, 31, (8, 20))
    nxt = cosign_export(grown, state, now=T0 + dt.timedelta(days=30))
    assert (nxt.previous_size, nxt.size, nxt.first_seen) == (20, 31, False)
    assert verify_export(grown, witnesses=[wkey.vkey()], now=T0 + dt.timedelta(days=30)).ok

    # the CLI an auditor runs
    assert run(["verify", str(grown), "--witness", wkey.vkey()]) == 0
    out = capsys.readouterr().out
    assert "size 31 by witness.customer.example/pool" in out
    assert run(["verify", str(grown)]) == 0
    assert "not checked (no --witness)" in capsys.readouterr().out
    assert run(["verify", str(grown), "--witness", log_key.vkey()]) == 2  # not a witness key


def test_re_export_keeps_the_cosignature(
    tmp_path: Path, log_key: SigningKey, witness: tuple[SigningKey, Path]
) -> None:
    wkey, state = witness
    export = _export(tmp_path / "x", log_key, 12, (5,))
    cosign_export(export, state, now=T0)
    entries = [json.loads(line) for line in (export / "entries.jsonl").read_text().splitlines()]
    log = TransparencyLog(ORIGIN)
    log.extend({k: v for k, v in e.items() if k != "index"} for e in entries)
    notes = [sign_checkpoint(log.checkpoint(size), log_key) for size in (5, 12)]
    export_log(export, entries, notes, log_key.vkey())  # the operator's monthly re-export
    assert verify_export(export, witnesses=[wkey.vkey()], now=T0).ok


def test_witness_refuses_a_rollback(
    tmp_path: Path,
    log_key: SigningKey,
    witness: tuple[SigningKey, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, state = witness
    cosign_export(_export(tmp_path / "full", log_key, 30, (10,)), state, now=T0)
    rolled_back = _export(tmp_path / "old", log_key, 25, (10,))
    assert verify_export(rolled_back).ok  # a shorter log is consistent in itself
    with pytest.raises(VerificationError, match="rollback: the newest checkpoint has size 25"):
        cosign_export(rolled_back, state, now=T0 + dt.timedelta(hours=1))
    record = load_record(state, ORIGIN)
    assert record is not None and record.size == 30  # state unchanged
    (kept,) = (state / "refused").iterdir()
    assert verify_checkpoint(kept.read_text(), log_key.verifier).size == 25  # evidence
    assert run(["witness", "cosign", str(rolled_back), "--state", str(state)]) == 3
    assert "rollback" in capsys.readouterr().err


def test_witness_refuses_a_fork(
    tmp_path: Path, log_key: SigningKey, witness: tuple[SigningKey, Path]
) -> None:
    wkey, state = witness
    cosign_export(_export(tmp_path / "honest", log_key, 30, (10,)), state, now=T0)
    # the operator rolls back to 10 and rebuilds 10.. with doubled heat, signing again
    bigger_fork = _export(tmp_path / "fork1", log_key, 34, (10,), forged_from=10)
    assert verify_export(bigger_fork).ok  # consistent rollback: verifies without a witness
    with pytest.raises(VerificationError, match="fork: no consistency proof leads from"):
        cosign_export(bigger_fork, state, now=T0)
    same_size_fork = _export(tmp_path / "fork2", log_key, 30, (10,), forged_from=29)
    with pytest.raises(VerificationError, match="fork: same size as"):
        cosign_export(same_size_fork, state, now=T0)
    # and nobody else accepts the fork either
    report = verify_export(bigger_fork, witnesses=[wkey.vkey()], now=T0)
    assert not report.ok
    assert "checkpoints/34.txt: the newest checkpoint (size 34) carries no valid" in str(
        report.problems[0]
    )
    assert run(["verify", str(bigger_fork), "--witness", wkey.vkey()]) == 3


def test_copied_or_future_cosignatures_fail(
    tmp_path: Path, log_key: SigningKey, witness: tuple[SigningKey, Path]
) -> None:
    wkey, state = witness
    honest = _export(tmp_path / "h", log_key, 30, (10,))
    cosign_export(honest, state, now=T0)
    line = (honest / "checkpoints" / "30.txt").read_text().splitlines()[-1]
    fork = _export(tmp_path / "f", log_key, 30, (10,), forged_from=20)
    path = fork / "checkpoints" / "30.txt"
    path.write_text(path.read_text() + line + "\n")  # paste the honest cosignature
    report = verify_export(fork, witnesses=[wkey.vkey()], now=T0)
    text = " ".join(str(p) for p in report.problems)
    assert "cosignature by witness witness.customer.example/pool" in text
    assert "does not verify" in text and "carries no valid cosignature" in text

    late = _export(tmp_path / "late", log_key, 31, (10, 30))
    cosign_export(late, state, now=T0 + dt.timedelta(days=1))
    report = verify_export(late, witnesses=[wkey.vkey()], now=T0)  # the verifier's clock
    assert any("later than now" in str(p) for p in report.problems)


def test_witness_pins_the_log_key(
    tmp_path: Path, log_key: SigningKey, witness: tuple[SigningKey, Path]
) -> None:
    _, state = witness
    cosign_export(_export(tmp_path / "a", log_key, 12, ()), state, now=T0)
    impostor = generate_signing_key(ORIGIN)  # same origin, another key: a whole new log
    other = _export(tmp_path / "b", impostor, 40, ())
    with pytest.raises(VerificationError, match="does not verify with the log key"):
        cosign_export(other, state, now=T0)
    with pytest.raises(LedgerError, match="differs from the key this witness pinned"):
        cosign_export(other, state, log_vkey=impostor.vkey(), now=T0)


def test_witness_usage_errors_exit_2(tmp_path: Path, log_key: SigningKey) -> None:
    export = _export(tmp_path / "x", log_key, 5, ())
    assert run(["witness", "cosign", str(export), "--state", str(tmp_path / "none")]) == 2
    log_key_dir = tmp_path / "logkey"
    log_key_dir.mkdir()
    save_signing_key(log_key, log_key_dir / "witness.key")
    with pytest.raises(LedgerError, match="expected a witness"):
        cosign_export(export, log_key_dir, now=T0)
    assert run(["witness", "cosign", str(tmp_path / "nope"), "--state", str(log_key_dir)]) == 2
