"""The API through the real ``heatreuse serve --http`` on loopback: first start (the first
admin from the CLI), login with the real argon2id profile, a device pushing readings,
a token reading them back, the OpenAPI document, then a clean SIGTERM stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"
PASSWORD = "first admin password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "heatreuse.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_serve_http_serves_the_api(tmp_path: Path) -> None:
    env = {**os.environ, "HEATREUSE_HOME": str(tmp_path / "home")}
    store = f"sqlite:///{tmp_path / 'serve.db'}"
    site = "pool-potsdam"
    _cli(
        env,
        "users",
        "add",
        "root",
        "--role",
        "admin",
        "--site",
        site,
        "--password-stdin",
        "--store",
        store,
        stdin=PASSWORD + "\n",
    )
    _cli(
        env,
        "users",
        "add",
        "vera",
        "--role",
        "viewer",
        "--site",
        site,
        "--password-stdin",
        "--store",
        store,
        stdin=PASSWORD + "\n",
    )
    device = _cli(env, "devices", "add", str(EXAMPLE), "edge-1", "--store", store).strip()
    token = _cli(env, "tokens", "create", "--user", "vera", "--store", store).strip()
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heatreuse.cli.main",
            "serve",
            str(EXAMPLE),
            "--store",
            store,
            "--http",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90.0
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
            time.sleep(0.1)
        spec = httpx.get(base + "/api/v1/openapi.json").json()
        assert "/api/v1/sites/{site_id}/readings" in spec["paths"]
        assert "/api/v1/login" in spec["paths"]
        assert httpx.get(base + "/api/v1/docs").status_code == 200
        url = f"{base}/api/v1/sites/{site}/readings"
        body = {
            "readings": [
                {"point_id": "loop.pressure_bar", "ts": "2026-03-01T07:59:00Z", "value": 2.2}
            ]
        }
        assert httpx.post(url, json=body).status_code == 401
        assert (
            httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code
            == 403
        )
        r = httpx.post(url, json=body, headers={"Authorization": f"Bearer {device}"})
        assert r.status_code == 200 and r.json()["accepted"] == 1
        r = httpx.get(
            url,
            params={
                "point": "loop.pressure_bar",
                "start": "2026-03-01T07:00Z",
                "end": "2026-03-01T08:00Z",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and [x["value"] for x in r.json()["rows"]] == [2.2]
        with httpx.Client(base_url=base) as browser:
            r = browser.post("/api/v1/login", data={"name": "root", "password": PASSWORD})
            assert r.status_code == 200, r.text
            # plain http on loopback: no Secure flag (the browser would not send it back)
            assert all("Secure" not in h for h in r.headers.get_list("set-cookie"))
            csrf = r.json()["csrf_token"]
            assert browser.get(f"/api/v1/sites/{site}/audit").status_code == 200
            r = browser.post(f"/api/v1/sites/{site}/devices", json={"name": "edge-2"})
            assert r.status_code == 403  # no CSRF token
            r = browser.post(
                f"/api/v1/sites/{site}/devices",
                json={"name": "edge-2"},
                headers={"X-CSRF-Token": csrf},
            )
            assert r.status_code == 201 and r.json()["token"].startswith("hrt_")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    audit = _cli(env, "audit", "list", str(EXAMPLE), "--store", store, "--json")
    assert '"login.ok"' in audit and '"device.add"' in audit
