"""The quarantine table under hostile input: always storable, capped, read in pages."""

from __future__ import annotations

import tracemalloc

from heatreuse.rawtext import MAX_RAW_PAYLOAD_BYTES, parse_capped
from heatreuse.store import QuarantineRecord, Store
from heatreuse.store.base import QUARANTINE_READ_CHARS


def _rec(raw: str | bytes, **kw: object) -> QuarantineRecord:
    fields: dict[str, object] = {
        "site_id": "s",
        "source": "mqtt:x",
        "reason": "unparseable",
        "raw_payload": raw,
        "detail": "d",
    }
    fields.update(kw)
    return QuarantineRecord(**fields)  # type: ignore[arg-type]


def test_surrogates_nul_and_bytes_are_stored_never_raised(store: Store) -> None:
    store.write_quarantine(
        [
            _rec('{"ts": "\ud800", "value": 1}'),
            _rec("a\x00b", point_id="p\ud800\x00", source="mqtt:\ud800", detail="got \x00"),
            _rec(b"\xff\xfe\x00"),
        ]
    )
    rows = store.list_quarantine("s")
    assert len(rows) == 3
    by_raw = {r.id: r for r in rows}
    texts = sorted(str(r.raw_payload) for r in by_raw.values())
    assert any("\\xff\\xfe\\x00" in t for t in texts)
    assert any('"ts": "\\ud800"' in t for t in texts)
    nul = next(r for r in rows if "a\\x00b" in str(r.raw_payload))
    assert nul.point_id == "p\\ud800\\x00" and nul.source == "mqtt:\\ud800"
    assert nul.detail == "got \\x00"


def test_a_10_mb_payload_is_kept_as_a_capped_row(store: Store) -> None:
    raw = '{"readings": [{"point_id": "' + "p" * 10_000_000 + '", "ts": 1, "value": 1}]}'
    store.write_quarantine([_rec(raw, point_id="p" * 10_000_000)])
    with store.transaction(write=False) as tx:
        size = tx.execute("SELECT length(raw_payload), length(point_id) FROM quarantine")[0]
    assert size[0] < MAX_RAW_PAYLOAD_BYTES + 200 and size[1] < 300
    (row,) = store.list_quarantine("s")
    capped = parse_capped(str(row.raw_payload))
    assert capped is not None and capped.truncated and capped.size_bytes == len(raw)


def test_iter_quarantine_pages_by_key_and_offset(store: Store) -> None:
    store.write_quarantine(
        [_rec(f"r{k}", received_at_us=1_000_000 + k // 3, reason="out_of_range") for k in range(25)]
    )
    store.write_quarantine([_rec("other", received_at_us=5, reason="unknown_point")])
    every = [r.raw_payload for r in store.iter_quarantine("s", page_rows=4)]
    assert len(every) == 26 and every[-1] == "other"
    # newest first: by received time, then id (rows of one time in reverse insertion order)
    assert every[:4] == ["r24", "r23", "r22", "r21"]
    page = [r.raw_payload for r in store.iter_quarantine("s", limit=5, offset=10, page_rows=2)]
    assert page == every[10:15]
    only = list(store.iter_quarantine("s", reason="unknown_point"))
    assert [r.raw_payload for r in only] == ["other"]
    assert list(store.iter_quarantine("s", limit=0)) == []


def test_rows_written_before_capping_are_read_back_cut(store: Store) -> None:
    huge = "x" * 5_000_000
    with store.transaction() as tx:  # as an older heatreuse stored it: uncapped
        tx.execute(
            "INSERT INTO quarantine (received_at_us, site_id, source, point_id, ts_us, "
            "raw_payload, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (1, "s", "http:x", huge, None, huge, "unknown_point", huge),
        )
    (row,) = store.iter_quarantine("s")
    assert len(str(row.raw_payload)) == QUARANTINE_READ_CHARS
    assert row.stored_chars == 5_000_000
    assert len(row.detail) == QUARANTINE_READ_CHARS and len(row.point_id or "") <= (
        QUARANTINE_READ_CHARS
    )


def test_streaming_many_rows_keeps_memory_bounded(store: Store) -> None:
    n = 1500
    blob = "z" * 3500
    for start in range(0, n, 500):
        store.write_quarantine([_rec(f"{k}:{blob}") for k in range(start, start + 500)])
    tracemalloc.start()
    try:
        count = 0
        for _ in store.iter_quarantine("s", page_rows=100):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    # all rows hold ~5 MB of text; one page of 100 rows is ~0.4 MB
    assert peak < 2_500_000, peak
