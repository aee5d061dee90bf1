"""``heatreuse changes``: the two-person rule end to end through the CLI against the live
twin's control port (loopback), its audit rows through ``ledger update`` into an export that
``verify`` accepts; break-glass; silences over 4 h and role grants become requests."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from heatreuse.cli.main import run
from heatreuse.services import people
from heatreuse.services.twin import LiveTwin, TwinControlServer
from heatreuse.site import load_site
from heatreuse.store import open_store

POOL = str(Path(__file__).resolve().parents[2] / "examples" / "pool.yaml")
PW = "a long enough password\n"


def _ok(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    capsys.readouterr()
    got = run(argv)
    out = capsys.readouterr()
    assert got == code, out.err
    return out.out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    return json.loads(_ok(capsys, argv))


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> None:
    capsys.readouterr()
    assert run(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'changes.db'}"
    site = load_site(POOL)
    users = {"root": "admin", "root2": "admin", "anna": "facilities", "kai": "facilities"}
    users |= {"omar": "operator", "op2": "operator", "sec": "security"}
    for name, role in users.items():
        monkeypatch.setattr("sys.stdin", io.StringIO(PW))
        if role != "admin":  # the crew: directly (the CLI would file role grant requests)
            with open_store(url) as s:
                people.add_user(s, name, PW.strip(), role, site.id, by="root")
            continue
        _ok(
            capsys,
            [
                *("users", "add", name, "--role", role, "--site", site.id),
                *("--password-stdin", "--by", "root", "--store", url),
            ],
        )
    clock = pd.Timestamp("2026-10-05T12:00Z").timestamp()
    twin = LiveTwin(site, speed=3600, step_s=60, start="2026-10-05T06:00Z", clock=lambda: clock)
    control = TwinControlServer(twin, "127.0.0.1", 0, token_file=tmp_path / "twin.token")
    control.start()
    try:
        yield {
            "url": url,
            "site": site,
            "twin": twin,
            "twin_args": [
                *("--twin", f"127.0.0.1:{control.address[1]}"),
                *("--twin-token-file", str(tmp_path / "twin.token")),
            ],
            "tmp": tmp_path,
        }
    finally:
        control.close()


def test_request_approve_write_read_back_audit_and_verify(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    s = ["--store", env["url"]]
    twin: LiveTwin = env["twin"]
    # out of bounds: the field and the bounds are named, nothing recorded
    _fails(
        capsys,
        [
            *("changes", "request", POOL, "--kind", "setpoint", "--target", "supply_setpoint_c"),
            *("--value", "55", "--reason", "warmer", "--by", "anna", *s),
        ],
        "customer.supply_band",
        "at most 50",
    )
    req = _json(
        capsys,
        [
            *("changes", "request", POOL, "--kind", "setpoint", "--target", "supply_setpoint_c"),
            *("--value", "47", "--reason", "pool too cold", "--by", "anna", "--json", *s),
        ],
    )
    assert req["state"] == "requested" and req["command"]["value"] == 47.0
    assert req["address"].startswith("cli ")
    text = _ok(capsys, ["changes", "show", POOL, req["id"], *s])
    assert req["request_hash"] in text and "changes approve" in text
    approve = ["changes", "approve", POOL, req["id"], "--hash", req["request_hash"]]
    _fails(capsys, [*approve, "--by", "anna", *env["twin_args"], *s], "two-person rule")
    _fails(capsys, [*approve, "--by", "omar", *env["twin_args"], *s], "setpoint.approve")
    _fails(
        capsys,
        ["changes", "approve", POOL, req["id"], "--hash", "0" * 64, "--by", "kai", *s],
        "is not the hash",
    )
    assert twin.read_controls()["supply_setpoint_c"] == 32.0
    done = _json(capsys, [*approve, "--by", "kai", *env["twin_args"], "--json", *s])
    assert done["state"] == "executed"
    assert done["result"]["written"] == 47.0 and done["result"]["read_back"] == 47.0
    assert twin.read_controls()["supply_setpoint_c"] == 47.0
    listed = _json(capsys, ["changes", "list", POOL, "--state", "executed", "--json", *s])
    assert [c["id"] for c in listed] == [req["id"]]

    audit = _json(capsys, ["audit", "list", POOL, "--json", *s])
    steps = [(a["action"], a["actor"]) for a in audit if a["action"].startswith("change.")]
    assert steps == [
        ("change.request", "anna"),
        ("change.approve", "kai"),
        ("change.execute", "kai"),
    ]
    assert audit[-1]["detail"]["result"]["read_back"] == 47.0
    assert audit[-1]["detail"]["request_hash"] == req["request_hash"]

    ledger = ["--checkpoints", str(env["tmp"] / "cp")]
    upd = _json(capsys, ["ledger", "update", POOL, *s, *ledger, "--json"])
    assert upd["audit"] == len(audit)
    export = env["tmp"] / "export"
    assert run(["ledger", "export", POOL, "--out", str(export), *s, *ledger]) == 0
    report = _json(capsys, ["verify", str(export), "--json"])
    assert report["ok"] is True and report["entry_types"]["audit"] == len(audit)
    entries = [json.loads(x) for x in (export / "entries.jsonl").read_text().splitlines()]
    executed = [e for e in entries if e.get("action") == "change.execute"]
    assert len(executed) == 1 and executed[0]["detail"]["result"]["read_back"] == 47.0


def test_break_glass_flagged_until_reviewed(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    s = ["--store", env["url"]]
    cmd = [
        *("changes", "request", POOL, "--kind", "pump_mode", "--target", "pump.p-primary.mode"),
        *("--value", "on", "--reason", "pump controller hung", "--break-glass"),
    ]
    _fails(capsys, [*cmd, "--by", "kai", *env["twin_args"], *s], "automation_override")
    _fails(capsys, [*cmd, "--by", "omar", *s], "expected --twin")
    o = _json(capsys, [*cmd, "--by", "omar", *env["twin_args"], "--json", *s])
    assert o["state"] == "overridden" and o["flagged_for_review"] is True
    assert env["twin"].read_controls()["pump.p-primary.mode"] == "on"
    flagged = _json(capsys, ["changes", "list", POOL, "--flagged", "--json", *s])
    assert [c["id"] for c in flagged] == [o["id"]]
    _fails(
        capsys,
        ["changes", "review", POOL, o["id"], "--note", "ok", "--by", "omar", *s],
        "made the override",
    )
    _ok(capsys, ["changes", "review", POOL, o["id"], "--note", "justified", "--by", "sec", *s])
    assert _json(capsys, ["changes", "list", POOL, "--flagged", "--json", *s]) == []
    # `changes override` is the same
    o2 = _json(
        capsys,
        [
            *("changes", "override", POOL, "--kind", "reject_override"),
            *("--target", "heat_reject_override", "--value", "off", "--reason", "dry cooler fan"),
            *("--by", "anna", *env["twin_args"], "--json", *s),
        ],
    )
    assert (
        o2["state"] == "overridden" and env["twin"].read_controls()["heat_reject_override"] == "off"
    )


def test_long_silence_and_role_grant_become_requests(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    s = ["--store", env["url"]]
    site_id = env["site"].id
    add = [
        *("silences", "add", POOL, "--match", "rule=stale_feed", "--comment", "meter swap"),
        *("--by", "omar", *s),
    ]
    # up to 4 h: at once
    short = _json(capsys, [*add, "--duration", "4h", "--json"])
    assert short[0]["state"] == "active"
    out = _ok(capsys, [*add, "--duration", "6h"])
    assert "change request cr-" in out and "nothing is muted yet" in out
    [req] = _json(capsys, ["changes", "list", POOL, "--state", "requested", "--json", *s])
    assert req["kind"] == "silence" and req["command"]["value"]["duration_s"] == 6 * 3600
    assert len(_json(capsys, ["silences", "list", POOL, "--json", *s])) == 1
    done = _json(
        capsys,
        [
            *("changes", "approve", POOL, req["id"], "--hash", req["request_hash"]),
            *("--by", "op2", "--json", *s),
        ],
    )
    assert done["state"] == "executed"
    silences = _json(capsys, ["silences", "list", POOL, "--json", *s])
    assert len(silences) == 2 and done["result"]["silence_id"] in {x["id"] for x in silences}

    out = _ok(
        capsys,
        [
            *("users", "grant", "omar", "--role", "auditor", "--site", site_id),
            *("--reason", "audit season", "--by", "root", *s),
        ],
    )
    assert "not granted yet" in out
    users = {u["name"]: u["roles"] for u in _json(capsys, ["users", "list", "--json", *s])}
    assert users["omar"] == [f"operator@{site_id}"]
    [g] = _json(capsys, ["changes", "list", site_id, "--state", "requested", "--json", *s])
    approve = ["changes", "approve", site_id, g["id"], "--hash", g["request_hash"]]
    _fails(capsys, [*approve, "--by", "root", *s], "two-person rule")
    _fails(capsys, [*approve, "--by", "anna", *s], "users.manage")
    _ok(capsys, [*approve, "--by", "root2", *s])
    users = {u["name"]: u["roles"] for u in _json(capsys, ["users", "list", "--json", *s])}
    assert sorted(users["omar"]) == [f"auditor@{site_id}", f"operator@{site_id}"]
    _fails(
        capsys,
        [
            "users",
            "grant",
            "nobody",
            "--role",
            "viewer",
            "--site",
            site_id,
            "--reason",
            "x",
            "--by",
            "root",
            *s,
        ],
        "no such user",
    )
    st = open_store(env["url"])
    try:
        actions = [r.action for r in st.list_audit(site_id)]
    finally:
        st.close()
    assert actions.count("role.grant") == 7 + 1  # users add x7, then the approved grant


def test_commission_functional_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import threading

    from heatreuse.services.twin import run_offline_twin

    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    s = ["--store", f"sqlite:///{tmp_path / 'c.db'}"]
    site = load_site(POOL)
    for name in ("anna", "kai"):
        monkeypatch.setattr("sys.stdin", io.StringIO(PW))
        _ok(
            capsys,
            [
                "users",
                "add",
                name,
                "--role",
                "facilities",
                "--site",
                site.id,
                "--password-stdin",
                *s,
            ],
        )
    now = pd.Timestamp.now(tz="UTC").floor("h")
    data = tmp_path / "day.parquet"
    run_offline_twin(site, start=now - pd.Timedelta(days=1), end=now, out=data)
    _ok(capsys, ["ingest", POOL, str(data), "-q", *s])
    live = LiveTwin(site, speed=600, step_s=60)
    control = TwinControlServer(live, "127.0.0.1", 0, token_file=tmp_path / "t.token")
    live.sinks.append(control)
    live.start_sinks()
    thread = threading.Thread(target=live.run, kwargs={"tick_s": 0.05}, daemon=True)
    thread.start()
    twin = [
        *("--twin", f"127.0.0.1:{control.address[1]}"),
        *("--twin-token-file", str(tmp_path / "t.token")),
    ]
    commission = ["commission", POOL, "--functional", "--no-record", "--json", *s]
    try:
        items = {i["item"]: i for i in _json(capsys, [*commission, *twin, "--by", "anna"])}
        assert items["functional_reject_path"]["status"] == "skipped"
        assert "requested as change" in items["functional_reject_path"]["evidence"]
        reqs = _json(capsys, ["changes", "list", POOL, "--state", "requested", "--json", *s])
        assert sorted(c["target"] for c in reqs) == ["backup_takeover", "reject_path"]
        for c in reqs:
            done = _json(
                capsys,
                [
                    *("changes", "approve", POOL, c["id"], "--hash", c["request_hash"]),
                    *("--by", "kai", *twin, "--json", *s),
                ],
            )
            assert done["state"] == "executed"
    finally:
        live.stop()
        thread.join(10)
    items = {i["item"]: i for i in _json(capsys, [*commission])}
    for name in ("functional_reject_path", "functional_backup_takeover"):
        assert items[name]["status"] == "pass", items[name]
        assert "approved by kai" in items[name]["evidence"]
