"""Export a ledger, mutate the export in every way, and check that verify names the problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from heatreuse.cli.main import run
from heatreuse.errors import LedgerError
from heatreuse.ledger.canonical import canonical_json_bytes
from heatreuse.ledger.checkpoint import sign_checkpoint, verify_checkpoint
from heatreuse.ledger.keys import SigningKey, generate_signing_key
from heatreuse.ledger.tlog import TransparencyLog
from heatreuse.ledger.verify import (
    ReportedTotal,
    TotalSpec,
    VerifyReport,
    compute_total,
    export_log,
    monthly_total_specs,
    verify_export,
)

ORIGIN = "heatreuse.example/site-a"
CHECKPOINT_SIZES = (16, 32, 64, 70)


def _entry(i: int) -> dict[str, Any]:
    if i % 10 == 9:
        return {"type": "method_version", "method": "avoided_co2", "version": f"1.{i}"}
    month = 1 if i < 35 else 2
    return {
        "type": "ledger_interval",
        "period_start": f"2026-{month:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        "heat_delivered_kwh": 10.25 + i * 0.5,
        "it_electricity_wh": 1000 + i,
        "estimated": i % 7 == 0,
    }


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return generate_signing_key(ORIGIN)


@pytest.fixture
def export(tmp_path: Path, signing_key: SigningKey) -> Path:
    log = TransparencyLog(ORIGIN)
    notes = []
    for i in range(max(CHECKPOINT_SIZES)):
        log.append(_entry(i))
        if log.size in CHECKPOINT_SIZES:
            notes.append(log.sign_checkpoint(signing_key))
    entries = log.entries()
    totals: list[TotalSpec | ReportedTotal] = [
        *monthly_total_specs(entries, "ledger_interval", "heat_delivered_kwh"),
        TotalSpec("ledger_interval", "it_electricity_wh", name="IT electricity, all"),
        TotalSpec(
            "ledger_interval",
            "heat_delivered_kwh",
            "period_start",
            "2026-01",
            where=(("estimated", False),),
            tree_size=32,
            name="metered heat January at checkpoint 32",
        ),
    ]
    return export_log(tmp_path / "export", entries, notes, signing_key.vkey(), totals)


def _lines(export: Path) -> list[bytes]:
    return (export / "entries.jsonl").read_bytes().split(b"\n")[:-1]


def _write_lines(export: Path, lines: list[bytes]) -> None:
    (export / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def _edit_entry(export: Path, index: int, **changes: Any) -> None:
    lines = _lines(export)
    entry = json.loads(lines[index])
    entry.update(changes)
    lines[index] = canonical_json_bytes(entry)  # a careful forger re-canonicalises
    _write_lines(export, lines)


def _failed(report: VerifyReport) -> str:
    assert not report.ok
    return "\n".join(str(p) for p in report.problems)


def _problems_for(report: VerifyReport, index: int) -> list[str]:
    return [str(p) for p in report.problems if p.entry_index == index]


# -- the untouched export -------------------------------------------------------------


def test_untouched_export_verifies(export: Path) -> None:
    report = verify_export(export)
    assert report.ok, report.problems
    assert report.entry_count == 70
    assert report.checkpoints_verified == CHECKPOINT_SIZES
    assert report.consistency_proofs_verified == 3
    assert report.totals_recomputed == report.totals_matched == 4
    assert report.inclusion_proofs_verified > 0
    assert report.leaf_hashes_used
    assert report.origin == ORIGIN


def test_export_layout(export: Path) -> None:
    names = sorted(p.name for p in export.iterdir())
    assert names == [
        "checkpoints",
        "entries.jsonl",
        "leaf_hashes.bin",
        "manifest.json",
        "public_key.vkey",
        "totals.json",
    ]
    assert sorted(p.name for p in (export / "checkpoints").iterdir()) == [
        f"{s}.txt" for s in sorted(CHECKPOINT_SIZES, key=str)
    ]
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["origin"] == ORIGIN
    assert manifest["checkpoint_sizes"] == list(CHECKPOINT_SIZES)
    lines = _lines(export)
    assert [json.loads(line)["index"] for line in lines] == list(range(70))
    totals = json.loads((export / "totals.json").read_text())["totals"]
    jan = next(t for t in totals if t["name"] == "heat_delivered_kwh 2026-01")
    expected = sum(10.25 + i * 0.5 for i in range(35) if i % 10 != 9)
    assert jan["value"] == pytest.approx(expected, rel=1e-12)
    assert jan["count"] == 32
    it_total = next(t for t in totals if t["name"] == "IT electricity, all")
    assert it_total["value"] == sum(1000 + i for i in range(70) if i % 10 != 9)


def test_cli_verify_ok(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["verify", str(export)]) == 0
    out = capsys.readouterr().out
    assert "verified" in out
    assert "4 of 4" in out
    assert run(["verify", str(export), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    assert doc["entry_count"] == 70


# -- entries ---------------------------------------------------------------------------


def test_edited_field_is_named(export: Path) -> None:
    _edit_entry(export, 40, heat_delivered_kwh=999.0)
    report = verify_export(export)
    text = _failed(report)
    assert any("entry 40 edited" in p for p in _problems_for(report, 40)), text
    assert "checkpoints/64.txt" in text  # first checkpoint that no longer matches
    assert "heat_delivered_kwh 2026-02" in text  # the total it feeds
    assert "flagged entries among them: [40]" in text
    assert "checkpoints/32.txt" not in text


def test_edited_field_without_leaf_hashes_is_bisected(export: Path) -> None:
    (export / "leaf_hashes.bin").unlink()
    _edit_entry(export, 40, heat_delivered_kwh=999.0)
    report = verify_export(export)
    text = _failed(report)
    assert not report.leaf_hashes_used
    assert "entries 0..31 match checkpoint 32" in text
    assert "first edited, deleted, inserted or reordered entry is in 32..63" in text


def test_edit_with_forged_leaf_hashes_falls_back_to_bisection(export: Path) -> None:
    _edit_entry(export, 5, it_electricity_wh=1)
    data = bytearray((export / "leaf_hashes.bin").read_bytes())
    data[5 * 32] ^= 0xFF
    (export / "leaf_hashes.bin").write_bytes(bytes(data))
    text = _failed(verify_export(export))
    assert "leaf_hashes.bin: does not reproduce the signed checkpoint roots" in text
    assert "no earlier checkpoint matches" in text
    assert "in 0..15" in text


def test_hand_edit_is_not_canonical(export: Path) -> None:
    lines = _lines(export)
    lines[41] = lines[41].replace(b'"type":', b'"type": ')
    _write_lines(export, lines)
    report = verify_export(export)
    assert any("RFC 8785 canonical" in p for p in _problems_for(report, 41)), _failed(report)


def test_deleted_line_is_named(export: Path) -> None:
    lines = _lines(export)
    del lines[17]
    _write_lines(export, lines)
    report = verify_export(export)
    text = _failed(report)
    assert "signed entry 17 is missing (deleted)" in text
    assert "lines 18..69: index 18..69, expected 17..68" in text
    assert "has 69 entries, the manifest says 70" in text


def test_deleted_line_without_leaf_hashes_is_named_by_index(export: Path) -> None:
    (export / "leaf_hashes.bin").unlink()
    lines = _lines(export)
    del lines[17]
    _write_lines(export, lines)
    report = verify_export(export)
    assert any("1 entry missing before line 18" in p for p in _problems_for(report, 17))


def test_swapped_lines_are_named(export: Path) -> None:
    lines = _lines(export)
    lines[20], lines[25] = lines[25], lines[20]
    _write_lines(export, lines)
    report = verify_export(export)
    text = _failed(report)
    assert "line 21: holds signed entry 25 out of order" in text
    assert "line 26: holds signed entry 20 out of order" in text
    assert "line 21: index 25, expected 20" in text
    assert "checkpoints/32.txt" in text and "checkpoints/16.txt" not in text


def test_inserted_line_is_named(export: Path) -> None:
    lines = _lines(export)
    forged = canonical_json_bytes({**json.loads(lines[10]), "heat_delivered_kwh": 50.0})
    lines.insert(10, forged)
    _write_lines(export, lines)
    report = verify_export(export)
    text = _failed(report)
    assert "entries.jsonl line 11: not an entry of the signed log (inserted)" in text
    assert "line inserted before line 12" in text


def test_appended_unsigned_entry_fails(export: Path) -> None:
    lines = _lines(export)
    lines.append(canonical_json_bytes({**_entry(70), "index": 70}))
    _write_lines(export, lines)
    text = _failed(verify_export(export))
    assert "entries.jsonl: entry 70 not covered by any signed checkpoint" in text


def test_truncated_entries_file_fails(export: Path) -> None:
    data = (export / "entries.jsonl").read_bytes()
    cut = data.index(b"\n", len(data) * 6 // 7) + 40  # inside a line near the end
    (export / "entries.jsonl").write_bytes(data[:cut])
    report = verify_export(export)
    text = _failed(report)
    assert "last line has no newline" in text
    assert "checkpoints/70.txt: covers entries 0..69 but entries.jsonl has only" in text
    assert "missing (deleted)" in text


def test_missing_entries_file_fails(export: Path) -> None:
    (export / "entries.jsonl").unlink()
    assert "entries.jsonl: missing" in _failed(verify_export(export))


# -- checkpoints and key ----------------------------------------------------------------


def test_edited_checkpoint_fails(export: Path) -> None:
    path = export / "checkpoints" / "32.txt"
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    lines[2] = ("B" if lines[2][0] != "B" else "C") + lines[2][1:]
    path.write_text("\n".join(lines), encoding="utf-8")
    out = _failed(verify_export(export))
    assert "checkpoints/32.txt: the Ed25519 signature" in out
    assert "does not verify" in out


def test_checkpoint_file_renamed_fails(export: Path) -> None:
    cp_dir = export / "checkpoints"
    shutil.move(cp_dir / "32.txt", cp_dir / "33.txt")
    out = _failed(verify_export(export))
    assert "signed tree size is 32, but the file name says 33" in out
    assert "manifest lists checkpoint sizes" in out


def test_deleted_checkpoint_file_fails(export: Path) -> None:
    (export / "checkpoints" / "64.txt").unlink()
    out = _failed(verify_export(export))
    assert "missing files for sizes [64]" in out


def test_replaced_key_fails_every_checkpoint(export: Path) -> None:
    impostor = generate_signing_key(ORIGIN)
    (export / "public_key.vkey").write_text(impostor.vkey() + "\n")
    report = verify_export(export)
    out = _failed(report)
    for size in CHECKPOINT_SIZES:
        assert f"checkpoints/{size}.txt: expected a signature by {ORIGIN}" in out
    assert report.checkpoints_verified == ()


def test_resigned_with_other_key_name_fails(export: Path, signing_key: SigningKey) -> None:
    other = generate_signing_key("evil.example/log")
    (export / "public_key.vkey").write_text(other.vkey() + "\n")
    for path in (export / "checkpoints").iterdir():
        cp = verify_checkpoint(path.read_text(), signing_key.verifier)
        path.write_text(sign_checkpoint(cp, other))
    out = _failed(verify_export(export))
    assert "key name 'evil.example/log' differs from the log origin" in out


def test_pinned_key_catches_a_wholesale_resigned_export(
    export: Path, signing_key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    # A forger who replaces the key AND re-signs every checkpoint passes a verifier
    # that trusts the folder's key; pinning the published key catches it.
    forger = SigningKey(name=ORIGIN, seed=bytes(range(32)))
    (export / "public_key.vkey").write_text(forger.vkey() + "\n")
    for path in (export / "checkpoints").iterdir():
        cp = verify_checkpoint(path.read_text(), signing_key.verifier)
        path.write_text(sign_checkpoint(cp, forger))
    assert verify_export(export).ok
    report = verify_export(export, expected_vkey=signing_key.vkey())
    out = _failed(report)
    assert "expected the pinned key" in out
    assert report.checkpoints_verified == ()
    assert run(["verify", str(export), "--vkey", signing_key.vkey()]) == 3
    assert "pinned key" in capsys.readouterr().out
    assert run(["verify", str(export), "--vkey", forger.vkey()]) == 0
    assert run(["verify", str(export), "--vkey", "garbage"]) == 2


def test_garbage_key_file_fails(export: Path) -> None:
    (export / "public_key.vkey").write_text("not a key\n")
    assert "public_key.vkey: expected '<name>+<8 hex digits>+<base64 key>'" in _failed(
        verify_export(export)
    )


# -- totals -----------------------------------------------------------------------------


def test_edited_total_value_fails(export: Path) -> None:
    path = export / "totals.json"
    doc = json.loads(path.read_text())
    doc["totals"][0]["value"] += 1.0
    path.write_text(json.dumps(doc))
    out = _failed(verify_export(export))
    assert "totals.json totals[0] (heat_delivered_kwh 2026-01): reported" in out


def test_edited_total_count_and_anchor_fail(export: Path) -> None:
    path = export / "totals.json"
    doc = json.loads(path.read_text())
    doc["totals"][2]["count"] -= 1
    doc["totals"][3]["tree_size"] = 33
    path.write_text(json.dumps(doc))
    out = _failed(verify_export(export))
    assert "totals[2] (IT electricity, all): reported" in out
    assert "tree_size 33 is not the size of a validly signed checkpoint" in out


def test_tiny_float_rounding_in_total_is_tolerated(export: Path) -> None:
    path = export / "totals.json"
    doc = json.loads(path.read_text())
    doc["totals"][0]["value"] *= 1 + 1e-12
    path.write_text(json.dumps(doc))
    assert verify_export(export).ok


def test_integer_total_is_exact(export: Path) -> None:
    path = export / "totals.json"
    doc = json.loads(path.read_text())
    doc["totals"][2]["value"] += 1
    path.write_text(json.dumps(doc))
    assert "IT electricity, all" in _failed(verify_export(export))


def test_missing_totals_file_fails(export: Path) -> None:
    (export / "totals.json").unlink()
    assert "totals.json: missing" in _failed(verify_export(export))


# -- CLI --------------------------------------------------------------------------------


def test_cli_verify_failure_exits_3(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit_entry(export, 3, heat_delivered_kwh=0.0)
    assert run(["verify", str(export)]) == 3
    captured = capsys.readouterr()
    assert "FAILED" in captured.out
    assert "entry 3 edited" in captured.out
    assert "failed verification" in captured.err
    assert run(["verify", str(export), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert any(p["entry_index"] == 3 for p in doc["problems"])


def test_cli_verify_missing_folder_exits_3(tmp_path: Path) -> None:
    assert run(["verify", str(tmp_path / "nope")]) == 3


# -- export refusals and totals semantics -------------------------------------------------


def test_export_refuses_inconsistent_inputs(tmp_path: Path, signing_key: SigningKey) -> None:
    log = TransparencyLog(ORIGIN)
    log.extend(_entry(i) for i in range(5))
    note = log.sign_checkpoint(signing_key)
    log.append(_entry(5))
    entries = log.entries()
    with pytest.raises(LedgerError, match="sign a checkpoint at the current size"):
        export_log(tmp_path / "a", entries, [note], signing_key.vkey())
    with pytest.raises(LedgerError, match="at least one signed checkpoint"):
        export_log(tmp_path / "b", entries, [], signing_key.vkey())
    forged = [dict(e) for e in entries[:5]]
    forged[2]["it_electricity_wh"] = 0
    with pytest.raises(LedgerError, match="signed root does not match"):
        export_log(tmp_path / "c", forged, [note], signing_key.vkey())
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "unrelated.txt").write_text("x")
    with pytest.raises(LedgerError, match="not empty"):
        export_log(tmp_path / "d", entries[:5], [note], signing_key.vkey())


def test_re_export_into_the_same_folder(export: Path, signing_key: SigningKey) -> None:
    entries = [json.loads(line) for line in _lines(export)]
    notes = [p.read_text() for p in sorted((export / "checkpoints").iterdir())]
    export_log(export, entries, notes, signing_key.vkey())
    assert verify_export(export).ok


def test_compute_total_semantics() -> None:
    entries: list[dict[str, Any] | None] = [
        {"type": "x", "k": "2026-01-01", "v": 1, "flag": False},
        {"type": "x", "k": "2026-01-02", "v": 2, "flag": True},
        {"type": "x", "k": "2026-02-01", "v": 4},
        {"type": "y", "k": "2026-01-01", "v": 8},
        None,
        {"type": "x", "k": "2026-01-03", "nested": {"v": 0.5}, "v": 16},
    ]
    assert compute_total(entries, TotalSpec("x", "v")) == (23, 4, [0, 1, 2, 5])
    jan = TotalSpec("x", "v", "k", "2026-01")
    assert compute_total(entries, jan) == (19, 3, [0, 1, 5])
    unflagged = TotalSpec("x", "v", "k", "2026-01", where=(("flag", False),))
    assert compute_total(entries, unflagged) == (1, 1, [0])
    nested = TotalSpec("x", "nested.v", tree_size=6, where=(("k", "2026-01-03"),))
    assert compute_total(entries, nested) == (0.5, 1, [5])
    with pytest.raises(LedgerError, match=r"entry 0: .*field missing"):
        compute_total(entries, TotalSpec("x", "nested.v"))
    with pytest.raises(LedgerError, match="exceeds"):
        compute_total(entries, TotalSpec("x", "v", tree_size=7))


# -- hostile folders: links, pipes, devices, sizes ------------------------------------------

_VERIFY_IN_A_BOX = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))  # 2 GiB: an unbounded read dies
from heatreuse.cli.main import run
sys.exit(run(["verify", sys.argv[1], "--json"]))
"""


