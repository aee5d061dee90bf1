"""``heatreuse mqtt credentials``: Mosquitto password file, ACL and credentials files.

The hash format is checked two ways: recomputed here with hashlib from the file's own
fields, and against a hash written by Mosquitto's own ``mosquitto_passwd``. That a real
Mosquitto accepts the files is shown in ``test_mqtt_security.py``.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from heatreuse.cli.main import run
from heatreuse.errors import HeatreuseError
from heatreuse.services.mqtt_access import (
    mosquitto_hash,
    mosquitto_hash_matches,
    write_credentials,
)
from heatreuse.site import load_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POOL = EXAMPLES / "pool.yaml"
GREENHOUSE = EXAMPLES / "greenhouse.yaml"


def _passwd(path: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in path.read_text().splitlines() if line)


def _cred(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_hash_is_mosquittos_pbkdf2_sha512_format() -> None:
    text = mosquitto_hash("correct horse", salt=b"0123456789ab", iterations=101)
    empty, kind, iterations, salt64, hash64 = text.split("$")
    assert (empty, kind, iterations) == ("", "7", "101")
    salt = base64.b64decode(salt64)
    assert salt == b"0123456789ab"
    assert base64.b64decode(hash64) == hashlib.pbkdf2_hmac(
        "sha512", b"correct horse", salt, 101, 64
    )
    random_salt = mosquitto_hash("x").split("$")
    assert len(base64.b64decode(random_salt[3])) == 12 and random_salt[2] == "1000"
    assert mosquitto_hash_matches(text, "correct horse")
    assert not mosquitto_hash_matches(text, "correct horse ")
    assert not mosquitto_hash_matches("$6$abc$def", "correct horse")


def test_hash_check_agrees_with_mosquitto_passwd(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    pw = tmp_path / "pw"
    subprocess.run([tool, "-c", "-b", str(pw), "alice", "s3cr3t-Pa55"], check=True, timeout=10)
    theirs = _passwd(pw)["alice"]
    assert theirs.startswith("$7$")
    assert mosquitto_hash_matches(theirs, "s3cr3t-Pa55")
    assert not mosquitto_hash_matches(theirs, "s3cr3t-Pa56")


def test_credentials_files_acl_and_modes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broker"
    args = ["mqtt", "credentials", str(POOL), "--out", str(out), "--edge", "gw1", "--edge", "gw2"]
    code = run(args)
    assert code == 0
    printed = capsys.readouterr().out
    names = [
        "serve-pool-potsdam",
        "twin-pool-potsdam",
        "edge-pool-potsdam-gw1",
        "edge-pool-potsdam-gw2",
    ]
    hashes = _passwd(out / "mosquitto.passwd")
    assert sorted(hashes) == sorted(names)
    for name in names:
        cred_file = out / "credentials" / f"{name}.cred"
        assert stat.S_IMODE(cred_file.stat().st_mode) == 0o600
        cred = _cred(cred_file)
        assert cred["username"] == name and len(cred["password"]) >= 40
        assert mosquitto_hash_matches(hashes[name], cred["password"])
        assert cred["password"] not in printed  # never on stdout unless asked
        assert name in printed
    assert len({_cred(out / "credentials" / f"{n}.cred")["password"] for n in names}) == 4
    for f in ("mosquitto.passwd", "mosquitto.acl"):
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "credentials").stat().st_mode) == 0o700
    acl = [ln for ln in (out / "mosquitto.acl").read_text().splitlines() if ln and ln[0] != "#"]
    assert acl == [
        "user serve-pool-potsdam",
        "topic read heatreuse/pool-potsdam/#",
        "topic write heatreuse/pool-potsdam/_ingest/status",
        "user twin-pool-potsdam",
        "topic write heatreuse/pool-potsdam/#",
        "user edge-pool-potsdam-gw1",
        "topic write heatreuse/pool-potsdam/#",
        "user edge-pool-potsdam-gw2",
        "topic write heatreuse/pool-potsdam/#",
    ]
    assert "password_file" in printed and "acl_file" in printed
    assert run(["mqtt", "credentials", str(POOL), "--out", str(out), "--show-passwords"]) == 0
    shown = capsys.readouterr().out
    assert "edge-pool-potsdam-gw1" in shown and "created" not in shown  # no default edge added
    assert "password " + _cred(out / "credentials" / "serve-pool-potsdam.cred")["password"] in shown
    assert "kept     serve-pool-potsdam" in shown


def test_without_edge_names_a_site_gets_one_edge_gw1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["mqtt", "credentials", str(GREENHOUSE), "--out", str(tmp_path)]) == 0
    assert "created  edge-greenhouse-niederrhein-gw1" in capsys.readouterr().out
    assert sorted(_passwd(tmp_path / "mosquitto.passwd")) == [
        "edge-greenhouse-niederrhein-gw1",
        "serve-greenhouse-niederrhein",
        "twin-greenhouse-niederrhein",
    ]


def test_a_second_site_keeps_the_first_and_reruns_keep_rotate_and_revoke(tmp_path: Path) -> None:
    out = tmp_path / "broker"
    pool = load_site(POOL)
    first = write_credentials(pool, out, edges=["gw1"])
    assert {p.action for p in first.principals} == {"created"}
    before = {p.name: p.password for p in first.principals}
    green = write_credentials(load_site(GREENHOUSE), out, edges=["a"], prefix="tenant-x/gh")
    acl = (out / "mosquitto.acl").read_text()
    assert "topic write heatreuse/pool-potsdam/#" in acl
    assert "user edge-greenhouse-niederrhein-a\ntopic write tenant-x/gh/#" in acl
    assert len(_passwd(out / "mosquitto.passwd")) == 6
    # the same site again with another edge: passwords kept, the new edge added
    again = write_credentials(pool, out, edges=["gw2"])
    actions = {p.name: p.action for p in again.principals}
    assert actions == {
        "serve-pool-potsdam": "kept",
        "twin-pool-potsdam": "kept",
        "edge-pool-potsdam-gw1": "kept",
        "edge-pool-potsdam-gw2": "created",
    }
    assert all(p.password == before[p.name] for p in again.principals if p.name in before)
    # a credentials file that no longer matches the broker's hash is not reported as kept
    (out / "credentials" / "twin-pool-potsdam.cred").write_text("username=x\npassword=wrong\n")
    fixed = {p.name: p for p in write_credentials(pool, out, edges=[]).principals}
    assert fixed["twin-pool-potsdam"].action == "rotated"
    hashes = _passwd(out / "mosquitto.passwd")
    assert mosquitto_hash_matches(hashes["twin-pool-potsdam"], fixed["twin-pool-potsdam"].password)
    rotated = write_credentials(pool, out, edges=[], rotate=True)
    assert {p.action for p in rotated.principals} == {"rotated"}
    hashes = _passwd(out / "mosquitto.passwd")
    for p in rotated.principals:
        assert p.password is not None and p.password != before.get(p.name)
        assert mosquitto_hash_matches(hashes[p.name], p.password)
    revoked = write_credentials(pool, out, edges=[], revoke_edges=["gw1"])
    assert ("edge-pool-potsdam-gw1", "revoked") in {(p.name, p.action) for p in revoked.principals}
    assert "edge-pool-potsdam-gw1" not in _passwd(out / "mosquitto.passwd")
    assert "edge-pool-potsdam-gw1" not in (out / "mosquitto.acl").read_text()
    assert not (out / "credentials" / "edge-pool-potsdam-gw1.cred").exists()
    assert "edge-greenhouse-niederrhein-a" in _passwd(out / "mosquitto.passwd")  # other site kept
    assert green.prefix == "tenant-x/gh"
    with pytest.raises(HeatreuseError, match="no such edge"):
        write_credentials(pool, out, edges=[], revoke_edges=["gw1"])
    with pytest.raises(HeatreuseError, match="--edge 'a b'"):
        write_credentials(pool, out, edges=["a b"])
    with pytest.raises(HeatreuseError, match="MQTT topic prefix"):
        write_credentials(pool, out, edges=[], prefix="heatreuse/+")


def test_ha_discovery_grants_exactly_the_twins_discovery_topics(tmp_path: Path) -> None:
    from heatreuse.site import expand_points
    from heatreuse.telemetry.mqtt_publish import discovery_config

    site = load_site(POOL)
    write_credentials(site, tmp_path, edges=[], ha_discovery=True)
    acl = (tmp_path / "mosquitto.acl").read_text()
    line = next(ln for ln in acl.splitlines() if "homeassistant" in ln)
    pattern = line.split()[-1].split("/")
    point = expand_points(site).points[0]
    topic, _ = discovery_config(point, prefix="p", site_id=site.id, site_name="x")
    levels = topic.split("/")
    assert len(levels) == len(pattern)
    assert all(p in ("+", t) for p, t in zip(pattern, levels, strict=True))
