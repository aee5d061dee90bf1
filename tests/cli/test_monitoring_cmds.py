"""CLI of watch and respond, end to end: detect, alerts, ack, silences, incidents, actions,
and the audit trail through ``ledger update`` into an export that ``verify`` accepts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heatreuse.cli.main import run
from heatreuse.services.ingest import ingest_file
from heatreuse.services.twin import run_offline_twin
from heatreuse.simulation.scenarios import parse_scenarios
from heatreuse.site import load_site
from heatreuse.store import open_store

POOL = str(Path(__file__).resolve().parents[2] / "examples" / "pool.yaml")
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def twin_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One twin day in which the primary pump fails at 06:00 for 5 h."""
    out = tmp_path_factory.mktemp("twin") / "day.parquet"
    run_offline_twin(
        load_site(POOL),
        start="2026-01-14T00:00Z",
        end="2026-01-15T00:00Z",
        out=out,
        scenarios=parse_scenarios(["pump_failure@2026-01-14T06:00Z+5h"]),
    )
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    twin_day: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    schema = None
    if request.param == "sqlite":
        u = f"sqlite:///{tmp_path / 'cli.db'}"
    else:
        schema = "t_mon_cli_" + uuid.uuid4().hex[:12]
        u = f"{PG_URL}?schema={schema}"
    with open_store(u, create=True) as st:
        ingest_file(load_site(POOL), twin_day, st)
    try:
        yield u
    finally:
        if schema is not None:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    code = run(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> None:
    capsys.readouterr()
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


def test_detect_ack_silence_and_the_audit_reach_a_verified_export(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = ["--store", url]
    fired = _json(capsys, ["detect", POOL, *s, "--end", "2026-01-15T00:00Z", "--json"])
    assert isinstance(fired, list) and fired
    stop = next(a for a in fired if a["rule"] == "pump_stopped")
    assert set(stop) >= {"id", "rule", "state", "severity", "labels", "started_at", "resolved_at"}
    assert stop["labels"]["equipment"] == "pump.p-primary"
    assert stop["labels"]["point"] == "pump.p-primary.status"
    assert stop["severity"] == "critical" and stop["started_at"].startswith("2026-01-14T06:")
    # idempotent: nothing evaluated twice
    assert _json(capsys, ["detect", POOL, *s, "--end", "2026-01-15T00:00Z", "--json"]) == []

    every = _json(capsys, ["alerts", "list", POOL, *s, "--state", "all", "--json"])
    assert sorted(a["id"] for a in every) == sorted(a["id"] for a in fired)
    assert _json(capsys, ["alerts", "list", POOL, *s, "--json"]) == []  # none firing now
    resolved = _json(capsys, ["alerts", "list", POOL, *s, "--state", "resolved", "--json"])
    assert len(resolved) == len(every)
    _fails(capsys, ["alerts", "list", POOL, *s, "--state", "open"], "--state", "'open'")

    (acked,) = _json(
        capsys,
        [
            "alerts",
            "ack",
            POOL,
            str(stop["id"]),
            "--by",
            "omar",
            "--comment",
            "pump reset",
            *s,
            "--json",
        ],
    )
    assert acked["acked_by"] == "omar" and acked["ack_comment"] == "pump reset"
    _fails(capsys, ["alerts", "ack", POOL, "4242", "--by", "omar", *s], "alert 4242", "no such")
    _fails(capsys, ["alerts", "ack", POOL, str(stop["id"]), "--by", "anna", *s], "already")

    (sil,) = _json(
        capsys,
        [
            "silences",
            "add",
            POOL,
            "--match",
            "rule=spike",
            "--match",
            "equipment=~hx.*",
            "--duration",
            "2h",
            "--by",
            "anna",
            "--comment",
            "hx cleaning",
            *s,
            "--json",
        ],
    )
    assert sil["matchers"] == ["rule=spike", "equipment=~hx.*"] and sil["state"] == "active"
    _fails(
        capsys,
        [
            "silences",
            "add",
            POOL,
            "--match",
            "rule",
            "--duration",
            "2h",
            "--by",
            "anna",
            "--comment",
            "x",
            *s,
        ],
        "--match 'rule'",
    )
    _fails(
        capsys,
        [
            "silences",
            "add",
            POOL,
            "--match",
            "rule=spike",
            "--duration",
            "two hours",
            "--by",
            "anna",
            "--comment",
            "x",
            *s,
        ],
        "--duration",
        "'two hours'",
    )
    listed = _json(capsys, ["silences", "list", POOL, *s, "--json"])
    assert [x["id"] for x in listed] == [sil["id"]]
    (gone,) = _json(
        capsys,
        ["silences", "expire", POOL, sil["id"], "--by", "anna", "--comment", "done", *s, "--json"],
    )
    assert gone["state"] == "expired" and gone["expired_by"] == "anna"
    _fails(capsys, ["silences", "expire", POOL, "nope", "--by", "anna", *s], "silence 'nope'")

    (inc,) = _json(capsys, ["incidents", "list", POOL, *s, "--json"])
    assert inc["acked_by"] == "omar" and "pump_stopped" in inc["rules"]
    (shown,) = _json(capsys, ["incidents", "show", POOL, str(inc["id"]), *s, "--json"])
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds[0] == "fired" and "acked" in kinds and "resolved" in kinds
    assert shown["impact"]["bad_min"] > 0  # the pump failure took the supply out of band
    assert "out" in shown["postmortem"]["impact"]
    _fails(capsys, ["incidents", "show", POOL, "99", *s], "incident 99")
    assert _json(capsys, ["actions", "list", POOL, *s, "--json"]) == []

    # the three audited acts land in the signed ledger; verify accepts and counts them
    ledger = ["--checkpoints", str(tmp_path / "cp")]
    upd = _json(capsys, ["ledger", "update", POOL, *s, *ledger, "--json"])
    assert upd["audit"] == 3
    assert _json(capsys, ["ledger", "update", POOL, *s, *ledger, "--json"])["audit"] == 0
    export = tmp_path / "export"
    assert run(["ledger", "export", POOL, "--out", str(export), *s, *ledger]) == 0
    report = _json(capsys, ["verify", str(export), "--json"])
    assert report["ok"] is True and report["entry_types"]["audit"] == 3
    lines = (export / "entries.jsonl").read_text().splitlines()
    audit = [json.loads(x) for x in lines if json.loads(x)["type"] == "audit"]
    assert [(a["action"], a["actor"], a["reason"]) for a in audit] == [
        ("alert.ack", "omar", "pump reset"),
        ("silence.add", "anna", "hx cleaning"),
        ("silence.expire", "anna", "done"),
    ]


def test_read_commands_never_create_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none" / "missing.db"
    for argv in (
        ["alerts", "list", POOL],
        ["silences", "list", POOL],
        ["incidents", "list", POOL],
        ["incidents", "show", POOL, "1"],
        ["actions", "list", POOL],
        ["alerts", "ack", POOL, "1", "--by", "anna"],
    ):
        _fails(capsys, [*argv, "--store", f"sqlite:///{missing}"], "no heatreuse store")
    assert not missing.parent.exists()


def test_rules_list(capsys: pytest.CaptureFixture[str]) -> None:
    rules = _json(capsys, ["rules", "list", POOL, "--json"])
    by = {r["rule"]: r for r in rules}
    assert {"stuck_sensor", "stale_feed", "hx_fouling", "sla_burn_rate"} <= set(by)
    stuck = by["stuck_sensor"]
    assert stuck["enabled"] is True and stuck["severity"] == "warning"
    assert "max - min" in stuck["checks"]
    params = {p["name"]: p for p in stuck["parameters"]}
    assert params["min_spread_k"] == {"name": "min_spread_k", "value": 0.05, "unit": "K"}
    assert params["window_s"]["unit"] == "s"
    capsys.readouterr()
    assert run(["rules", "list", POOL]) == 0
    out = capsys.readouterr().out
    assert "stuck_sensor" in out and "min_spread_k" in out