def _verify_in_subprocess(export: Path) -> tuple[int, dict[str, Any]]:
    """Run `heatreuse verify --json` in a child with a memory cap and a hang guard."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _VERIFY_IN_A_BOX, str(export)],
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not a speed assertion
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def test_symlinks_to_dev_zero_are_refused(export: Path) -> None:
    members = ("entries.jsonl", "totals.json", "leaf_hashes.bin")
    for member in members:
        (export / member).unlink()
        (export / member).symlink_to("/dev/zero")
    code, doc = _verify_in_subprocess(export)
    assert code == 3
    for member in members:
        problems = [p for p in doc["problems"] if p["where"] == member]
        assert problems, member
        assert "is a symbolic link; expected a regular file" in problems[0]["message"]


def test_named_pipes_are_refused_not_waited_on(export: Path) -> None:
    import os

    (export / "manifest.json").unlink()
    os.mkfifo(export / "manifest.json")
    (export / "checkpoints" / "16.txt").unlink()
    os.mkfifo(export / "checkpoints" / "16.txt")
    code, doc = _verify_in_subprocess(export)
    assert code == 3
    text = "\n".join(f"{p['where']}: {p['message']}" for p in doc["problems"])
    assert "manifest.json: is a named pipe (FIFO); expected a regular file" in text
    assert "checkpoints/16.txt: is a named pipe (FIFO); expected a regular file" in text


def test_symlinked_checkpoint_folder_and_note_are_refused(export: Path, tmp_path: Path) -> None:
    note = export / "checkpoints" / "70.txt"
    elsewhere = tmp_path / "70.txt"
    elsewhere.write_bytes(note.read_bytes())
    note.unlink()
    note.symlink_to(elsewhere)
    text = _failed(verify_export(export))
    assert "checkpoints/70.txt: is a symbolic link" in text
    moved = tmp_path / "cps"
    shutil.move(export / "checkpoints", moved)
    (export / "checkpoints").symlink_to(moved)
    assert "checkpoints/: is a symbolic link; expected a folder" in _failed(verify_export(export))


def test_entries_larger_than_the_limit_are_refused_unread(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = (export / "entries.jsonl").stat().st_size
    report = verify_export(export, max_entries_bytes=size - 1)
    assert f"entries.jsonl: is {size} bytes, more than the limit of {size - 1} bytes" in _failed(
        report
    )
    assert report.entry_count == 0  # nothing of it was read
    assert verify_export(export, max_entries_bytes=size).ok
    assert run(["verify", str(export), "--max-entries-mb", "1"]) == 0


def test_cli_default_entries_cap_equals_the_verifiers() -> None:
    """verify's --max-entries-mb default (kept in the light CLI module) is the verifier's cap."""
    from heatreuse.cli.verify_cmds import MAX_ENTRIES_MB
    from heatreuse.ledger.verify import MAX_ENTRIES_BYTES

    assert MAX_ENTRIES_MB * 1024 * 1024 == MAX_ENTRIES_BYTES


def test_audit_entries_are_counted_and_must_say_who_what_when(
    tmp_path: Path, signing_key: SigningKey
) -> None:
    from heatreuse.ledger.build import audit_entry

    good = audit_entry(
        audit_id=1,
        site_id="site-a",
        at_us=1_767_225_600_000_001,
        actor="anna",
        action="alert.ack",
        target="alert 3",
        reason="pump reset",
        detail={"alert_id": 3},
    )
    assert good["at"] == "2026-01-01T00:00:00.000001Z"
    bad = {**good, "audit_id": 2}
    del bad["actor"]
    empty = {**good, "audit_id": 3, "action": ""}

    def export_of(entries: list[dict[str, Any]], name: str) -> VerifyReport:
        log = TransparencyLog(ORIGIN)
        log.extend(entries)
        note = log.sign_checkpoint(signing_key)
        out = export_log(tmp_path / name, log.entries(), [note], signing_key.vkey(), [])
        return verify_export(out)

    ok = export_of([_entry(0), good, _entry(1)], "ok")
    assert ok.ok and ok.entry_types == {"audit": 1, "ledger_interval": 2}
    assert ok.to_dict()["entry_types"] == {"audit": 1, "ledger_interval": 2}
    broken = export_of([good, bad, empty], "broken")
    assert [(p.where, p.entry_index) for p in broken.problems] == [
        ("entries.jsonl line 2", 1),
        ("entries.jsonl line 3", 2),
    ]
    assert "missing ['actor']" in broken.problems[0].message
    assert "empty ['action']" in broken.problems[1].message
