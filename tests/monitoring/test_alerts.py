"""Alert lifecycle (Prometheus alerting-rule semantics: for, keep_firing_for)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from heatreuse.monitoring.alerts import AlertState, AlertTracker, fingerprint

T0 = datetime(2026, 1, 14, 6, 0, tzinfo=UTC)
LABELS = {
    "site": "pool",
    "system": "plant",
    "equipment": "p-secondary",
    "rule": "low_delta_t",
    "severity": "warning",
}


def _run(seq: list[bool | None], for_s: float, keep_s: float = 0.0) -> list[tuple[int, str]]:
    tr = AlertTracker()
    out: list[tuple[int, str]] = []
    for i, cond in enumerate(seq):
        for t in tr.observe(
            LABELS, cond, T0 + timedelta(minutes=i), for_s=for_s, keep_firing_for_s=keep_s
        ):
            out.append((i, t.to_state.value if t.to_state else "dropped"))
    return out


def test_pending_then_firing_after_for() -> None:
    # for = 3 min: true at minutes 0..5 -> pending at 0, firing at 3, resolved at 6
    assert _run([True] * 6 + [False], for_s=180) == [(0, "pending"), (3, "firing"), (6, "resolved")]


def test_short_blip_never_fires() -> None:
    assert _run([True, True, False, False], for_s=180) == [(0, "pending"), (2, "dropped")]


def test_keep_firing_for_holds_through_a_gap() -> None:
    # fires at once; clears at 2, comes back at 3 (keep_firing_for 2 min bridges the gap);
    # clears again at 4 and resolves 2 min later, at 6 (Prometheus' KeepFiringSince)
    seq = [True, True, False, True, False, False, False]
    assert _run(seq, for_s=0, keep_s=120) == [(0, "pending"), (0, "firing"), (6, "resolved")]


def test_no_data_never_resolves_a_firing_alert() -> None:
    seq = [True, True, None, None, None, False]
    assert _run(seq, for_s=0) == [(0, "pending"), (0, "firing"), (5, "resolved")]


def test_identity_is_the_label_set() -> None:
    other = dict(LABELS, equipment="p-primary")
    assert fingerprint(LABELS) == fingerprint(dict(reversed(list(LABELS.items()))))
    assert fingerprint(LABELS) != fingerprint(other)
    tr = AlertTracker()
    tr.observe(LABELS, True, T0)
    tr.observe(other, True, T0)
    assert len(tr.active) == 2
    assert {a.state for a in tr.active} == {AlertState.FIRING}
