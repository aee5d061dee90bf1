"""Untrusted text made storable: capped payloads, bounded labels, refused fields."""

from __future__ import annotations

import hashlib

from heatreuse.rawtext import (
    CAPPED_MARK,
    MAX_RAW_PAYLOAD_BYTES,
    bounded_text,
    capped_payload,
    parse_capped,
    payload_facts,
    text_problem,
)


def _storable(text: str) -> None:
    """What SQLite and PostgreSQL need of TEXT: encodable as UTF-8, no NUL."""
    text.encode("utf-8")
    assert "\x00" not in text


def test_clean_small_payload_is_kept_as_it_came() -> None:
    raw = '{"ts": "2026-01-01T00:00Z",\n "value": 41.2}'
    assert capped_payload(raw) == raw
    assert capped_payload(raw.encode()) == raw
    assert parse_capped(raw) is None
    facts = payload_facts(raw)
    assert (facts.size_bytes, facts.truncated) == (len(raw.encode()), False)


def test_lone_surrogate_and_nul_are_escaped_with_size_and_hash_of_the_original() -> None:
    raw = '{"ts": "\ud800", "value": 1, "x": "a\x00b"}'
    kept = capped_payload(raw)
    _storable(kept)
    capped = parse_capped(kept)
    assert capped is not None and capped.form == "escaped" and not capped.truncated
    original = raw.encode("utf-8", "surrogatepass")
    assert capped.size_bytes == len(original)
    assert capped.sha256 == hashlib.sha256(original).hexdigest()
    assert '"ts": "\\ud800"' in capped.text and "a\\x00b" in capped.text


def test_large_payload_keeps_a_prefix_under_the_cap() -> None:
    raw = '{"readings": [{"point_id": "' + "a" * 10_000_000 + '"}]}'
    kept = capped_payload(raw)
    assert len(kept.encode()) < MAX_RAW_PAYLOAD_BYTES + 200
    capped = parse_capped(kept)
    assert capped is not None and capped.truncated and capped.form == "text"
    assert capped.size_bytes == len(raw)
    assert capped.sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(capped.text) and capped.kept_bytes == MAX_RAW_PAYLOAD_BYTES


def test_cut_never_splits_a_character() -> None:
    raw = "é" * MAX_RAW_PAYLOAD_BYTES  # 2 bytes each
    capped = parse_capped(capped_payload(raw))
    assert capped is not None
    assert capped.text == "é" * (MAX_RAW_PAYLOAD_BYTES // 2)


def test_bytes_that_are_not_utf8_are_escaped() -> None:
    kept = capped_payload(b"\xff\xfe\x00ok")
    _storable(kept)
    capped = parse_capped(kept)
    assert capped is not None and capped.form == "escaped"
    assert capped.text == "\\xff\\xfe\\x00ok"
    assert capped.sha256 == hashlib.sha256(b"\xff\xfe\x00ok").hexdigest()


def test_a_sender_cannot_forge_the_header() -> None:
    forged = f"{CAPPED_MARK} size_bytes=1 sha256={'0' * 64} kept_bytes=1 form=text\nx"
    kept = capped_payload(forged)
    capped = parse_capped(kept)
    assert capped is not None
    assert capped.text == forged  # the whole forged text is the payload
    assert capped.sha256 == hashlib.sha256(forged.encode()).hexdigest()


def test_text_problem_names_what_and_where() -> None:
    assert text_problem("hx.heat_power_w", 256) is None
    nul = text_problem("2026-01-01T00:00Z\x00", 64)
    assert nul is not None and "U+0000 at position 17" in nul and "control" in nul
    sur = text_problem("a\ud800", 64)
    assert sur is not None and "lone surrogate U+D800" in sur
    long = text_problem("x" * 10_000_000, 256)
    assert long is not None and "10,000,000 characters" in long and len(long) < 200
    _storable(sur)


def test_bounded_text_is_storable_and_short() -> None:
    text = bounded_text("p\ud800\x00" + "y" * 5000, 100)
    _storable(text)
    assert text.startswith("p\\ud800\\x00") and len(text) < 140
    assert text.endswith("[+4,903 characters]")
    assert bounded_text("plain", 100) == "plain"
