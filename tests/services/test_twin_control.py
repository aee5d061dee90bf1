"""The twin's control port changes plant state: loopback by default, a token on every request."""

from __future__ import annotations

import http.client
import json
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from heatreuse.errors import AddressError, TwinError
from heatreuse.services.addresses import is_loopback_host, parse_listen_address
from heatreuse.services.twin import (
    TWIN_TOKEN_ENV,
    LiveTwin,
    TwinControlServer,
    build_live_twin,
    control_token,
    default_control_token_path,
    inject_remote,
)
from heatreuse.site import Site, load_site

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(EXAMPLE)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEATREUSE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(TWIN_TOKEN_ENV, raising=False)
    return tmp_path / "home"


def _twin(site: Site) -> LiveTwin:
    clock = pd.Timestamp("2026-10-05T12:00Z").timestamp()
    return LiveTwin(site, speed=3600, step_s=60, start="2026-10-05T06:00Z", clock=lambda: clock)


def _call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}"), dict(resp.getheaders())
    finally:
        conn.close()


def test_requests_without_or_with_a_wrong_token_get_401_and_change_nothing(
    site: Site, home: Path
) -> None:
    twin = _twin(site)
    control = TwinControlServer(twin, "127.0.0.1", 0)
    control.start()
    try:
        port = control.address[1]
        token_file = control.token_file
        assert token_file == default_control_token_path(port) and token_file.parent == home
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 40
        body = json.dumps({"scenario": "compute_trip+1h"}).encode()
        wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
        refusals = [
            {},  # no header
            {"Authorization": f"Bearer {wrong}"},  # one character off
            {"Authorization": f"Basic {token}"},  # the right secret, another scheme
            {"Authorization": "Bearer "},
            {"X-Token": token},
        ]
        for headers in refusals:
            for method, path, data in (
                ("POST", "/faults", body),
                ("DELETE", "/faults", None),
                ("GET", "/status", None),
            ):
                status, answer, resp_headers = _call(port, method, path, data, headers)
                assert status == 401, (headers, method)
                assert "Authorization: Bearer TOKEN" in answer["error"]
                assert resp_headers["WWW-Authenticate"].startswith("Bearer")
        assert twin.scenarios == []  # nothing was injected
        with pytest.raises(TwinError, match=r"token was refused \(401\)"):
            inject_remote(f"127.0.0.1:{port}", "compute_trip+1h", token=wrong)
        assert twin.scenarios == []
        # the right token works, and DELETE with a wrong one does not clear the fault
        label = inject_remote(f"127.0.0.1:{port}", "compute_trip+1h", token=token)
        assert label.startswith("compute_trip@") and len(twin.scenarios) == 1
        status, _, _ = _call(port, "DELETE", "/faults", None, {"Authorization": f"Bearer {wrong}"})
        assert status == 401 and len(twin.scenarios) == 1
        status, answer, _ = _call(
            port, "GET", "/status", None, {"Authorization": f"Bearer {token}"}
        )
        assert status == 200 and answer["faults"] == [label]
        # an oversized body is refused before it is read
        status, answer, _ = _call(
            port,
            "POST",
            "/faults",
            b"x" * 70_000,
            {"Authorization": f"Bearer {token}"},
        )
        assert status == 413 and len(twin.scenarios) == 1
    finally:
        control.close()
    assert not token_file.exists()  # a generated token dies with the endpoint


def test_token_file_option_reads_an_existing_token_or_writes_a_new_one(
    site: Site, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "my.token"
    given.write_text("s3cret-token-of-the-operator\n")
    control = TwinControlServer(_twin(site), "127.0.0.1", 0, token_file=given)
    control.start()
    try:
        port = control.address[1]
        address = f"127.0.0.1:{port}"
        # twin-inject finds it through --token-file or the environment variable
        assert control_token(address, given) == "s3cret-token-of-the-operator"
        monkeypatch.setenv(TWIN_TOKEN_ENV, "s3cret-token-of-the-operator")
        assert inject_remote(address, "compute_trip+1h", token=control_token(address)).startswith(
            "compute_trip"
        )
        monkeypatch.delenv(TWIN_TOKEN_ENV)
        with pytest.raises(TwinError, match=f"no token.*{TWIN_TOKEN_ENV}"):
            control_token(address)  # no default file: the twin used the given one
    finally:
        control.close()
    assert given.read_text() == "s3cret-token-of-the-operator\n"  # not ours to delete
    new = tmp_path / "sub" / "new.token"
    control = TwinControlServer(_twin(site), "127.0.0.1", 0, token_file=new)
    control.start()
    try:
        assert stat.S_IMODE(new.stat().st_mode) == 0o600
        assert stat.S_IMODE(new.parent.stat().st_mode) == 0o700
        assert control_token(f"127.0.0.1:{control.address[1]}", new) == new.read_text().strip()
    finally:
        control.close()
    short = tmp_path / "short.token"
    short.write_text("1234\n")
    with pytest.raises(TwinError, match="at least 16 characters"):
        TwinControlServer(_twin(site), "127.0.0.1", 0, token_file=short)
    with pytest.raises(TwinError, match="no such file"):
        control_token("127.0.0.1:1", tmp_path / "missing.token")


def test_control_port_binds_to_loopback_unless_allowed(site: Site, home: Path) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.10", "twin.example.org"):
        with pytest.raises(TwinError, match=r"loopback only.*--control-allow-remote"):
            TwinControlServer(_twin(site), host, 8765)
    # allowed explicitly (not started here: the test binds to loopback only)
    TwinControlServer(_twin(site), "0.0.0.0", 8765, allow_remote=True)
    with pytest.raises(TwinError, match="loopback only"):
        build_live_twin(site, modbus="127.0.0.1:5020", control="0.0.0.0:8765")
    live = build_live_twin(site, modbus="127.0.0.1:5020", control="8765")
    ctl = next(s for s in live.sinks if isinstance(s, TwinControlServer))
    assert (ctl.host, ctl.port) == ("127.0.0.1", 8765)
    assert parse_listen_address("0", "--control") == ("127.0.0.1", 0)
    assert parse_listen_address("[::1]:0", "--control") == ("::1", 0)
    with pytest.raises(AddressError, match="--control"):
        parse_listen_address("70000", "--control")
    assert all(is_loopback_host(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback_host(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.org"))
